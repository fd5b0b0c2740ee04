"""Training: build the two-tower model from the config and fit it with Keras callbacks: on every
interaction for a number of epochs, or with validation metrics after every epoch (early stopping
and the checkpoint then watch the monitored metric, and the best epoch's weights are restored).

The validation metrics come from an `EpochMetrics` callback (`recsys.model.callbacks`), whose
function computes them: full-catalogue ranking metrics on a validation split, given by
`recsys.eval.validation.fit_with_validation`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.data.interactions import Interactions
from recsys.data.sequences import UserSequences, age_boundaries, gap_buckets
from recsys.data.weighting import SCORE_WEIGHTINGS, choose_score_weighting, positive_weights
from recsys.errors import ConfigError
from recsys.log import plural, say, warn
from recsys.model import distribution, row_sparse
from recsys.model.callbacks import BestCheckpoint, EpochLog, EpochMetrics
from recsys.model.sampling import InteractionDataset
from recsys.model.tasks import RetrievalTask, make_task
from recsys.model.towers import EmbeddingModel

__all__ = [
    "TrainingResult",
    "build_model",
    "check_finite_loss",
    "compile_for_training",
    "fit",
    "fit_on_all",
    "learning_rate_schedule",
    "make_dataset",
    "seed_training",
    "task_from_config",
]


@dataclass
class TrainingResult:
    model: EmbeddingModel
    history: dict = field(default_factory=dict)  # metric name -> list per epoch
    best_epoch: int | None = None  # 1-based epoch whose weights the model holds
    best_metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


FULL_SOFTMAX_WARN_BYTES = 2**30  # a step's logits above this: the full softmax warns


def task_from_config(config: Config, n_items: int) -> RetrievalTask:
    """The retrieval task (`recsys.model.tasks`) that owns the config's loss; for the full softmax
    over a catalogue whose logits (batch x items) pass a gigabyte a step, a warning."""
    if config.loss == "full_softmax" and config.batch_size * n_items * 4 > FULL_SOFTMAX_WARN_BYTES:
        warn(
            f"loss 'full_softmax' scores all {n_items:,} items for each of a batch's {config.batch_size} "
            f"positives ({config.batch_size * n_items * 4 / 2**30:.1f} GiB of logits a step): "
            "loss = 'softmax' (the in-batch softmax) suits a catalogue this large."
        )
    return make_task(
        config.loss, n_items, num_negatives=config.num_negatives, logq_correction=config.logq_correction
    )


def build_model(
    config: Config,
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


def _build(config: Config, n_users, n_items, user_table, item_table, train: Interactions) -> EmbeddingModel:
    task = task_from_config(config, n_items)
    user_tower = config.effective_user_tower()
    model = EmbeddingModel(
        n_users=n_users,
        n_items=n_items,
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
        user_tower=user_tower,
        history_length=config.history_length,
        history_blocks=config.history_blocks,
        history_heads=config.history_heads,
        history_dropout=config.history_dropout,
        history_shares_items=config.history_shares_items,
        history_time_gaps=config.history_time_gaps and train.timestamps is not None,
    )
    model.build()
    tables: dict = {}
    if user_tower == "history":  # each known user's latest items: the history a known user is served by
        sequences = UserSequences.of(train)
        tables["user_histories"] = sequences.last_windows(config.history_length)
        if model.history_time_gaps:  # bucket edges from the known users' windows, kept in the model
            ages = sequences.last_ages(config.history_length)
            boundaries = age_boundaries(ages)
            tables.update(user_gaps=gap_buckets(ages, boundaries), gap_boundaries=boundaries)
    model.set_tables(user_table, item_table, **tables)
    task.adapt(train)
    return model


def make_dataset(
    train: Interactions,
    config: Config,
    task: RetrievalTask | None = None,
    gap_boundaries: np.ndarray | None = None,
) -> InteractionDataset:
    """Training batches for the config's loss: its task (the model's, or one made from the config)
    says how many negatives to draw and which targets to carry. Scores a task takes as targets are
    not also used as weights. `gap_boundaries`: the history tower's age bucket edges, the model's
    own (`EmbeddingModel.gap_boundaries`), for batches that carry the windows' time gaps."""
    task = task or task_from_config(config, train.n_items)
    targets = task.targets(train, config.use_scores_as_weights)
    recency = config.effective_recency_weighting(train.timestamps is not None)
    weights = positive_weights(
        train, config.use_scores_as_weights and targets is None, recency, config.score_weighting
    )
    sequences = UserSequences.of(train) if config.effective_user_tower() == "history" else None
    return InteractionDataset(
        train,
        sequences=sequences,
        history_length=config.history_length,
        gap_boundaries=None if sequences is None else gap_boundaries,
        batch_size=config.batch_size,
        num_negatives=task.num_negatives,
        negative_sampling=config.negative_sampling,
        weights=weights,
        targets=targets,
        seed=config.seed,
        full_batches=config.distribution != "none",
    )


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


def fit_on_all(
    experiment: Experiment, epochs: int, config: Config | None = None, **options: Any
) -> TrainingResult:
    """A new model for the experiment's data, trained on every interaction for `epochs` epochs (no
    validation: the production model, and `Recommender.fit`'s final model). `config` replaces the
    experiment's model settings (e.g. the user tower a validation run chose)."""
    config = config or experiment.config
    prepared, features = experiment.prepared, experiment.features
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


def learning_rate_schedule(config: Config, steps_per_epoch: int):
    """Cosine decay over `max_epochs` (the same horizon for validation and production runs)."""
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, steps_per_epoch * config.max_epochs), alpha=0.05
    )


def compile_for_training(
    model: EmbeddingModel, config: Config, steps_per_epoch: int, sparse: bool | None = None
) -> None:
    """Compile `model` as `fit` trains it: Adam on the cosine schedule, row-sparse on JAX
    (`recsys.model.row_sparse.make_optimizer`; `sparse` overrides `config.sparse_table_updates`), inside
    the config's distribution scope. Benchmarks call it to time exactly what `fit` runs."""
    schedule = learning_rate_schedule(config, steps_per_epoch)
    sparse = config.sparse_table_updates if sparse is None else sparse
    with distribution.scope(config):
        model.compile(optimizer=row_sparse.make_optimizer(model, schedule, sparse))


def fit(
    model: EmbeddingModel,
    train: Interactions,
    config: Config,
    *,
    epochs: int | None = None,
    epoch_metrics: EpochMetrics | None = None,
    checkpoint_path: str | Path | None = None,
    baseline: dict | None = None,
    log_epochs: bool = True,
    extra_callbacks: list | None = None,
) -> TrainingResult:
    """Train `model` on `train`.

    Args:
        model: A model from `build_model`.
        train: The interactions to train on.
        config: The run's settings (batch size, learning rate, loss, epochs, early stopping).
        epochs: Epochs to train; default `config.max_epochs`.
        epoch_metrics: Validation metrics after every epoch (`recsys.eval.validation` makes it):
            training then stops early on `config.monitor_metric` and the best epoch's weights are
            restored. None: no validation.
        checkpoint_path: Where the best epoch's weights are saved as they improve (with
            `epoch_metrics` only).
        baseline: Most-popular's metrics, printed once above the epoch lines.
        log_epochs: False trains silently (compare and tune print one line per model instead).
        extra_callbacks: More Keras callbacks (a tuning trial's pruner).

    Returns:
        The `TrainingResult`: the model, its per-epoch history, the best epoch and its metrics.

    Raises:
        ConfigError: the loss diverged (no model should be saved).
    """
    seed_training(config.seed)
    dataset = make_dataset(train, config, model.task, model.gap_boundaries())
    if log_epochs and train.scores is not None and config.use_scores_as_weights:
        kind, reason = choose_score_weighting(train.scores, config.score_weighting)
        say(f"  scores weigh positives {SCORE_WEIGHTINGS[kind]} ({reason}).")
        n_zero = int(np.count_nonzero(train.scores == 0))
        if n_zero:
            say(
                f"  {plural(n_zero, 'interaction')} with a score of 0 weigh as the lowest positive score "
                "(zero_scores='keep'; 'drop' removes them)."
            )
    compile_for_training(model, config, len(dataset))
    # A non-finite loss stops training at once (and is refused below): NaN weights must never be
    # evaluated, checkpointed or saved.
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN(), row_sparse.CatchUp()]
    monitor = f"val_{config.monitor_metric}"
    if epoch_metrics is not None:
        callbacks.append(epoch_metrics)
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
                config.monitor_metric if epoch_metrics is not None else None,
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
    if epoch_metrics is not None and result.history.get(monitor):
        # The epoch early stopping restored: the last one that beat the best by min_delta.
        best = early_stopping.best_epoch
        result.best_epoch = best + 1
        result.best_metrics = {k[4:]: vs[best] for k, vs in result.history.items() if k.startswith("val_")}
    else:
        result.best_epoch = len(result.history.get("loss", [])) or None
    return result
