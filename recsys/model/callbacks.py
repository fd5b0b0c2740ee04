"""The callbacks a training run uses besides Keras' own: validation metrics after every epoch
(`EpochMetrics`), a checkpoint of the epoch early stopping keeps (`BestCheckpoint`) and one log line
per epoch (`EpochLog`).

`EpochMetrics` does not know how the metrics are computed: it calls the function it is given
(`recsys.eval.validation` gives it full-catalogue ranking metrics), so the model layer needs no
evaluation code.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from recsys.log import duration, say, stdout_is_terminal, verbosity
from recsys.metric_names import format_metrics

__all__ = ["BestCheckpoint", "EpochLog", "EpochMetrics"]


class EpochMetrics(keras.callbacks.Callback):
    """Adds validation metrics to the logs after each epoch as `val_<metric>` (so that EarlyStopping
    and checkpoints can monitor them): `evaluate(model)` returns them by name.

    Args:
        evaluate: The model -> {metric name: value} (a `"users"` count is left out of the logs).
        names: The names `evaluate` returns, filled with NaN after an epoch whose loss diverged.
    """

    def __init__(self, evaluate: Callable[[keras.Model], dict], names: list[str]):
        super().__init__()
        self.evaluate, self.names = evaluate, list(names)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not np.isfinite((logs or {}).get("loss", 0.0)):
            # Diverged: TerminateOnNaN stops the run and fit() reports it. NaN metrics keep early
            # stopping and checkpoints quiet (they never improve on NaN) instead of warning.
            if logs is not None:
                logs.update({f"val_{name}": float("nan") for name in self.names})
            return
        metrics = self.evaluate(self.model)
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in metrics.items() if name != "users"})


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the weights whenever `early_stopping` has just counted an improvement, so the file
    always holds the epoch that early stopping restores (Keras' ModelCheckpoint knows no
    min_delta). Must come after `early_stopping` in the callback list."""

    def __init__(self, path: str | Path, early_stopping: keras.callbacks.EarlyStopping):
        super().__init__()
        self.path, self.early_stopping = Path(path), early_stopping

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.early_stopping.best_epoch == epoch:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(str(self.path), overwrite=True)


class EpochLog(keras.callbacks.Callback):
    """One line per epoch: loss, the shown validation metrics, seconds, and a `*` when the
    monitored metric improves; most-popular's metrics once before, in the same columns. On a
    terminal, a live batch counter is redrawn in place during the epoch and erased before the line;
    a redirected log gets the lines alone. From the third epoch each line ends with an estimate of
    the time left (the last epochs' mean time times the epochs still to run; with early stopping,
    "at most": it may stop sooner)."""

    REDRAW_SECONDS = 0.25

    def __init__(
        self,
        shown: list[str],
        baseline: dict | None = None,
        monitor: str | None = None,
        min_delta: float = 0.0,
    ):
        super().__init__()
        self.shown, self.baseline, self.monitor, self.min_delta = shown, baseline, monitor, min_delta
        self.live = stdout_is_terminal() and verbosity() >= 1
        self.best = -np.inf
        self.started = self.drawn = 0.0
        self.epoch_seconds: list[float] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.baseline:  # once, in the epoch lines' columns: the bar every epoch must clear
            width = len(
                f"  epoch {self.params.get('epochs', '?')}/{self.params.get('epochs', '?')}: loss 0.0000"
            )
            say(f"{'  most-popular:':<{width}}  {format_metrics(self.baseline, self.shown)}")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = self.drawn = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        if self.live and now - self.drawn >= self.REDRAW_SECONDS:
            self.drawn = now
            loss = (logs or {}).get("loss")
            text = f"  batch {batch + 1}/{self.params.get('steps') or '?'}" + (
                f"  loss {loss:.4f}" if loss else ""
            )
            sys.stdout.write("\r" + text)
            sys.stdout.flush()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.live:
            sys.stdout.write("\r\x1b[2K")  # erase the batch counter
        epochs = self.params.get("epochs", "?")
        shown = self.shown if verbosity() < 2 else [k[4:] for k in logs if k.startswith("val_")]
        metrics = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        line = f"  epoch {epoch + 1:>{len(str(epochs))}}/{epochs}: loss {logs.get('loss', float('nan')):.4f}"
        if metrics:
            line += "  " + format_metrics(metrics, shown)
        seconds = time.perf_counter() - self.started
        self.epoch_seconds.append(seconds)
        line += f"  ({seconds:.1f} s)"
        value = logs.get(f"val_{self.monitor}") if self.monitor else None
        if value is not None and value - self.min_delta > self.best:
            self.best = value
            line += " *"
        left = (epochs - epoch - 1) if isinstance(epochs, int) else 0
        if left > 0 and len(self.epoch_seconds) >= 3:  # the first epoch compiles: not a fair sample
            estimate = float(np.mean(self.epoch_seconds[1:][-5:])) * left
            line += f"  {'at most ' if self.monitor else ''}~{duration(estimate)} left"
        say(line)
