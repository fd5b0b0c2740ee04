"""Retrieval tasks: one object per loss family owns that loss whole, from embeddings to a number.

The model only embeds: `EmbeddingModel.call` returns `{"user": (B, d), "item": (B, d)}`, or, when
the batch carries drawn negatives, `"item"` of shape `(B, 1 + negatives, d)` with the positive in
column 0. A task turns those embeddings into logits, corrects them (log-q, accidental hits), says
what the sampler must provide (how many drawn negatives, which per-positive targets) and reduces
the per-row losses with the sample weights. Training reaches it through Keras' documented
`Model.compute_loss` hook, so `compile()` takes no `loss=`.

Why one unit: a loss used to be spread over the model (logit forms, log-q, masking), the training
set-up (negatives, MSE targets, the log-q table) and a losses module, so a new loss meant edits in
three places that had to agree. Now a new loss is one subclass here, one entry in `TASKS`, and its
name in `recsys.config.LOSSES` (the single list of loss names).

Tasks are Keras layers: their state (the in-batch softmax's log-q table) is a non-trainable weight
tracked by the model and saved with its weights, and `get_config` lets `EmbeddingModel.spec()`
rebuild them. Keras 3 only (`keras.ops`), so the same code runs on JAX, TensorFlow and PyTorch.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recsys.config import LOSSES
from recsys.data.interactions import Interactions
from recsys.errors import ConfigError, DataError

__all__ = [
    "BPR",
    "MASKED_LOGIT",
    "FullSoftmax",
    "TASKS",
    "InBatchSoftmax",
    "PointwiseMSE",
    "RetrievalTask",
    "SampledBinaryCrossEntropy",
    "SampledNegatives",
    "item_log_q",
    "make_task",
    "weighted_mean",
]

MASKED_LOGIT = -1e9  # an accidental hit's logit: exp() of it is 0 in float32


def item_log_q(train: Interactions) -> np.ndarray:
    """log of each item's share of training positives: the in-batch sampling probability (log-q).
    Items never seen count once, so the log stays finite."""
    counts = train.item_counts().astype(np.float64)
    return np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0)).astype(np.float32)


def weighted_mean(per_row, sample_weight=None):
    """Keras' "sum over batch size" reduction: sum(loss_i * w_i) / B (plain mean without weights),
    so a weight of 0 removes a row without raising the others' share."""
    if sample_weight is None:
        return ops.mean(per_row)
    weights = ops.cast(ops.reshape(sample_weight, (-1,)), per_row.dtype)
    return ops.mean(per_row * weights)


class RetrievalTask(keras.layers.Layer):
    """Base class: a loss family, from the two towers' embeddings to a weighted scalar loss.

    Subclasses implement `logits` and `per_example_loss`, and `from_settings` (how the config's
    settings choose their arguments). Overridable hooks, with defaults for tasks that need nothing:
    `num_negatives` (drawn negatives per positive the sampler must add), `adapt` (statistics of the
    training data, e.g. a log-q table) and `targets` (per-positive targets the sampler carries).
    """

    num_negatives = 0
    # Whether the task scores every item of the catalogue: the model then adds `"catalogue"`, all
    # items' embeddings (n_items, d), to what `call` returns, and every item row is trained.
    scores_catalogue = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # any state is created in __init__; the layer is never called on shapes

    @classmethod
    def from_settings(
        cls, *, n_items: int, num_negatives: int, logq_correction: bool, **kwargs
    ) -> RetrievalTask:
        """The task for these config settings (each family takes the ones it uses)."""
        raise NotImplementedError

    def adapt(self, train: Interactions) -> None:
        """Load whatever the task derives from the training interactions (nothing by default)."""

    def set_item_log_q(self, values: np.ndarray) -> None:
        """Load a log-q table (log of each item's share of training positives); tasks that do not
        correct for sampling probabilities keep none and ignore it."""

    def targets(self, train: Interactions, use_scores: bool) -> np.ndarray | None:
        """Per-positive targets for the sampler, aligned with `train`; None: the task uses none, and
        scores (if used) stay sample weights."""
        return None

    def logits(self, inputs: dict, embeddings: dict):
        """Logits from the batch's indices (`inputs`) and the model's embeddings."""
        raise NotImplementedError

    def per_example_loss(self, logits, targets):
        """One loss value per positive (per row of `logits`)."""
        raise NotImplementedError

    def settings(self) -> dict:
        """The constructor arguments that rebuild this task (`type(task)(**task.settings())`);
        plain values, gathered without Keras' serialisation (which imports TensorFlow)."""
        return {}

    def get_config(self):
        return {**super().get_config(), **self.settings()}

    def compute_loss(self, inputs: dict, embeddings: dict, targets=None, sample_weight=None):
        """The scalar training loss of a batch: per-row losses reduced with the sample weights."""
        return weighted_mean(self.per_example_loss(self.logits(inputs, embeddings), targets), sample_weight)

    def call(self, inputs, embeddings, targets=None, sample_weight=None):
        """Calling the layer is `compute_loss`."""
        return self.compute_loss(inputs, embeddings, targets, sample_weight)


@keras.saving.register_keras_serializable(package="recsys")
class InBatchSoftmax(RetrievalTask):
    """Sampled softmax over in-batch negatives: row i scores user i against every positive item of
    the batch (its own on the diagonal); the loss is -log softmax(row i)[i].

    The other positives of a batch are drawn in proportion to popularity, so without correction
    popular items are over-penalised: with `logq_correction`, log q(item) (the `item_log_q` table,
    the log of the item's share of training positives, filled by `adapt`) is subtracted from each
    column. An item appearing twice in a batch is not a negative for its other rows (accidental
    hits): those logits are masked. The temperature is already folded into the embeddings by the
    model, so a dot product is the logit.
    """

    def __init__(self, n_items: int, logq_correction: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.n_items = int(n_items)
        self.logq_correction = bool(logq_correction)
        self.item_log_q = self.add_weight(
            shape=(self.n_items,), initializer="zeros", trainable=False, name="item_log_q"
        )

    @classmethod
    def from_settings(cls, *, n_items, num_negatives, logq_correction, **kwargs):
        return cls(n_items, logq_correction=logq_correction, **kwargs)

    def adapt(self, train: Interactions) -> None:
        self.set_item_log_q(item_log_q(train))

    def set_item_log_q(self, values: np.ndarray) -> None:
        """Load the log-q table (see `item_log_q`), one value per item."""
        values = np.asarray(values, dtype="float32")
        if values.shape != (self.n_items,):
            raise DataError(f"item log-q table must be {(self.n_items,)}, got {values.shape}")
        self.item_log_q.assign(values)

    def logits(self, inputs, embeddings):
        users, items = embeddings["user"], embeddings["item"]
        if len(items.shape) != 2:
            raise DataError(
                "the in-batch softmax scores users against the batch's positives, not drawn "
                f"negatives: item embeddings must be (batch, dim), got rank {len(items.shape)}"
            )
        indices = inputs["item"]
        logits = ops.matmul(users, ops.transpose(items)) - ops.expand_dims(self._log_q(indices), 0)
        same_item = ops.equal(ops.expand_dims(indices, 1), ops.expand_dims(indices, 0))
        diagonal = ops.eye(ops.shape(indices)[0], dtype="bool")
        accidental = ops.logical_and(same_item, ops.logical_not(diagonal))
        return ops.where(accidental, ops.full_like(logits, MASKED_LOGIT), logits)

    def per_example_loss(self, logits, targets):
        return ops.logsumexp(logits, axis=1) - ops.diagonal(logits)

    def compute_loss(self, inputs, embeddings, targets=None, sample_weight=None):
        """`per_example_loss(logits(...))` reduced with the sample weights, with the diagonal (each
        row's own positive) computed as row-wise dot products instead of read off the logits: the
        gradient of a diagonal read is a batch x batch scatter, about 0.5 ms of a 7 ms training
        step at dim 64 (`benchmarks/training.py`)."""
        logits = self.logits(inputs, embeddings)
        positive = ops.sum(embeddings["user"] * embeddings["item"], axis=-1) - self._log_q(inputs["item"])
        per_row = ops.logsumexp(logits, axis=1) - positive
        return weighted_mean(per_row, sample_weight)

    def _log_q(self, indices):
        """Each item's log-q (0 without `logq_correction`), subtracted from its column's logits."""
        if not self.logq_correction:
            return ops.zeros(ops.shape(indices), dtype=self.item_log_q.dtype)
        return ops.take(self.item_log_q, indices, axis=0)

    def settings(self) -> dict:
        return {"n_items": self.n_items, "logq_correction": self.logq_correction}


@keras.saving.register_keras_serializable(package="recsys")
class FullSoftmax(RetrievalTask):
    """Softmax over the whole catalogue: row i scores user i against every item (`"catalogue"`,
    all items' embeddings, which the model adds to its outputs for this task); the loss is
    -log softmax(row i)[positive]. Nothing is sampled, so nothing needs a log-q correction.

    The cross-entropy of SASRec as Klenitskiy & Vasilev (RecSys 2023) re-evaluated it. Each step
    embeds the whole catalogue and a (batch x items) logit matrix, so it suits catalogues of up to
    some tens of thousands of items; the in-batch softmax scales to any size.

    Example:
        >>> task = FullSoftmax(n_items=3)
        >>> users = np.array([[1.0, 0.0]], "float32")
        >>> catalogue = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], "float32")
        >>> loss = task.compute_loss({"item": np.array([0])}, {"user": users, "catalogue": catalogue})
        >>> round(float(loss), 4) == round(float(np.log(np.exp(1) + 2) - 1), 4)
        True
    """

    scores_catalogue = True

    def __init__(self, n_items: int, **kwargs):
        super().__init__(**kwargs)
        self.n_items = int(n_items)

    @classmethod
    def from_settings(cls, *, n_items, num_negatives, logq_correction, **kwargs):
        return cls(n_items, **kwargs)

    def logits(self, inputs, embeddings):
        return ops.matmul(embeddings["user"], ops.transpose(embeddings["catalogue"]))

    def compute_loss(self, inputs, embeddings, targets=None, sample_weight=None):
        """logsumexp of each row's logits minus its positive's logit (read at the positives' ids,
        which `per_example_loss` is not given), reduced with the weights."""
        logits = self.logits(inputs, embeddings)
        positives = ops.expand_dims(ops.cast(inputs["item"], "int32"), 1)
        positive = ops.squeeze(ops.take_along_axis(logits, positives, axis=1), 1)
        return weighted_mean(ops.logsumexp(logits, axis=1) - positive, sample_weight)

    def settings(self) -> dict:
        return {"n_items": self.n_items}


class SampledNegatives(RetrievalTask):
    """Base of the losses that score each positive against `num_negatives` items drawn by the
    sampler: logits are (batch, 1 + negatives) dot products, the positive in column 0."""

    def __init__(self, num_negatives: int = 4, **kwargs):
        super().__init__(**kwargs)
        if int(num_negatives) < 1:
            raise ConfigError(
                f"config 'num_negatives' must be at least 1 for the {type(self).__name__} "
                f"loss, got {num_negatives}."
            )
        self.num_negatives = int(num_negatives)

    @classmethod
    def from_settings(cls, *, n_items, num_negatives, logq_correction, **kwargs):
        return cls(num_negatives=num_negatives, **kwargs)

    def logits(self, inputs, embeddings):
        users, items = embeddings["user"], embeddings["item"]
        if len(items.shape) != 3:
            raise DataError(
                f"{type(self).__name__} needs drawn negatives: item embeddings must be "
                f"(batch, 1 + negatives, dim), got rank {len(items.shape)}"
            )
        return ops.sum(ops.expand_dims(users, 1) * items, axis=-1)

    def settings(self) -> dict:
        return {"num_negatives": self.num_negatives}


@keras.saving.register_keras_serializable(package="recsys")
class SampledBinaryCrossEntropy(SampledNegatives):
    """Binary cross-entropy: the positive labelled 1, each drawn negative 0 (negatives averaged)."""

    def per_example_loss(self, logits, targets):
        # softplus(-x) = -log sigmoid(x); softplus(x) = -log(1 - sigmoid(x))
        return ops.softplus(-logits[:, 0]) + ops.mean(ops.softplus(logits[:, 1:]), axis=1)


@keras.saving.register_keras_serializable(package="recsys")
class BPR(SampledNegatives):
    """Bayesian personalised ranking: -log sigmoid(positive - negative), averaged over negatives."""

    def per_example_loss(self, logits, targets):
        margin = ops.expand_dims(logits[:, 0], 1) - logits[:, 1:]
        return ops.mean(ops.softplus(-margin), axis=1)


@keras.saving.register_keras_serializable(package="recsys")
class PointwiseMSE(SampledNegatives):
    """The seed's loss: squared error of the affinity against the positive's target and against 0
    for each drawn negative (averaged). The target is 1, or with scores the positive's score over
    the largest score (a rating-style target in [0, 1]); the scores are then targets, not weights."""

    def targets(self, train, use_scores):
        if not use_scores or train.scores is None:
            return None
        return (train.scores / max(float(train.scores.max()), 1e-9)).astype(np.float32)

    def per_example_loss(self, logits, targets):
        if targets is None:
            target = ops.ones_like(logits[:, 0])
        else:
            target = ops.cast(ops.reshape(targets, (-1,)), logits.dtype)
        return ops.square(logits[:, 0] - target) + ops.mean(ops.square(logits[:, 1:]), axis=1)


# Config loss name -> task class; its keys are exactly `recsys.config.LOSSES` (a test checks).
TASKS: dict[str, type[RetrievalTask]] = {
    "softmax": InBatchSoftmax,
    "full_softmax": FullSoftmax,
    "bce": SampledBinaryCrossEntropy,
    "bpr": BPR,
    "mse": PointwiseMSE,
}


def make_task(name: str, n_items: int, num_negatives: int = 4, logq_correction: bool = True) -> RetrievalTask:
    """The task for a config loss name (`config.loss`); a clear error for anything else."""
    if name not in TASKS:
        raise ConfigError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}.")
    return TASKS[name].from_settings(
        n_items=n_items, num_negatives=num_negatives, logq_correction=logq_correction, name=f"{name}_task"
    )
