"""A short training run on the built-in demo: the model must clearly beat most-popular, and the
features must beat ids alone (the demo plants feature-driven tastes and new, cold releases)."""

import pytest

from recsys.config import Config
from recsys.experiment import Experiment
from recsys.training import fit_on_split


@pytest.fixture(scope="module")
def demo():
    config = Config(max_epochs=6, early_stopping_patience=2, metrics_k=[10, 20], monitor_metric="Recall@10")
    return Experiment(config)


def train(experiment, with_features):
    return fit_on_split(experiment, with_features=with_features, log_epochs=False).best_metrics


def test_model_beats_most_popular_and_features_beat_ids(demo):
    popular = demo.baseline
    with_features = train(demo, with_features=True)
    ids_only = train(demo, with_features=False)
    assert with_features["Recall@10"] > 1.5 * popular["Recall@10"], (with_features, popular)
    assert ids_only["Recall@10"] > 1.3 * popular["Recall@10"], (ids_only, popular)
    assert with_features["Recall@10"] > 1.03 * ids_only["Recall@10"], (with_features, ids_only)
