"""Training losses, one per config choice, all as Keras losses on the model's training outputs.

`y_true` is unused by the ranking losses (the positive's place is fixed by construction: the
diagonal of the in-batch logit matrix, or column 0 of sampled candidates) except by 'mse', where
it carries the positive's target. Score weights arrive as Keras sample weights.
"""

from __future__ import annotations

import keras
from keras import ops

from recsys.config import LOSSES
from recsys.errors import ConfigError


class InBatchSoftmax(keras.losses.Loss):
    """Sampled softmax over in-batch negatives: -log softmax(row i)[i] per user i.

    The model already applied the temperature, the log-q correction and accidental-hit masking.
    """

    def call(self, y_true, y_pred):
        diagonal = ops.diagonal(y_pred)
        return ops.logsumexp(y_pred, axis=1) - diagonal


class SampledBinaryCrossEntropy(keras.losses.Loss):
    """Binary cross-entropy: the positive (column 0) labelled 1, sampled negatives labelled 0."""

    def call(self, y_true, y_pred):
        positive = y_pred[:, 0]
        negatives = y_pred[:, 1:]
        # softplus(-x) = -log sigmoid(x); softplus(x) = -log(1 - sigmoid(x))
        return ops.softplus(-positive) + ops.mean(ops.softplus(negatives), axis=1)


class BPR(keras.losses.Loss):
    """Bayesian personalised ranking: -log sigmoid(positive - negative), averaged over negatives."""

    def call(self, y_true, y_pred):
        margin = ops.expand_dims(y_pred[:, 0], 1) - y_pred[:, 1:]
        return ops.mean(ops.softplus(-margin), axis=1)


class PointwiseMSE(keras.losses.Loss):
    """The seed's loss: squared error of the affinity against 1 for positives (or the positive's
    normalised score, carried in `y_true`) and 0 for sampled negatives."""

    def call(self, y_true, y_pred):
        target = ops.cast(ops.reshape(y_true, (-1,)), y_pred.dtype)
        positive_error = ops.square(y_pred[:, 0] - target)
        negative_error = ops.mean(ops.square(y_pred[:, 1:]), axis=1)
        return positive_error + negative_error


def make_loss(name: str) -> keras.losses.Loss:
    """The loss object for a config name; a clear error for anything else."""
    losses = {"softmax": InBatchSoftmax, "bce": SampledBinaryCrossEntropy, "bpr": BPR, "mse": PointwiseMSE}
    if name not in losses:
        raise ConfigError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}.")
    return losses[name](name=f"{name}_loss")
