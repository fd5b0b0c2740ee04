"""The default run on the built-in demo: its validation curve rises and flattens (the best epoch is
not one of the first few), the model clearly beats most-popular, and ids alone learn it too.

The demo is the first run every user sees; a curve that peaked at epoch 1 or 2 and then fell
would train production for one or two epochs. One default validation run (about 40 s)."""

import numpy as np
import pytest

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.eval.validation import fit_on_split, most_popular_metrics


@pytest.fixture(scope="module")
def demo():
    return Experiment(Config())


@pytest.fixture(scope="module")
def default_run(demo):
    return fit_on_split(demo, log_epochs=False)


def test_default_demo_curve_rises_and_flattens(default_run):
    ndcg = np.array(default_run.history["val_NDCG@20"])
    assert default_run.best_epoch >= 5, ndcg.round(4)
    # Rises: the best is well above the first epoch. Flattens: the epochs after the best stay
    # within 3 % of it (no collapse after an early peak).
    assert ndcg.max() > 1.1 * ndcg[0], ndcg.round(4)
    assert ndcg[default_run.best_epoch - 1 :].min() > 0.97 * ndcg.max(), ndcg.round(4)


def test_model_beats_most_popular_with_and_without_features(demo, default_run):
    popular = most_popular_metrics(demo)
    assert default_run.best_metrics["NDCG@20"] > 1.4 * popular["NDCG@20"], (default_run.best_metrics, popular)
    ids_only = fit_on_split(
        demo, demo.config.replace(max_epochs=8), with_features=False, log_epochs=False
    ).best_metrics
    assert ids_only["NDCG@20"] > 1.3 * popular["NDCG@20"], (ids_only, popular)
