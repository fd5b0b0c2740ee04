"""The paired bootstrap interval on known cases: identical systems, a planted winner and loser, its
coverage over many simulated test sets, and per-user metrics that pair two real rankings."""

import numpy as np
import pytest

from recsys.errors import DataError
from recsys.eval.evaluation import embedding_scorer, evaluate, evaluate_per_user
from recsys.eval.intervals import paired_bootstrap
from recsys.eval.popular import MostPopular
from tests.planted import community_interactions


def test_identical_systems_give_an_interval_that_contains_zero():
    values = np.random.default_rng(1).random(500)
    difference = paired_bootstrap(values, values.copy())
    assert difference.change == 0.0
    assert difference.low <= 0.0 <= difference.high
    assert difference.verdict == "within noise"


def test_two_draws_of_one_system_give_an_interval_that_contains_zero():
    rng = np.random.default_rng(2)
    quality = rng.random(800)  # how easy each user is
    first = np.clip(quality + rng.normal(0, 0.1, 800), 0, 1)
    second = np.clip(quality + rng.normal(0, 0.1, 800), 0, 1)
    difference = paired_bootstrap(first, second)
    assert difference.low < 0.0 < difference.high
    assert difference.low < difference.change < difference.high


@pytest.mark.parametrize("shift, verdict", [(0.05, "better"), (-0.05, "worse")])
def test_a_planted_difference_gives_an_interval_that_excludes_zero(shift, verdict):
    rng = np.random.default_rng(3)
    reference = rng.random(1000)
    system = np.clip(reference + shift + rng.normal(0, 0.05, 1000), 0, None)
    difference = paired_bootstrap(system, reference)
    assert difference.verdict == verdict
    assert (difference.low > 0) if shift > 0 else (difference.high < 0)
    expected = 100 * (system.mean() / reference.mean() - 1)
    assert difference.change == pytest.approx(expected)
    assert difference.low < expected < difference.high


def test_pairing_makes_the_interval_narrower_than_unpaired_noise():
    # Users differ a lot, the systems little: pairing cancels the users' spread.
    rng = np.random.default_rng(4)
    quality = rng.random(600)
    system, reference = quality * 1.02, quality
    paired = paired_bootstrap(system, reference)
    unpaired = paired_bootstrap(system, rng.permutation(reference))
    assert paired.high - paired.low < 0.2 * (unpaired.high - unpaired.low)


def test_the_95_percent_interval_covers_a_true_zero_difference_about_95_times_in_100():
    rng = np.random.default_rng(5)
    covered = 0
    trials = 200
    for trial in range(trials):
        quality = rng.random(300)
        a = (rng.random(300) < quality).astype(float)  # hit or miss per user, same chance for both
        b = (rng.random(300) < quality).astype(float)
        difference = paired_bootstrap(a, b, resamples=1000, seed=trial)
        covered += difference.low <= 0.0 <= difference.high
    assert 0.88 * trials <= covered <= 0.99 * trials


def test_the_same_seed_gives_the_same_interval_and_another_seed_a_close_one():
    rng = np.random.default_rng(6)
    a, b = rng.random(400), rng.random(400)
    assert paired_bootstrap(a, b, seed=7) == paired_bootstrap(a, b, seed=7)
    other = paired_bootstrap(a, b, seed=8)
    assert other.low == pytest.approx(paired_bootstrap(a, b, seed=7).low, abs=1.5)


def test_bad_input_is_one_clear_line():
    with pytest.raises(DataError, match="one value per user from both systems"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(DataError, match="at least one user"):
        paired_bootstrap(np.ones(0), np.ones(0))
    with pytest.raises(DataError, match="scores 0 for every user"):
        paired_bootstrap(np.ones(3), np.zeros(3))


def test_per_user_metrics_of_two_rankings_pair_up_and_average_to_evaluate():
    interactions, user_group, item_group = community_interactions(seed=1)
    rng = np.random.default_rng(0)
    is_test = rng.random(len(interactions)) < 0.2
    train = interactions.subset(~is_test).user_item_matrix("binary")
    test = interactions.subset(is_test).user_item_matrix("binary")
    # A scorer that knows the communities against most popular.
    users_onehot = np.eye(4, dtype=np.float32)[user_group]
    items_onehot = np.eye(4, dtype=np.float32)[item_group]
    popularity = np.asarray(train.sum(axis=0)).ravel().astype(np.float32)
    informed = embedding_scorer(users_onehot, items_onehot, 1e-3 * popularity)
    popular = MostPopular().fit(train).scorer()
    informed_means, informed_users = evaluate_per_user(informed, train, test, [10])
    popular_means, popular_users = evaluate_per_user(popular, train, test, [10])
    assert informed_means == evaluate(informed, train, test, [10])
    assert len(informed_users["NDCG@10"]) == len(popular_users["NDCG@10"]) == informed_means["users"]
    assert informed_users["NDCG@10"].mean() == pytest.approx(informed_means["NDCG@10"])
    difference = paired_bootstrap(informed_users["NDCG@10"], popular_users["NDCG@10"])
    assert difference.verdict == "better"
