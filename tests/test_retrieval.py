"""Retrieval tasks: each loss against a direct numpy computation from embeddings, the task's
settings, targets and log-q table, the model's loss hook, and save -> load."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from recsys.config import LOSSES
from recsys.data.interactions import Interactions
from recsys.errors import ConfigError, DataError
from recsys.model.tasks import (
    BPR,
    TASKS,
    InBatchSoftmax,
    PointwiseMSE,
    RetrievalTask,
    SampledBinaryCrossEntropy,
    item_log_q,
    make_task,
)
from recsys.model.towers import EmbeddingModel, compute_embeddings

RNG = np.random.default_rng(7)
USERS = RNG.normal(size=(4, 3)).astype("float32")
ITEMS = RNG.normal(size=(4, 3)).astype("float32")  # in-batch: one positive item per user
CANDIDATES = RNG.normal(size=(4, 3, 3)).astype("float32")  # positive + 2 drawn negatives per user
ITEM_IDS = np.array([1, 1, 4, 2], "int32")  # item 1 twice: an accidental hit between rows 0 and 1
LOG_Q = np.log(np.array([0.1, 0.4, 0.2, 0.1, 0.2], "float32"))
WEIGHTS = np.array([2.0, 0.0, 1.0, 0.5], "float32")


def tensor(x):
    return ops.convert_to_tensor(x)


def value(x):
    return float(ops.convert_to_numpy(x))


def task_loss(task, items, targets=None, weights=None, item_ids=ITEM_IDS):
    embeddings = {"user": tensor(USERS), "item": tensor(items)}
    inputs = {"user": tensor(np.arange(4, dtype="int32")), "item": tensor(item_ids)}
    return value(
        task.compute_loss(
            inputs,
            embeddings,
            None if targets is None else tensor(targets),
            None if weights is None else tensor(weights),
        )
    )


def reduce(per_row, weights):
    return per_row.mean() if weights is None else np.sum(per_row * weights) / len(per_row)


def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def softmax_rows(logq_correction):
    logits = USERS.astype(np.float64) @ ITEMS.T.astype(np.float64)
    if logq_correction:
        logits = logits - LOG_Q[ITEM_IDS][None, :]
    keep = [[i == j or ITEM_IDS[i] != ITEM_IDS[j] for j in range(4)] for i in range(4)]
    rows = enumerate(zip(logits, keep))
    return np.array([np.log(np.exp(row[mask]).sum()) - row[i] for i, (row, mask) in rows])


def sampled_logits():
    return np.einsum("bd,bkd->bk", USERS.astype(np.float64), CANDIDATES.astype(np.float64))


def test_task_mapping_covers_exactly_the_config_losses():
    assert tuple(TASKS) == LOSSES
    for name in LOSSES:
        assert isinstance(make_task(name, 5), TASKS[name])
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        make_task("hinge", 5)


@pytest.mark.parametrize("weights", [None, WEIGHTS])
@pytest.mark.parametrize("logq_correction", [True, False])
def test_in_batch_softmax_with_logq_and_an_accidental_hit(weights, logq_correction):
    task = make_task("softmax", 5, logq_correction=logq_correction)
    task.set_item_log_q(LOG_Q)
    expected = reduce(softmax_rows(logq_correction), weights)
    assert task_loss(task, ITEMS, weights=weights) == pytest.approx(expected, rel=1e-5)
    # compute_loss takes the diagonal as row-wise dot products; per_example_loss reads it off the logits
    embeddings = {"user": tensor(USERS), "item": tensor(ITEMS)}
    logits = task.logits({"item": tensor(ITEM_IDS)}, embeddings)
    per_row = ops.convert_to_numpy(task.per_example_loss(logits, None))
    assert reduce(per_row, weights) == pytest.approx(expected, rel=1e-5)
    # the masked duplicate matters: without it the loss is different
    unmasked = USERS.astype(np.float64) @ ITEMS.T - (LOG_Q[ITEM_IDS][None, :] if logq_correction else 0)
    naive = np.array([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(unmasked)])
    assert abs(reduce(naive, weights) - expected) > 1e-3


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_bce_positive_one_negatives_zero(weights):
    logits = sampled_logits()
    per_row = -log_sigmoid(logits[:, 0]) - np.mean(log_sigmoid(-logits[:, 1:]), axis=1)
    task = make_task("bce", 5, num_negatives=2)
    assert task_loss(task, CANDIDATES, weights=weights) == pytest.approx(reduce(per_row, weights), rel=1e-5)


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_bpr_positive_above_each_negative(weights):
    logits = sampled_logits()
    per_row = -np.mean(log_sigmoid(logits[:, :1] - logits[:, 1:]), axis=1)
    task = make_task("bpr", 5, num_negatives=2)
    assert task_loss(task, CANDIDATES, weights=weights) == pytest.approx(reduce(per_row, weights), rel=1e-5)


@pytest.mark.parametrize("weights", [None, WEIGHTS])
@pytest.mark.parametrize("targets", [None, np.array([1.0, 0.5, 0.2, 0.0], "float32")])
def test_mse_against_targets_and_zero(weights, targets):
    logits = sampled_logits()
    target = np.ones(4) if targets is None else targets
    per_row = (logits[:, 0] - target) ** 2 + np.mean(logits[:, 1:] ** 2, axis=1)
    task = make_task("mse", 5, num_negatives=2)
    assert task_loss(task, CANDIDATES, targets, weights) == pytest.approx(reduce(per_row, weights), rel=1e-5)


def test_tasks_reject_embeddings_of_the_other_family():
    with pytest.raises(DataError, match="in-batch softmax"):
        task_loss(make_task("softmax", 5), CANDIDATES)
    with pytest.raises(DataError, match="needs drawn negatives"):
        task_loss(make_task("bpr", 5), ITEMS)


def test_settings_negatives_and_targets():
    assert make_task("softmax", 5, num_negatives=7).num_negatives == 0
    assert make_task("bce", 5, num_negatives=7).num_negatives == 7
    with pytest.raises(ConfigError, match="num_negatives"):
        make_task("bpr", 5, num_negatives=0)
    scores = np.array([1.0, 4.0, 2.0], "float32")
    train = Interactions(np.array([0, 1, 1], "int32"), np.array([0, 2, 2], "int32"), 2, 4, scores=scores)
    assert np.allclose(make_task("mse", 4).targets(train, use_scores=True), scores / 4.0)
    assert make_task("mse", 4).targets(train, use_scores=False) is None
    for name in ("softmax", "bce", "bpr"):
        assert make_task(name, 4).targets(train, use_scores=True) is None


def test_log_q_is_the_log_share_of_training_positives():
    train = Interactions(np.zeros(6, "int32"), np.array([0, 0, 0, 1, 1, 2], "int32"), 1, 4)
    expected = np.log(np.array([3, 2, 1, 1]) / 6)  # item 3 never seen: counted once, stays finite
    assert np.allclose(item_log_q(train), expected)
    task = make_task("softmax", 4)
    task.adapt(train)
    assert np.allclose(ops.convert_to_numpy(task.item_log_q), expected)
    with pytest.raises(DataError, match="log-q table must be"):
        task.set_item_log_q(np.zeros(3))


@pytest.mark.parametrize("name", LOSSES)
def test_tasks_serialise_with_their_settings(name):
    task = make_task(name, 5, num_negatives=3, logq_correction=False)
    stored = json.loads(json.dumps(keras.saving.serialize_keras_object(task)))
    again = keras.saving.deserialize_keras_object(stored)
    assert type(again) is type(task) and isinstance(again, RetrievalTask)
    assert again.get_config() == task.get_config()
    assert again.num_negatives == task.num_negatives


def batch(model, negatives=0, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "user": rng.integers(0, model.n_users, 6).astype("int32"),
        "item": np.array([0, 1, 1, 3, 4, 2], "int32"),
    }
    if negatives:
        x["negatives"] = rng.integers(0, model.n_items, (6, negatives)).astype("int32")
    return (
        {k: tensor(v) for k, v in x.items()},
        tensor(rng.random(6).astype("float32")),
        tensor(rng.random(6).astype("float32") * 2),
    )


@pytest.mark.parametrize(
    "task",
    [InBatchSoftmax(5), SampledBinaryCrossEntropy(2), BPR(2), PointwiseMSE(2)],
    ids=lambda t: type(t).__name__,
)
def test_model_loss_hook_is_the_task_loss_plus_l2(task):
    model = EmbeddingModel(7, 5, embedding_dim=3, normalize=False, task=task, embedding_l2=0.01)
    model.set_tables(item_log_q=LOG_Q)
    x, y, w = batch(model, task.num_negatives)
    y_pred = model(x)
    u, v = compute_embeddings(model, "user"), compute_embeddings(model, "item")
    users, items = ops.convert_to_numpy(x["user"]), ops.convert_to_numpy(x["item"])
    weights, targets = ops.convert_to_numpy(w), ops.convert_to_numpy(y)
    if task.num_negatives:
        candidates = np.concatenate([items[:, None], ops.convert_to_numpy(x["negatives"])], axis=1)
        logits = np.einsum("bd,bkd->bk", u[users], v[candidates])
        if isinstance(task, PointwiseMSE):
            per_row = (logits[:, 0] - targets) ** 2 + np.mean(logits[:, 1:] ** 2, axis=1)
        elif isinstance(task, BPR):
            per_row = -np.mean(log_sigmoid(logits[:, :1] - logits[:, 1:]), axis=1)
        else:
            per_row = -log_sigmoid(logits[:, 0]) - np.mean(log_sigmoid(-logits[:, 1:]), axis=1)
    else:
        logits = u[users] @ v[items].T - LOG_Q[items][None, :]
        logits[(items[:, None] == items[None, :]) & ~np.eye(6, dtype=bool)] = -np.inf
        per_row = np.log(np.exp(logits).sum(axis=1)) - np.diagonal(logits)
    encoders = (model.user_encoder, model.item_encoder)
    tables = [ops.convert_to_numpy(e.id_embedding.embeddings) for e in encoders]
    l2 = 0.01 * sum(np.sum(t.astype(np.float64) ** 2) for t in tables)
    assert set(y_pred) == {"user", "item"}
    expected = np.mean(per_row * weights) + l2
    assert value(model.compute_loss(x, y, y_pred, w)) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("name", ["softmax", "bce"])
def test_save_and_load_give_identical_embeddings_and_loss(tmp_path, name):
    task = make_task(name, 5, num_negatives=2)
    model = EmbeddingModel(7, 5, embedding_dim=4, item_feature_dim=2, hidden_dim=3, task=task, seed=5)
    model.build()
    model.set_tables(item_features=RNG.random((5, 2)).astype("float32"), item_log_q=LOG_Q)
    model.save_weights(str(tmp_path / "model.weights.h5"))
    spec = json.loads(json.dumps(model.spec()))
    loaded = EmbeddingModel(**spec)
    loaded.build()
    loaded.load_weights(str(tmp_path / "model.weights.h5"))
    assert type(loaded.task) is type(model.task) and loaded.task.get_config() == model.task.get_config()
    for which in ("user", "item"):
        assert np.array_equal(compute_embeddings(model, which), compute_embeddings(loaded, which))
    x, y, w = batch(model, task.num_negatives, seed=1)
    assert value(loaded.compute_loss(x, y, loaded(x), w)) == value(model.compute_loss(x, y, model(x), w))
    if name == "softmax":
        assert np.array_equal(ops.convert_to_numpy(loaded.task.item_log_q), LOG_Q)
