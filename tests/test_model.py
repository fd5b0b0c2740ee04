"""The towers and the model's outputs (embeddings only), on whichever backend KERAS_BACKEND selects."""

import json

import numpy as np
import pytest
from keras import ops

from recsys.errors import DataError
from recsys.model import EmbeddingModel, Encoder, compute_embeddings
from recsys.retrieval import BPR, InBatchSoftmax


def numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("feature_dim", [0, 5])
def test_encoder_shapes_and_features_matter(feature_dim):
    encoder = Encoder(10, 8, feature_dim=feature_dim, hidden_dim=4, seed=1)
    encoder.build()
    if feature_dim:
        table = np.zeros((10, feature_dim), "float32")
        table[3] = 1.0
        before = numpy(encoder(np.array([3, 4])))
        encoder.set_feature_table(table)
        after = numpy(encoder(np.array([3, 4])))
        assert not np.allclose(before[0], after[0])  # id 3's features changed its embedding
        assert np.allclose(before[1], after[1])  # id 4's (all zero) did not
        with pytest.raises(DataError, match="feature table must be"):
            encoder.set_feature_table(np.zeros((9, feature_dim)))
    assert numpy(encoder(np.arange(10))).shape == (10, 8)


def test_in_batch_output_is_the_two_embeddings_with_temperature_folded_in():
    model = EmbeddingModel(6, 5, embedding_dim=4, temperature=0.5)
    users, items = np.array([0, 1, 2]), np.array([1, 1, 4])
    out = model({"user": users, "item": items})
    assert set(out) == {"user", "item"}
    u, v = numpy(out["user"]), numpy(out["item"])
    assert u.shape == (3, 4) and v.shape == (3, 4)
    assert np.allclose(u, compute_embeddings(model, "user")[users], atol=1e-6)
    assert np.allclose(v, compute_embeddings(model, "item")[items], atol=1e-6)
    cosine = (u / np.linalg.norm(u, axis=1, keepdims=True)) @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
    assert np.allclose(u @ v.T, cosine / 0.5, atol=1e-4)  # dot product of towers = cosine / temperature
    assert isinstance(model.task, InBatchSoftmax)  # the default task


def test_drawn_negatives_join_the_item_column_after_the_positive():
    model = EmbeddingModel(4, 7, embedding_dim=3, task=BPR(num_negatives=2), normalize=False)
    out = model({"user": np.array([0, 3]), "item": np.array([1, 2]), "negatives": np.array([[3, 4], [5, 6]])})
    u, v = compute_embeddings(model, "user"), compute_embeddings(model, "item")
    assert numpy(out["user"]).shape == (2, 3) and numpy(out["item"]).shape == (2, 3, 3)
    assert np.allclose(numpy(out["user"]), u[[0, 3]], atol=1e-6)
    assert np.allclose(numpy(out["item"])[1], v[[2, 5, 6]], atol=1e-6)


def test_spec_rebuilds_the_model_and_its_task():
    model = EmbeddingModel(4, 7, embedding_dim=3, task=BPR(num_negatives=5), seed=2, id_dropout=0.1)
    spec = json.loads(json.dumps(model.spec()))
    again = EmbeddingModel(**spec)
    assert again.spec() == model.spec()
    assert isinstance(again.task, BPR) and again.task.num_negatives == 5
