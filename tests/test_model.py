"""The towers and the model's outputs (embeddings only), on whichever backend KERAS_BACKEND selects."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from recsys.errors import DataError
from recsys.model.tasks import BPR, FullSoftmax, InBatchSoftmax
from recsys.model.towers import EmbeddingModel, Encoder, compute_embeddings


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


def test_the_full_softmax_scores_the_whole_catalogue_with_its_features():
    model = EmbeddingModel(4, 6, embedding_dim=3, item_feature_dim=2, task=FullSoftmax(6), temperature=0.5)
    model.build()
    model.set_tables(item_features=np.random.default_rng(0).normal(size=(6, 2)).astype("float32"))
    users, items, weights = np.array([0, 3, 3]), np.array([5, 1, 2]), np.array([1.0, 2.0, 0.5], "float32")
    out = model({"user": users, "item": items})
    u, v = compute_embeddings(model, "user"), compute_embeddings(model, "item")
    assert np.allclose(numpy(out["catalogue"]), v, atol=1e-6)  # every item, through the item tower
    logits = u[users] @ v.T
    per_row = np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(3), items]
    loss = model.compute_loss({"user": users, "item": items}, None, out, weights)
    assert np.isclose(float(numpy(loss)), float(np.mean(per_row * weights)), rtol=1e-5)
    assert set(model({"user": users, "item": items}, training=False)) == {"user", "item", "catalogue"}
    assert isinstance(EmbeddingModel(**json.loads(json.dumps(model.spec()))).task, FullSoftmax)


def test_spec_rebuilds_the_model_and_its_task():
    model = EmbeddingModel(4, 7, embedding_dim=3, task=BPR(num_negatives=5), seed=2, id_dropout=0.1)
    spec = json.loads(json.dumps(model.spec()))
    again = EmbeddingModel(**spec)
    assert again.spec() == model.spec()
    assert isinstance(again.task, BPR) and again.task.num_negatives == 5


def test_encoder_config_is_complete_and_registered():
    encoder = Encoder(
        9, 4, feature_dim=3, hidden_dim=5, embedding_l2=0.01, seed=7, id_dropout=0.2, name="tower"
    )
    config = encoder.get_config()
    assert Encoder.from_config(config).get_config() == config
    again = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(encoder)))
    )
    assert isinstance(again, Encoder) and again.get_config() == config
    assert keras.saving.get_registered_name(Encoder) == "recsys>Encoder"
    assert keras.saving.get_registered_name(EmbeddingModel) == "recsys>EmbeddingModel"


def with_features(normalize: bool) -> tuple[EmbeddingModel, np.ndarray, np.ndarray]:
    """A model with user and item features, random weights and tables (untrained, but not the seeded
    initial values)."""
    rng = np.random.default_rng(4)
    model = EmbeddingModel(
        8,
        6,
        embedding_dim=5,
        user_feature_dim=3,
        item_feature_dim=4,
        hidden_dim=7,
        normalize=normalize,
        temperature=0.2,
        id_dropout=0.3,
    )
    model.build()
    for variable in model.trainable_weights:
        variable.assign(rng.normal(0, 0.5, tuple(variable.shape)).astype("float32"))
    users, items = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(6, 4)).astype("float32")
    model.set_tables(users, items)
    return model, users, items


@pytest.mark.parametrize("normalize", [True, False])
def test_embedding_from_features_is_the_tower_of_an_id_with_zero_id_embedding(normalize):
    model, user_table, item_table = with_features(normalize)
    for which, encoder, table, from_features in (
        ("user", model.user_encoder, user_table, model.user_embedding_from_features),
        ("item", model.item_encoder, item_table, model.item_embedding_from_features),
    ):
        rows = np.array([0, 2, 3])
        weights = numpy(encoder.id_embedding.embeddings).copy()
        assert np.abs(weights[rows]).min() > 0
        cold = numpy(from_features(table[rows]))
        assert not np.allclose(cold, compute_embeddings(model, which)[rows], atol=1e-3)  # ids count
        weights[rows] = 0.0
        encoder.id_embedding.embeddings.assign(weights)
        np.testing.assert_allclose(cold, compute_embeddings(model, which)[rows], rtol=0, atol=1e-6)
        if normalize:  # the same scale as the towers: norm 1 / sqrt(temperature)
            np.testing.assert_allclose(np.linalg.norm(cold, axis=1), 1 / np.sqrt(0.2), rtol=1e-5)


def test_embedding_from_features_errors():
    model, user_table, _ = with_features(normalize=True)
    with pytest.raises(DataError, match=r"user features must be a \(rows, 3\) matrix.*\(4, 4\)"):
        model.user_embedding_from_features(np.zeros((4, 4), "float32"))
    with pytest.raises(DataError, match=r"\(3,\)"):
        model.user_embedding_from_features(user_table[0])
    ids_only = EmbeddingModel(4, 5, embedding_dim=3)
    with pytest.raises(DataError, match="this model has no item features"):
        ids_only.item_embedding_from_features(np.zeros((1, 2), "float32"))
    with pytest.raises(DataError, match="this model has no user features"):
        ids_only.user_embedding_from_features(np.zeros((1, 2), "float32"))


def test_without_optimizer_is_an_uncompiled_copy_with_the_same_embeddings():
    model, _, _ = with_features(normalize=True)
    model.compile(optimizer="adam")
    clean = model.without_optimizer()
    assert clean is not model and not clean.compiled and clean.spec() == model.spec()
    for which in ("user", "item"):
        assert np.array_equal(compute_embeddings(clean, which), compute_embeddings(model, which))
