"""Whole models as `.keras` files: `model.save(path)` then `keras.saving.load_model(path)` gives the
same embeddings (constant tables included) on this backend, and a file saved on one backend loads on
the others. CI runs this file on JAX, TensorFlow and PyTorch."""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops
from planted import community_interactions

import recsys.model.towers  # noqa: F401  (registers EmbeddingModel and Encoder, as a user's load must)
from recsys.config import Config
from recsys.model.tasks import BPR, InBatchSoftmax
from recsys.model.towers import EmbeddingModel, compute_embeddings
from recsys.model.training import build_model, fit

ROOT = Path(__file__).resolve().parents[1]


def trained_model(features: bool, loss: str = "softmax", **settings) -> EmbeddingModel:
    """A model trained for two epochs (so its weights are not the seeded initial values), with the
    log-q table of its task and, with `features`, user and item feature tables; `settings` go to
    its Config (e.g. the history user tower)."""
    data, user_group, item_group = community_interactions(n_users=64, n_items=32, per_user=5)
    config = Config(
        embedding_dim=8,
        feature_hidden_dim=6,
        batch_size=32,
        max_epochs=2,
        learning_rate=0.02,
        loss=loss,
        id_dropout=0.3,
        seed=5,
        verbosity=0,
        **settings,
    )
    rng = np.random.default_rng(0)
    user_table = item_table = None
    if features:
        user_table = np.hstack([np.eye(4)[user_group], rng.normal(size=(64, 2))]).astype("float32")
        item_table = np.hstack([np.eye(4)[item_group], rng.random((32, 1))]).astype("float32")
    model = build_model(config, data.n_users, data.n_items, user_table, item_table, data)
    fit(model, data, config, log_epochs=False)
    return model


def assert_same_model(loaded, model) -> None:
    assert isinstance(loaded, EmbeddingModel)
    assert loaded.spec() == model.spec()
    for which in ("user", "item"):
        assert np.array_equal(compute_embeddings(loaded, which), compute_embeddings(model, which)), which
    for mine, theirs in zip(loaded.weights, model.weights):  # feature and log-q tables included
        assert mine.path == theirs.path
        assert np.array_equal(ops.convert_to_numpy(mine), ops.convert_to_numpy(theirs)), mine.path


@pytest.mark.parametrize("features", [False, True], ids=["ids-only", "features"])
def test_keras_file_round_trip(tmp_path, features):
    model = trained_model(features)
    assert isinstance(model.task, InBatchSoftmax)
    assert np.ptp(ops.convert_to_numpy(model.task.item_log_q)) > 0  # a real table to carry
    if features:
        assert np.abs(ops.convert_to_numpy(model.item_encoder.features)).sum() > 0
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert_same_model(loaded, model)
    # The file of a compiled model holds the optimizer too (Keras' .keras format cannot leave it
    # out), so training can resume; `without_optimizer()` saves the serving model only.
    assert loaded.compiled and int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    serving = tmp_path / "serving.keras"
    model.without_optimizer().save(serving)
    assert serving.stat().st_size < path.stat().st_size
    lean = keras.saving.load_model(serving)
    assert not lean.compiled
    assert_same_model(lean, model)
    assert_same_model(keras.saving.load_model(path, compile=False), model)


def test_keras_file_round_trip_of_the_history_tower(tmp_path):
    blocks = 1  # an attention block before the pooling, and the time gaps: every layer of the tower is saved
    model = trained_model(
        False, user_tower="history", history_length=6, history_blocks=blocks, history_time_gaps=True
    )
    windows = ops.convert_to_numpy(model.user_encoder.histories)
    assert (windows < model.n_items).any()  # the known users' saved windows travel in the file
    assert ops.convert_to_numpy(model.user_encoder.gaps).max() > 1  # and their gap buckets
    model.save(tmp_path / "history.keras")
    loaded = keras.saving.load_model(tmp_path / "history.keras")
    assert loaded.user_tower == "history" and loaded.history_blocks == blocks and loaded.history_time_gaps
    assert_same_model(loaded, model)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.user_encoder.gap_boundaries),
        ops.convert_to_numpy(model.user_encoder.gap_boundaries),
    )
    fresh = np.array([[model.n_items] * 3 + [1, 2, 3], [4, 5, 6, 7, 8, 9]])  # histories it never saw
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.user_embedding_from_history(fresh)),
        ops.convert_to_numpy(model.user_embedding_from_history(fresh)),
    )


def test_keras_file_keeps_another_task_and_embeds_from_features(tmp_path):
    model = trained_model(features=True, loss="bpr")
    model.save(tmp_path / "bpr.keras")
    loaded = keras.saving.load_model(tmp_path / "bpr.keras")
    assert isinstance(loaded.task, BPR) and loaded.task.num_negatives == model.task.num_negatives
    assert_same_model(loaded, model)
    for side in ("user", "item"):
        dim = getattr(model, f"{side}_feature_dim")
        table = np.random.default_rng(1).normal(size=(3, dim)).astype("float32")
        mine = getattr(loaded, f"{side}_embedding_from_features")(table)
        theirs = getattr(model, f"{side}_embedding_from_features")(table)
        assert np.array_equal(ops.convert_to_numpy(mine), ops.convert_to_numpy(theirs))


# Run in a fresh interpreter per backend (the backend is fixed at import): argv is role ("create" a
# model with random weights and tables, or "load" the source file), source, target and an output
# prefix for the embeddings, log-q table and cold-start item embeddings it computes.
_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import recsys.model.towers
    from recsys.model.towers import EmbeddingModel, compute_embeddings

    role, source, target, out, tower = sys.argv[1:6]
    if role == "create":
        rng = np.random.default_rng(7)
        history = (
            dict(user_tower="history", history_length=4, history_blocks=1, history_time_gaps=True)
            if tower == "history"
            else {}
        )
        model = EmbeddingModel(
            9, 7, embedding_dim=6, user_feature_dim=3, item_feature_dim=4, hidden_dim=5, id_dropout=0.3,
            **history
        )
        model.build()
        for variable in model.trainable_weights:
            variable.assign(rng.normal(0.0, 0.5, tuple(variable.shape)).astype("float32"))
        model.set_tables(
            rng.normal(size=(9, 3)).astype("float32"),
            rng.normal(size=(7, 4)).astype("float32"),
            np.log(rng.dirichlet(np.ones(7))).astype("float32"),
            user_histories=np.minimum(rng.integers(0, 11, size=(9, 4)), 7),
            user_gaps=rng.integers(0, 16, size=(9, 4)),
            gap_boundaries=np.sort(rng.random(14)).astype("float32"),
        )
    else:
        model = keras.saving.load_model(source)
    model.save(target)
    np.save(out + "_user.npy", compute_embeddings(model, "user"))
    np.save(out + "_item.npy", compute_embeddings(model, "item"))
    np.save(out + "_log_q.npy", keras.ops.convert_to_numpy(model.task.item_log_q))
    cold = model.item_embedding_from_features(np.eye(4, dtype="float32"))
    np.save(out + "_cold.npy", keras.ops.convert_to_numpy(cold))
    print(keras.backend.backend(), "ok", recsys.model.towers.__file__)
    """
)


def run_child(backend: str, *args: Path | str) -> None:
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"{backend}: {done.stderr[-3000:]}"
    assert f"{backend} ok {ROOT / 'recsys' / 'model' / 'towers.py'}" in done.stdout  # this checkout's code


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("torch") is None,
    reason="needs TensorFlow and PyTorch: pip install -r requirements-backends.txt",
)
@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="its children run TensorFlow, PyTorch and JAX whatever this process runs: once, on JAX, is enough",
)
def test_a_file_saved_on_one_backend_loads_on_another(tmp_path):
    """TensorFlow creates and saves a model; PyTorch loads that file and saves it again; JAX loads
    PyTorch's file and saves it again; this process (any backend) loads JAX's file. Each writes the
    embeddings it computes, which must all be TensorFlow's. One chain covers every layer: the
    history user tower (an attention block, time gaps, saved windows and gaps) with user features,
    and the item tower, the same `Encoder` class as the id user tower, with item features."""
    tower = "history"
    chain = [("tensorflow", "create"), ("torch", "load"), ("jax", "load")]
    for step, (backend, role) in enumerate(chain):
        source = tmp_path / f"{step - 1}.keras"
        run_child(backend, role, source, tmp_path / f"{step}.keras", tmp_path / backend, tower)
    for part in ("user", "item", "log_q", "cold"):
        saved = np.load(tmp_path / f"tensorflow_{part}.npy")
        assert saved.size and np.abs(saved).sum() > 0
        for backend in ("torch", "jax"):
            np.testing.assert_allclose(np.load(tmp_path / f"{backend}_{part}.npy"), saved, rtol=0, atol=1e-6)
    loaded = keras.saving.load_model(tmp_path / f"{len(chain) - 1}.keras")
    for which in ("user", "item"):
        expected = np.load(tmp_path / f"tensorflow_{which}.npy")
        np.testing.assert_allclose(compute_embeddings(loaded, which), expected, rtol=0, atol=1e-6)
    expected = np.load(tmp_path / "tensorflow_log_q.npy")
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded.task.item_log_q), expected)
