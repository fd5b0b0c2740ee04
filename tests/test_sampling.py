"""The sampler: complete seeded passes, negatives that avoid known positives, weights."""

import numpy as np

from recsys.data.interactions import Interactions
from recsys.data.weighting import choose_score_weighting, positive_weights, recency_weights, score_weights
from recsys.model.sampling import InteractionDataset


def data(n_users=50, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, 600).astype(np.int32)
    items = rng.integers(0, n_items, 600).astype(np.int32)
    return Interactions(
        users,
        items,
        n_users,
        n_items,
        scores=rng.integers(1, 6, 600).astype(np.float32),
        timestamps=rng.random(600),
    )


def test_each_epoch_is_one_shuffled_pass():
    d = data()
    ds = InteractionDataset(d, batch_size=64, seed=3)
    assert len(ds) == 10
    rows = [tuple(zip(*[ds[i][0]["user"], ds[i][0]["item"]])) for i in range(len(ds))]
    seen = sorted(pair for batch in rows for pair in batch)
    assert seen == sorted(zip(d.users, d.items))
    first_epoch = ds[0][0]["user"].copy()
    ds.on_epoch_end()
    assert not np.array_equal(first_epoch, ds[0][0]["user"])
    again = InteractionDataset(d, batch_size=64, seed=3)
    assert np.array_equal(first_epoch, again[0][0]["user"])


def test_negatives_avoid_positives_and_are_reproducible():
    d = data(n_items=30)  # dense: about a third of uniform draws hit a positive and are redrawn
    ds = InteractionDataset(d, batch_size=100, num_negatives=5, seed=1)
    positives = set(zip(d.users.tolist(), d.items.tolist()))

    def collision_rate(users, negatives):
        return np.mean([(u, n) in positives for u, row in zip(users, negatives) for n in row])

    x, _, _ = ds[0]
    assert x["negatives"].shape == (100, 5)
    plain = ds.draw_negatives(x["user"], np.random.default_rng(5), retries=0)
    assert collision_rate(x["user"], plain) > 0.2
    assert collision_rate(x["user"], x["negatives"]) < 0.03
    assert np.array_equal(
        x["negatives"], InteractionDataset(d, batch_size=100, num_negatives=5, seed=1)[0][0]["negatives"]
    )


def test_popularity_negatives_follow_counts():
    items = np.r_[np.zeros(900, np.int32), np.arange(1, 101, dtype=np.int32)]
    d = Interactions(np.arange(1000, dtype=np.int32) % 500, items, 501, 101)  # user 500 has no positives
    ds = InteractionDataset(d, batch_size=1000, num_negatives=20, negative_sampling="popularity", seed=0)
    negatives = ds.draw_negatives(np.full(1000, 500, np.int32), np.random.default_rng(0))
    assert 0.8 < np.mean(negatives == 0) < 0.95  # item 0 holds 90 % of the interactions


def test_weights_have_mean_one_and_follow_scores_and_recency():
    d = data()
    w = positive_weights(d, use_scores=True, recency=0.0)
    assert np.isclose(w.mean(), 1.0)
    assert np.all(np.diff(w[np.argsort(d.scores)]) >= -1e-6)
    r = recency_weights(d, 2.0)
    user = d.users[0]
    mine = np.flatnonzero(d.users == user)
    order = mine[np.argsort(d.timestamps[mine])]
    assert np.all(np.diff(r[order]) > 0) and np.isclose(r[order][-1], 1.0)


def test_recency_weights_give_a_single_interaction_and_simultaneous_newest_ones_full_weight():
    users = np.array([0, 1, 1, 1], np.int32)
    d = Interactions(users, np.arange(4, dtype=np.int32), 2, 4, timestamps=np.array([5.0, 1.0, 9.0, 9.0]))
    np.testing.assert_allclose(recency_weights(d, 2.0), [1.0, np.exp(-2.0), 1.0, 1.0])


def test_auto_score_weighting_is_linear_for_ratings_and_log_for_counts():
    assert choose_score_weighting(np.array([1.0, 3.0, 5.0]))[0] == "linear"
    assert choose_score_weighting(np.array([0.5, 4.5, 10.0]))[0] == "linear"
    kind, reason = choose_score_weighting(np.array([1.0, 3.0, 40.0, 350_000.0]))
    assert kind == "log" and "counts" in reason and "350,000" in reason
    assert choose_score_weighting(np.array([1.0, 350_000.0]), "linear")[0] == "linear"  # the setting wins
    assert choose_score_weighting(np.array([1.0, 5.0]), "log")[0] == "log"


def test_log_weighting_keeps_heavy_tailed_counts_from_dominating():
    """Play counts from 1 to 350,000: linear weights give the top pair ~10^5 times the weight of
    the lightest; log weights (1 + log(1 + c / median)) a few tens, rising with the count, and
    they do not depend on the unit (hours or seconds)."""
    rng = np.random.default_rng(0)
    counts = np.r_[np.round(np.exp(rng.normal(2.0, 2.0, 5000))) + 1, 350_000.0]
    users = np.arange(counts.size, dtype=np.int32) % 100
    d = Interactions(users, np.arange(counts.size, dtype=np.int32), 100, counts.size, scores=counts)
    linear = positive_weights(d, use_scores=True, recency=0.0, score_weighting="linear")
    log = positive_weights(d, use_scores=True, recency=0.0, score_weighting="auto")
    assert linear.max() / linear.min() > 1e5
    assert 5 < log.max() / log.min() < 50 and np.isclose(log.mean(), 1.0)
    assert np.all(np.diff(log[np.argsort(counts, kind="stable")]) >= -1e-6)
    assert np.allclose(score_weights(counts, "log"), score_weights(3600 * counts, "log"))


def test_sparse_data_skips_the_redraw_check_dense_data_keeps_it():
    rng = np.random.default_rng(0)
    sparse = Interactions(
        rng.integers(0, 1000, 2000).astype(np.int32), rng.integers(0, 5000, 2000).astype(np.int32), 1000, 5000
    )
    assert InteractionDataset(sparse, num_negatives=2).exclude_positives is False  # 2 of 5,000 items per user
    assert InteractionDataset(data(n_items=30), num_negatives=2).exclude_positives is True
