"""Training: build the two-tower model from the config, fit it with Keras callbacks, and evaluate it
with full-ranking metrics every epoch (early stopping and checkpoints watch a ranking metric).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import keras
import scipy.sparse as sp

from recsys.evaluation import embedding_scorer, evaluate, format_metrics
from recsys.interactions import Interactions
from recsys.log import say
from recsys.losses import make_loss
from recsys.model import EmbeddingModel, compute_embeddings
from recsys.sampling import InteractionDataset, positive_weights


@dataclass
class TrainingResult:
    model: EmbeddingModel
    history: dict = field(default_factory=dict)  # metric name -> list per epoch
    best_epoch: int | None = None  # 1-based epoch whose weights the model holds
    best_metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


def item_log_q(train: Interactions) -> np.ndarray:
    """log of each item's share of training positives: the in-batch sampling probability (log-q)."""
    counts = train.item_counts().astype(np.float64)
    return np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0)).astype(np.float32)


def build_model(config, n_users: int, n_items: int, user_features: np.ndarray | None, item_features: np.ndarray | None,
                train: Interactions) -> EmbeddingModel:
    """An EmbeddingModel shaped by the config, with its constant tables (features, log-q) loaded."""
    use_user = user_features is not None and config.use_user_features
    use_item = item_features is not None and config.use_item_features
    model = EmbeddingModel(
        num_users=n_users, num_items=n_items, embedding_dim=config.embedding_dim,
        user_feature_dim=user_features.shape[1] if use_user else 0,
        item_feature_dim=item_features.shape[1] if use_item else 0,
        hidden_dim=config.feature_hidden_dim, normalize=config.normalize_embeddings,
        temperature=config.temperature, loss=config.loss, logq_correction=config.logq_correction,
        embedding_l2=config.embedding_l2, seed=config.seed, id_dropout=config.id_dropout,
    )
    model.build()
    model.set_tables(user_features if use_user else None, item_features if use_item else None, item_log_q(train))
    return model


def make_dataset(train: Interactions, config) -> InteractionDataset:
    recency = config.effective_recency_weighting(train.timestamps is not None)
    weights = positive_weights(train, config.use_scores_as_weights, recency)
    targets = None
    if config.loss == "mse" and train.scores is not None and config.use_scores_as_weights:
        targets = train.scores / max(float(train.scores.max()), 1e-9)  # seed-style rating target in [0, 1]
        weights = np.ones_like(weights)
    return InteractionDataset(
        train, batch_size=config.batch_size, num_negatives=0 if config.loss == "softmax" else config.num_negatives,
        negative_sampling=config.negative_sampling, weights=weights, targets=targets, seed=config.seed,
    )


class RankingMetrics(keras.callbacks.Callback):
    """Computes full-catalogue ranking metrics on held-out interactions after each epoch and adds
    them to the logs as `val_<metric>` (so EarlyStopping/ModelCheckpoint can monitor them)."""

    def __init__(self, train_matrix: sp.csr_matrix, heldout_matrix: sp.csr_matrix, ks: list[int],
                 shown: list[str], baseline: dict | None = None):
        super().__init__()
        self.train_matrix, self.heldout_matrix, self.ks = train_matrix, heldout_matrix, ks
        self.shown, self.baseline = shown, baseline

    def on_epoch_end(self, epoch, logs=None):
        metrics = evaluate_model(self.model, self.train_matrix, self.heldout_matrix, self.ks)
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in metrics.items() if name != "users"})
        line = f"  epoch {epoch + 1}: {format_metrics(metrics, self.shown)}"
        if self.baseline:
            line += f"   | most-popular: {format_metrics(self.baseline, self.shown)}"
        say(line)


def evaluate_model(model: EmbeddingModel, train_matrix: sp.csr_matrix, heldout_matrix: sp.csr_matrix, ks: list[int]) -> dict:
    users = compute_embeddings(model, "user")
    items = compute_embeddings(model, "item")
    return evaluate(embedding_scorer(users, items), train_matrix, heldout_matrix, ks)


def learning_rate_schedule(config, steps_per_epoch: int):
    """Cosine decay over `max_epochs` (the same horizon for validation and production runs)."""
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=max(1, steps_per_epoch * config.max_epochs), alpha=0.05
    )


def fit(model: EmbeddingModel, train: Interactions, config, validation: Interactions | None = None,
        epochs: int | None = None, checkpoint_path: str | Path | None = None, baseline: dict | None = None,
        verbose: int | str = "auto", extra_callbacks: list | None = None) -> TrainingResult:
    """Train `model` on `train`. With `validation`, ranking metrics are computed every epoch, training
    stops early on `config.monitor_metric` and the best epoch's weights are restored."""
    keras.utils.set_random_seed(config.seed)
    dataset = make_dataset(train, config)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(config, len(dataset))),
                  loss=make_loss(config.loss))
    callbacks = []
    monitor = f"val_{config.monitor_metric}"
    if validation is not None:
        train_matrix = train.user_item_matrix()
        heldout = validation.user_item_matrix()
        shown = [f"{m}@{k}" for k in config.metrics_k for m in ("Recall", "NDCG")]
        callbacks.append(RankingMetrics(train_matrix, heldout, list(config.metrics_k), shown, baseline))
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=config.early_stopping_patience,
                                                       restore_best_weights=True, verbose=0))
        if checkpoint_path:
            Path(checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
            callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint_path), monitor=monitor, mode="max",
                                                             save_best_only=True, save_weights_only=True, verbose=0))
    callbacks += extra_callbacks or []
    started = time.perf_counter()
    history = model.fit(dataset, epochs=epochs or config.max_epochs, callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - started
    result = TrainingResult(model, {k: [float(v) for v in vs] for k, vs in history.history.items()}, seconds=seconds)
    if validation is not None and result.history.get(monitor):
        values = result.history[monitor]
        best = int(np.argmax(values))
        result.best_epoch = best + 1
        result.best_metrics = {k[4:]: vs[best] for k, vs in result.history.items() if k.startswith("val_")}
    else:
        result.best_epoch = len(result.history.get("loss", [])) or None
    return result
