"""Save -> load -> identical embeddings, vocabularies, seen items and config."""

import numpy as np
import polars as pl
import pytest
from planted import community_interactions

from recsys.bundle import ModelBundle, load_bundle
from recsys.config import Config
from recsys.errors import ArtifactError, DataError
from recsys.model import compute_embeddings
from recsys.training import build_model
from recsys.vocabulary import Vocabulary


def test_round_trip_gives_identical_embeddings(tmp_path):
    data, user_group, item_group = community_interactions(n_users=40, n_items=20, per_user=3)
    config = Config(embedding_dim=8, feature_hidden_dim=4)
    user_features = np.eye(4, dtype="float32")[user_group]
    model = build_model(config, data.n_users, data.n_items, user_features, None, data)
    user_vocab = Vocabulary(pl.Series([f"u{i:03d}" for i in range(40)]), "user")
    item_vocab = Vocabulary(pl.Series(list(range(100, 120))), "item")
    bundle = ModelBundle(
        model,
        config,
        user_vocab,
        item_vocab,
        data.user_item_matrix(),
        metrics={"best_epoch": 3},
        history={"loss": [1.0, 0.5]},
    )
    bundle.save(tmp_path / "bundle")
    loaded = load_bundle(tmp_path / "bundle")
    for which in ("user", "item"):
        assert np.array_equal(compute_embeddings(model, which), compute_embeddings(loaded.model, which))
    assert loaded.user_vocab.to_python() == user_vocab.to_python()
    assert loaded.item_vocab.to_python() == list(range(100, 120))
    assert (loaded.seen != data.user_item_matrix()).nnz == 0
    assert (
        loaded.config == config and loaded.metrics["best_epoch"] == 3 and loaded.history["loss"] == [1.0, 0.5]
    )
    # saving again replaces the folder whole, leaving no temporary folders behind
    bundle.save(tmp_path / "bundle")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_missing_bundle_says_what_to_run(tmp_path):
    with pytest.raises(ArtifactError, match="train_production_model"):
        load_bundle(tmp_path / "nothing")


def test_recommend_and_similar_items_by_external_id():
    data, _, _ = community_interactions(n_users=40, n_items=20, per_user=3)
    config = Config(embedding_dim=8)
    model = build_model(config, data.n_users, data.n_items, None, None, data)
    bundle = ModelBundle(
        model,
        config,
        Vocabulary(pl.Series([f"u{i:03d}" for i in range(40)]), "user"),
        Vocabulary(pl.Series(list(range(100, 120))), "item"),
        data.user_item_matrix(),
    )
    users, items = bundle.embeddings("user"), bundle.embeddings("item")
    recommended = bundle.recommend("u005", n=5)
    seen = set(data.user_item_matrix()[5].indices + 100)
    scores = users[5] @ items.T
    expected = [i + 100 for i in np.argsort(-scores) if i + 100 not in seen][:5]
    assert [item for item, _ in recommended] == expected
    similar = bundle.similar_items(103, n=4)
    assert 103 not in [item for item, _ in similar] and len(similar) == 4
    with pytest.raises(DataError, match="unknown user id 'nobody'"):
        bundle.recommend("nobody")
