"""Each loss against a direct numpy computation."""

import numpy as np
import pytest
from keras import ops

from recsys.errors import ConfigError
from recsys.losses import make_loss

LOGITS = np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0], [1.0, 1.0, 1.0]], dtype="float32")


def value(loss_name, y_pred, y_true=None, weights=None):
    y_true = np.zeros(len(y_pred), "float32") if y_true is None else y_true
    loss = make_loss(loss_name)
    return float(ops.convert_to_numpy(loss(y_true, y_pred, sample_weight=weights)))


def test_in_batch_softmax_is_cross_entropy_on_the_diagonal():
    expected = np.mean([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(LOGITS)])
    assert value("softmax", LOGITS) == pytest.approx(expected, rel=1e-5)


def test_weights_scale_each_user_row():
    weights = np.array([2.0, 0.0, 1.0], "float32")
    per_row = np.array([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(LOGITS)])
    assert value("softmax", LOGITS, weights=weights) == pytest.approx(np.sum(per_row * weights) / 3, rel=1e-5)


def test_bce_bpr_mse_positive_in_column_zero():
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    pos, neg = LOGITS[:, 0], LOGITS[:, 1:]
    bce = -np.log(sigmoid(pos)) - np.mean(np.log(1 - sigmoid(neg)), axis=1)
    bpr = -np.mean(np.log(sigmoid(pos[:, None] - neg)), axis=1)
    target = np.array([1.0, 0.5, 1.0], "float32")
    mse = (pos - target) ** 2 + np.mean(neg**2, axis=1)
    assert value("bce", LOGITS) == pytest.approx(bce.mean(), rel=1e-5)
    assert value("bpr", LOGITS) == pytest.approx(bpr.mean(), rel=1e-5)
    assert value("mse", LOGITS, y_true=target) == pytest.approx(mse.mean(), rel=1e-5)


def test_unknown_loss():
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        make_loss("hinge")
