"""Hyper-parameter search on the validation split with Optuna (TPE sampler, median pruning).

Each trial trains the two-tower model with early stopping and is scored by the best value of
`monitor_metric`; unpromising trials are pruned after a few epochs. The leaderboard is printed
and the best settings are written as a template `config.py` the user can keep.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import keras

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.errors import ConfigError
from recsys.eval.validation import fit_on_split
from recsys.files import atomic_write_text
from recsys.log import duration, plural, say

__all__ = ["suggest", "tune", "write_config_file"]

if TYPE_CHECKING:  # optuna is optional: imported where the search runs
    from optuna.trial import FrozenTrial


def suggest(trial, config: Config, has_scores: bool, has_timestamps: bool) -> dict:
    """The searched knobs; the rest of the config is kept. Every range and choice list includes
    the config's own value, so trial 0 (the current settings) is a point of the search space."""

    def choice(name: str, options: list) -> object:
        return trial.suggest_categorical(name, sorted({*options, getattr(config, name)}))

    def between(name: str, low: float, high: float, current: float, log: bool = False) -> float:
        return trial.suggest_float(name, min(low, current), max(high, current), log=log)

    changes = {
        "embedding_dim": choice("embedding_dim", [64, 128, 256]),
        "temperature": between("temperature", 0.07, 0.3, config.temperature, log=True),
        "learning_rate": between("learning_rate", 1e-3, 1e-2, config.learning_rate, log=True),
        "batch_size": choice("batch_size", [512, 1024, 2048]),
        "embedding_l2": choice("embedding_l2", [0.0, 1e-7, 1e-6]),
        "popularity_bias": between("popularity_bias", 0.0, 1.0, config.popularity_bias),
    }
    if has_scores:
        changes["use_scores_as_weights"] = choice("use_scores_as_weights", [True, False])
        changes["score_weighting"] = choice("score_weighting", ["linear", "log"])
    if has_timestamps:
        current = config.effective_recency_weighting(True)
        changes["recency_weighting"] = between("recency_weighting", 0.0, 3.0, current)
    tower = config.user_tower
    if tower == "auto" and has_timestamps:  # 'auto' is a choice by validation: the search makes it
        tower = trial.suggest_categorical("user_tower", ["id", "history"])
        changes["user_tower"] = tower
    if tower == "history":  # the history encoder's reach and size
        changes["history_length"] = choice("history_length", [20, 50, 100])
        changes["history_blocks"] = choice("history_blocks", [0, 1])
        changes["history_heads"] = choice("history_heads", [1, 2, 4])
        changes["history_dropout"] = between("history_dropout", 0.0, 0.3, config.history_dropout)
        changes["history_time_gaps"] = choice("history_time_gaps", [False, True])
    return changes


def _trial_progress(
    done: int, trials: int, seconds: float, elapsed: float, minutes: float | None, outcome: str
) -> str:
    """One trial's line: its outcome and time, and the time the search has left (the trials still to
    run at the mean pace so far, at most the --minutes budget's rest).

    Example:
        >>> _trial_progress(2, 10, 30.0, 60.0, None, "NDCG@20 0.1234")
        'NDCG@20 0.1234 in 30 s; 8 trials left, ~4 min'
        >>> _trial_progress(2, 10, 30.0, 60.0, 3.0, "pruned")
        'pruned in 30 s; 8 trials left, at most ~2 min (the --minutes budget)'
    """
    left = trials - done
    line = f"{outcome} in {duration(seconds)}"
    if left <= 0:
        return line
    estimate = elapsed / done * left
    budget = None if minutes is None else max(minutes * 60 - elapsed, 0.0)
    if budget is not None and budget < estimate:
        return line + f"; {plural(left, 'trial')} left, at most ~{duration(budget)} (the --minutes budget)"
    return line + f"; {plural(left, 'trial')} left, ~{duration(estimate)}"


def _completed_value(trial: FrozenTrial) -> float:
    """The objective value of a trial taken from the completed ones (those with a value)."""
    assert trial.value is not None
    return trial.value


class _PruneOnMetric(keras.callbacks.Callback):
    """Reports the monitored validation metric to Optuna each epoch and stops pruned trials."""

    def __init__(self, trial, monitor: str):
        super().__init__()
        self.trial, self.monitor, self.pruned = trial, monitor, False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.pruned = True
            self.model.stop_training = True


def write_config_file(path: str, config: Config, changes: dict, score: float) -> None:
    """A template config.py: every setting that differs from the defaults, tuned ones marked."""
    defaults = Config().to_dict()
    lines = [
        f'"""Settings found by `recsys tune` (best {config.monitor_metric} on validation: {score:.4f})."""',
        "",
    ]
    for name, value in config.to_dict().items():
        if name in changes:
            lines.append(f"{name} = {value!r}  # tuned")
        elif value != defaults[name]:
            lines.append(f"{name} = {value!r}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def tune(
    experiment: Experiment, trials: int = 20, minutes: float | None = None, output: str = "config_tuned.py"
) -> tuple[Config, list]:
    """Search the main knobs within `trials` / `minutes` on the experiment's validation split;
    print the leaderboard; write the best settings as a config file."""
    try:
        import optuna
    except ImportError:
        raise ConfigError("the tune action needs Optuna: pip install optuna") from None
    config, prepared = experiment.config, experiment.prepared
    has_scores = prepared.interactions.scores is not None
    has_timestamps = prepared.interactions.timestamps is not None
    monitor = f"val_{config.monitor_metric}"

    search_started = time.perf_counter()

    def objective(trial):
        changes = suggest(trial, config, has_scores, has_timestamps)
        trial_config = config.replace(**changes)
        say(
            f"Trial {trial.number + 1}/{trials}: "
            + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in changes.items())
        )
        pruner = _PruneOnMetric(trial, monitor)
        started = time.perf_counter()
        result = fit_on_split(experiment, trial_config, log_epochs=False, extra_callbacks=[pruner])
        seconds = time.perf_counter() - started
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("seconds", seconds)
        value = result.best_metrics.get(config.monitor_metric, 0.0)
        say(
            "  "
            + _trial_progress(
                trial.number + 1,
                trials,
                seconds,
                time.perf_counter() - search_started,
                minutes,
                "pruned" if pruner.pruned else f"{config.monitor_metric} {value:.4f}",
            )
        )
        if pruner.pruned:
            raise optuna.TrialPruned()
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=config.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )
    current = {
        "embedding_dim": config.embedding_dim,
        "temperature": config.temperature,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "embedding_l2": config.embedding_l2,
        **(
            {"use_scores_as_weights": config.use_scores_as_weights, "score_weighting": config.score_weighting}
            if has_scores
            else {}
        ),
        **({"recency_weighting": config.effective_recency_weighting(True)} if has_timestamps else {}),
    }
    study.enqueue_trial(current)  # trial 0: the current settings, so the search can only improve on them
    study.optimize(objective, n_trials=trials, timeout=minutes * 60 if minutes else None)
    completed = [t for t in study.trials if t.value is not None]
    if not completed:
        raise ConfigError("no tuning trial completed; raise --trials or --minutes.")
    leaderboard = sorted(completed, key=lambda t: -_completed_value(t))
    n_pruned = len(study.trials) - len(completed)
    say(f"\nLeaderboard ({len(completed)} completed, {n_pruned} pruned), by {config.monitor_metric}:")
    for rank, trial in enumerate(leaderboard[:10], 1):
        params = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        best_epoch = trial.user_attrs.get("best_epoch")
        say(f"  {rank:>2}. {trial.value:.4f}  (trial {trial.number}, best epoch {best_epoch})  {params}")
    best = leaderboard[0]
    best_config = config.replace(**best.params)
    write_config_file(output, best_config, best.params, _completed_value(best))
    say(
        f"Wrote the best settings to {output} "
        f"(use it with --config {output}, or copy the lines into config.py)."
    )
    return best_config, leaderboard
