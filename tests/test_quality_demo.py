"""A short training run on the built-in demo: the model must clearly beat most-popular, and the
features must beat ids alone (the demo plants feature-driven tastes and new, cold releases)."""

import pytest

from recsys.config import Config
from recsys.demo_data import generate_demo
from recsys.pipeline import encode_features, most_popular_metrics
from recsys.preparation import prepare
from recsys.splitting import split_interactions
from recsys.training import build_model, fit


@pytest.fixture(scope="module")
def demo():
    config = Config(max_epochs=6, early_stopping_patience=2, metrics_k=[10, 20], monitor_metric="Recall@10")
    prepared = prepare(generate_demo(num_users=3000, seed=0), config)
    split = split_interactions(prepared.interactions, config)
    return config, prepared, split, encode_features(prepared, config)


def train(config, prepared, split, user_matrix, item_matrix):
    model = build_model(config, prepared.n_users, prepared.n_items, user_matrix, item_matrix, split.train)
    return fit(model, split.train, config, validation=split.validation, verbose=0).best_metrics


def test_model_beats_most_popular_and_features_beat_ids(demo):
    config, prepared, split, features = demo
    popular = most_popular_metrics(split.train, split.validation, [10])
    with_features = train(config, prepared, split, features.user_matrix, features.item_matrix)
    ids_only = train(config, prepared, split, None, None)
    assert with_features["Recall@10"] > 1.5 * popular["Recall@10"], (with_features, popular)
    assert ids_only["Recall@10"] > 1.3 * popular["Recall@10"], (ids_only, popular)
    assert with_features["Recall@10"] > 1.03 * ids_only["Recall@10"], (with_features, ids_only)
