"""The towers and the model's training outputs, on whichever backend KERAS_BACKEND selects."""

import numpy as np
import pytest
from keras import ops

from recsys.model import EmbeddingModel, Encoder, compute_embeddings


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
        with pytest.raises(ValueError, match="feature table must be"):
            encoder.set_feature_table(np.zeros((9, feature_dim)))
    assert numpy(encoder(np.arange(10))).shape == (10, 8)


def test_softmax_output_applies_temperature_logq_and_masks_accidental_hits():
    model = EmbeddingModel(6, 5, embedding_dim=4, temperature=0.5, loss="softmax")
    log_q = np.log(np.array([0.4, 0.3, 0.1, 0.1, 0.1], "float32"))
    model.set_tables(item_log_q=log_q)
    users, items = np.array([0, 1, 2]), np.array([1, 1, 4])
    logits = numpy(model({"user": users, "item": items}))
    u = compute_embeddings(model, "user")[users]
    v = compute_embeddings(model, "item")[items]
    expected = u @ v.T - log_q[items][None, :]
    assert logits.shape == (3, 3)
    assert logits[0, 1] < -1e8 and logits[1, 0] < -1e8  # item 1 twice: off-diagonal copies masked
    assert np.allclose(logits[2], expected[2], atol=1e-4)
    cosine = (u / np.linalg.norm(u, axis=1, keepdims=True)) @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
    assert np.allclose(u @ v.T, cosine / 0.5, atol=1e-4)  # dot product of towers = cosine / temperature


def test_negative_sampling_output():
    model = EmbeddingModel(4, 7, embedding_dim=3, loss="bpr", normalize=False)
    out = numpy(model({"user": np.array([0, 3]), "item": np.array([1, 2]), "negatives": np.array([[3, 4], [5, 6]])}))
    u, v = compute_embeddings(model, "user"), compute_embeddings(model, "item")
    assert out.shape == (2, 3)
    assert np.allclose(out[1], u[3] @ v[[2, 5, 6]].T, atol=1e-5)
