"""Training: build the two-tower model from the config, fit it with Keras callbacks, and evaluate it
with full-ranking metrics every epoch (early stopping and checkpoints watch a ranking metric).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import scipy.sparse as sp

from recsys import distribution, row_sparse
from recsys.config import Config
from recsys.errors import ConfigError
from recsys.evaluation import embedding_scorer, evaluate, format_metrics
from recsys.interactions import Interactions
from recsys.log import say, stdout_is_terminal, verbosity
from recsys.metrics import metric_names
from recsys.model import EmbeddingModel, compute_embeddings
from recsys.retrieval import RetrievalTask, make_task
from recsys.sampling import InteractionDataset
from recsys.weighting import SCORE_WEIGHTINGS, choose_score_weighting, positive_weights

if TYPE_CHECKING:  # only for annotations: the experiment sits above training
    from recsys.experiment import Experiment


@dataclass
class TrainingResult:
    model: EmbeddingModel
    history: dict = field(default_factory=dict)  # metric name -> list per epoch
    best_epoch: int | None = None  # 1-based epoch whose weights the model holds
    best_metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


def task_from_config(config, n_items: int) -> RetrievalTask:
    """The retrieval task (`recsys.retrieval`) that owns the config's loss."""
    return make_task(
        config.loss, n_items, num_negatives=config.num_negatives, logq_correction=config.logq_correction
    )


def build_model(
    config,
    n_users: int,
    n_items: int,
    user_features: np.ndarray | None,
    item_features: np.ndarray | None,
    train: Interactions,
) -> EmbeddingModel:
    """An EmbeddingModel shaped by the config, with its constant tables loaded: the features, and
    whatever its task derives from the training interactions (the softmax's log-q table)."""
    user_table = user_features if user_features is not None and config.use_user_features else None
    item_table = item_features if item_features is not None and config.use_item_features else None
    with distribution.scope(config):  # variables laid out over the devices, if distributed
        return _build(config, n_users, n_items, user_table, item_table, train)


def _build(config, n_users, n_items, user_table, item_table, train: Interactions) -> EmbeddingModel:
    task = task_from_config(config, n_items)
    model = EmbeddingModel(
        num_users=n_users,
        num_items=n_items,
        embedding_dim=config.embedding_dim,
        user_feature_dim=user_table.shape[1] if user_table is not None else 0,
        item_feature_dim=item_table.shape[1] if item_table is not None else 0,
        hidden_dim=config.feature_hidden_dim,
        normalize=config.normalize_embeddings,
        temperature=config.temperature,
        task=task,
        embedding_l2=config.embedding_l2,
        seed=config.seed,
        id_dropout=config.id_dropout,
        row_multiple=distribution.row_multiple(config),
    )
    model.build()
    model.set_tables(user_table, item_table)
    task.adapt(train)
    return model


def make_dataset(train: Interactions, config, task: RetrievalTask | None = None) -> InteractionDataset:
    """Training batches for the config's loss: its task (the model's, or one made from the config)
    says how many negatives to draw and which targets to carry. Scores a task takes as targets are
    not also used as weights."""
    task = task or task_from_config(config, train.n_items)
    targets = task.targets(train, config.use_scores_as_weights)
    recency = config.effective_recency_weighting(train.timestamps is not None)
    weights = positive_weights(
        train, config.use_scores_as_weights and targets is None, recency, config.score_weighting
    )
    return InteractionDataset(
        train,
        batch_size=config.batch_size,
        num_negatives=task.num_negatives,
        negative_sampling=config.negative_sampling,
        weights=weights,
        targets=targets,
        seed=config.seed,
        full_batches=config.distribution != "none",
    )


class RankingMetrics(keras.callbacks.Callback):
    """Computes full-catalogue ranking metrics on held-out interactions after each epoch and adds
    them to the logs as `val_<metric>` (so EarlyStopping/ModelCheckpoint can monitor them)."""

    def __init__(self, train_matrix: sp.csr_matrix, heldout_matrix: sp.csr_matrix, ks: list[int]):
        super().__init__()
        self.train_matrix, self.heldout_matrix, self.ks = train_matrix, heldout_matrix, ks

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not np.isfinite((logs or {}).get("loss", 0.0)):
            # Diverged: TerminateOnNaN stops the run and fit() reports it. NaN metrics keep early
            # stopping and checkpoints quiet (they never improve on NaN) instead of warning.
            if logs is not None:
                logs.update({f"val_{name}": float("nan") for name in metric_names(self.ks)})
            return
        metrics = evaluate_model(self.model, self.train_matrix, self.heldout_matrix, self.ks)
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
    a redirected log gets the lines alone."""

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
        line += f"  ({time.perf_counter() - self.started:.1f} s)"
        value = logs.get(f"val_{self.monitor}") if self.monitor else None
        if value is not None and value - self.min_delta > self.best:
            self.best = value
            line += " *"
        say(line)


def evaluate_model(
    model: EmbeddingModel, train_matrix: sp.csr_matrix, heldout_matrix: sp.csr_matrix, ks: list[int]
) -> dict:
    users = compute_embeddings(model, "user")
    items = compute_embeddings(model, "item")
    return evaluate(embedding_scorer(users, items), train_matrix, heldout_matrix, ks)


def check_finite_loss(losses: list, config: Config) -> None:
    """Raise a ConfigError when training diverged (a NaN or infinite loss in any epoch), naming the
    epoch and the settings to change: a diverged model must not replace a good bundle."""
    bad = [epoch for epoch, value in enumerate(losses, 1) if not np.isfinite(value)]
    if bad:
        raise ConfigError(
            f"training diverged: the loss became {losses[bad[0] - 1]} in epoch {bad[0]}, "
            "so no model was saved. "
            f"Lower learning_rate (now {config.learning_rate:g}), or check the scores for extreme values."
        )


def fit_on_split(
    experiment: Experiment, config: Config | None = None, with_features: bool = True, **options: Any
) -> TrainingResult:
    """A new model for the experiment's data, trained on its training split with ranking metrics on
    its validation split every epoch (early stopping, best weights restored).

    `config` replaces the experiment's model settings (a tuning trial); `with_features=False` trains
    ids only (compare's baseline row); `options` go to `fit` (checkpoint_path, baseline, log_epochs,
    extra_callbacks). The experiment's matrices are reused, never rebuilt.
    """
    config = config or experiment.config
    prepared, split, features = experiment.prepared, experiment.split, experiment.features
    model = build_model(
        config,
        prepared.n_users,
        prepared.n_items,
        features.user_matrix if with_features else None,
        features.item_matrix if with_features else None,
        split.train,
    )
    return fit(
        model,
        split.train,
        config,
        validation=split.validation,
        train_matrix=experiment.train_matrix,
        validation_matrix=experiment.validation_matrix,
        **options,
    )


def fit_on_all(experiment: Experiment, epochs: int, **options: Any) -> TrainingResult:
    """A new model for the experiment's data, trained on every interaction for `epochs` epochs (no
    validation: the production model, and `Recommender.fit`'s final model)."""
    config, prepared, features = experiment.config, experiment.prepared, experiment.features
    model = build_model(
        config,
        prepared.n_users,
        prepared.n_items,
        features.user_matrix,
        features.item_matrix,
        prepared.interactions,
    )
    return fit(model, prepared.interactions, config, epochs=epochs, **options)


def seed_training(seed: int) -> None:
    """Seed the global generators a training run may touch. The model's own randomness (initialisers,
    id dropout) and the sampler's are seeded explicitly, so on JAX and PyTorch this covers the rest;
    `keras.utils.set_random_seed` is used on TensorFlow only, because elsewhere it would import
    TensorFlow (when installed) just to seed it, and fill the log with TensorFlow's start-up lines."""
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator, for any library code that uses it
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def learning_rate_schedule(config, steps_per_epoch: int):
    """Cosine decay over `max_epochs` (the same horizon for validation and production runs)."""
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, steps_per_epoch * config.max_epochs), alpha=0.05
    )


def compile_for_training(
    model: EmbeddingModel, config, steps_per_epoch: int, sparse: bool | None = None
) -> None:
    """Compile `model` as `fit` trains it: Adam on the cosine schedule, row-sparse on JAX
    (`recsys.row_sparse.make_optimizer`; `sparse` overrides `config.sparse_table_updates`), inside
    the config's distribution scope. Benchmarks call it to time exactly what `fit` runs."""
    schedule = learning_rate_schedule(config, steps_per_epoch)
    sparse = config.sparse_table_updates if sparse is None else sparse
    with distribution.scope(config):
        model.compile(optimizer=row_sparse.make_optimizer(model, schedule, sparse))


def fit(
    model: EmbeddingModel,
    train: Interactions,
    config,
    validation: Interactions | None = None,
    epochs: int | None = None,
    checkpoint_path: str | Path | None = None,
    baseline: dict | None = None,
    train_matrix: sp.csr_matrix | None = None,
    validation_matrix: sp.csr_matrix | None = None,
    log_epochs: bool = True,
    extra_callbacks: list | None = None,
) -> TrainingResult:
    """Train `model` on `train`. With `validation`, ranking metrics are computed every epoch, training
    stops early on `config.monitor_metric` and the best epoch's weights are restored.

    `train_matrix` / `validation_matrix` are the users x items matrices of `train` / `validation`
    when the caller already has them (an `Experiment` does), so they are not built again.
    `log_epochs=False` trains silently (compare and tune print one line per model instead).
    """
    seed_training(config.seed)
    dataset = make_dataset(train, config, model.task)
    if log_epochs and train.scores is not None and config.use_scores_as_weights:
        kind, reason = choose_score_weighting(train.scores, config.score_weighting)
        say(f"  scores weigh positives {SCORE_WEIGHTINGS[kind]} ({reason}).")
    compile_for_training(model, config, len(dataset))
    # A non-finite loss stops training at once (and is refused below): NaN weights must never be
    # evaluated, checkpointed or saved.
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN(), row_sparse.CatchUp()]
    monitor = f"val_{config.monitor_metric}"
    if validation is not None:
        train_matrix = train.user_item_matrix() if train_matrix is None else train_matrix
        heldout = validation.user_item_matrix() if validation_matrix is None else validation_matrix
        callbacks.append(RankingMetrics(train_matrix, heldout, list(config.metrics_k)))
        early_stopping = keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode="max",
            patience=config.early_stopping_patience,
            min_delta=config.early_stopping_min_delta,
            restore_best_weights=True,
            verbose=0,
        )
        callbacks.append(early_stopping)
        if checkpoint_path:
            callbacks.append(BestCheckpoint(checkpoint_path, early_stopping))
    if log_epochs:
        shown = [f"{m}@{k}" for k in config.metrics_k for m in ("Recall", "NDCG")]
        callbacks.append(
            EpochLog(
                shown,
                baseline,
                config.monitor_metric if validation is not None else None,
                config.early_stopping_min_delta,
            )
        )
    callbacks += extra_callbacks or []
    started = time.perf_counter()
    with distribution.scope(config):
        history = model.fit(dataset, epochs=epochs or config.max_epochs, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - started
    check_finite_loss(history.history.get("loss", []), config)
    result = TrainingResult(
        model, {k: [float(v) for v in vs] for k, vs in history.history.items()}, seconds=seconds
    )
    if validation is not None and result.history.get(monitor):
        # The epoch early stopping restored: the last one that beat the best by min_delta.
        best = early_stopping.best_epoch
        result.best_epoch = best + 1
        result.best_metrics = {k[4:]: vs[best] for k, vs in result.history.items() if k.startswith("val_")}
    else:
        result.best_epoch = len(result.history.get("loss", [])) or None
    return result
