"""Training across devices with keras.distribution, on 4 virtual CPU devices (a child process:
XLA_FLAGS=--xla_force_host_platform_device_count=4 must be set before JAX starts).

Data parallel and model parallel (id tables sharded by rows, padded to a multiple of 4) give
validation metrics within 0.03 NDCG@20 / Recall@20 of single-device training on the same demo
(the history user tower: data parallel),
and the bundle of a model-parallel run loads in this (single-device) process and reproduces the
recommendations the sharded model made."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from recsys.config import Config
from recsys.data.interactions import Interactions
from recsys.errors import ConfigError, DataError
from recsys.model.distribution import make_distribution, row_multiple
from recsys.model.sampling import InteractionDataset
from recsys.model.towers import EmbeddingModel, compute_embeddings

CHILD = Path(__file__).with_name("distributed_child.py")
TOLERANCE = 0.03

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution runs on JAX")


@pytest.fixture(scope="module")
def distributed(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("distributed") / "bundle"
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "KERAS_BACKEND")}
    # the checkout, whether or not the package is installed
    env["PYTHONPATH"] = os.pathsep.join([str(CHILD.parents[1]), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(CHILD), str(bundle)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), bundle


@jax_only
def test_every_mode_trains_to_the_single_device_metrics(distributed):
    result, _ = distributed
    assert result["devices"] == 4
    for tower, modes in (("", ("data_parallel", "model_parallel")), ("history ", ("data_parallel",))):
        single = result["runs"][f"{tower}none"]["metrics"]
        for mode in modes:
            metrics = result["runs"][tower + mode]["metrics"]
            for name in ("NDCG@20", "Recall@20"):
                assert abs(metrics[name] - single[name]) <= TOLERANCE, (tower + mode, name, metrics, single)


@jax_only
def test_a_batch_size_that_does_not_split_over_the_devices_is_refused(distributed):
    message = distributed[0].get("odd_batch_error", "")
    assert "batch_size" in message and "1022" in message and "multiple of 4" in message


@jax_only
def test_model_parallel_shards_the_padded_id_tables_by_rows(distributed):
    runs = distributed[0]["runs"]
    assert runs["none"]["shards"] == 1 and runs["data_parallel"]["sharded_rows"] == runs["none"]["table_rows"]
    sharded = runs["model_parallel"]
    assert sharded["shards"] == 4 and sharded["table_rows"] % 4 == 0
    assert sharded["sharded_rows"] == sharded["table_rows"] // 4
    assert sharded["table_rows"] >= runs["none"]["table_rows"] > sharded["table_rows"] - 4


@jax_only
def test_a_model_parallel_bundle_loads_and_predicts_on_one_device(distributed):
    from recsys.serve.recommender import Recommender

    result, bundle = distributed
    expected = result["recommendations"]
    model = Recommender.load(bundle)
    assert model.bundle.model.row_multiple == 1
    assert model.bundle.model.user_encoder.id_embedding.embeddings.shape[0] == len(model.user_vocab)
    answer = model.recommend(expected["users"], n=5)
    assert answer.items == expected["items"]
    assert np.allclose(answer.scores, expected["scores"], atol=1e-4)


def test_padded_tables_give_the_same_embeddings_unpadded():
    model = EmbeddingModel(7, 5, embedding_dim=4, row_multiple=4, seed=3)
    model.build()
    assert model.user_encoder.id_embedding.embeddings.shape == (8, 4)
    assert model.item_encoder.id_embedding.embeddings.shape == (8, 4)
    plain = model.without_optimizer({**model.spec(), "row_multiple": 1})
    assert plain.user_encoder.id_embedding.embeddings.shape == (7, 4)
    assert np.allclose(compute_embeddings(plain, "user"), compute_embeddings(model, "user"))
    assert np.allclose(compute_embeddings(plain, "item"), compute_embeddings(model, "item"))


def test_full_batches_leave_out_the_partial_last_batch():
    data = Interactions(np.arange(10, dtype=np.int32) % 3, np.arange(10, dtype=np.int32) % 4, 3, 4)
    assert len(InteractionDataset(data, batch_size=4)) == 3
    full = InteractionDataset(data, batch_size=4, full_batches=True)
    assert len(full) == 2 and all(len(full[i][0]["user"]) == 4 for i in range(len(full)))
    with pytest.raises(DataError, match="fewer than one batch"):
        InteractionDataset(data, batch_size=16, full_batches=True)


def test_settings_are_checked(monkeypatch):
    assert make_distribution(Config()) is None and row_multiple(Config()) == 1
    with pytest.raises(ConfigError, match="distribution"):
        Config(distribution="pipeline_parallel")
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ConfigError, match="needs the JAX backend"):
        make_distribution(Config(distribution="data_parallel"))
