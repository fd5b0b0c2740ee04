"""Splitting invariants: per-user fractions, time order, seeds, single-interaction users."""

import numpy as np
import pytest

from recsys.config import Config
from recsys.data import splitting
from recsys.data.arrays import sort_order
from recsys.data.interactions import Interactions
from recsys.data.splitting import holdout_counts, split_interactions
from recsys.errors import ConfigError


def random_interactions(n_users=200, n_items=50, seed=0, with_time=True):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 30, n_users)
    users = np.repeat(np.arange(n_users), counts).astype(np.int32)
    items = rng.integers(0, n_items, len(users)).astype(np.int32)
    times = rng.random(len(users)) * 1000 if with_time else None
    return Interactions(users, items, n_users, n_items, timestamps=times)


def test_holdout_counts():
    assert holdout_counts(np.array([0, 1, 2, 5, 10, 11]), 0.2).tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("strategy", ["time", "random"])
def test_per_user_invariants(strategy):
    data = random_interactions()
    split = split_interactions(data, Config(split_strategy=strategy))
    counts = data.user_counts()
    train_counts = split.train.user_counts()
    val_counts = split.validation.user_counts()
    assert len(split.train) + len(split.validation) == len(data)
    assert np.all(val_counts == holdout_counts(counts, 0.2))
    assert np.all(train_counts[val_counts > 0] >= 1)
    assert np.all(val_counts[counts == 1] == 0)
    assert split.description["strategy"] == strategy


def test_time_split_holds_out_each_users_latest():
    data = random_interactions()
    split = split_interactions(data, Config(split_strategy="time"))
    last_train = np.full(data.n_users, -np.inf)
    np.maximum.at(last_train, split.train.users, split.train.timestamps)
    first_val = np.full(data.n_users, np.inf)
    np.minimum.at(first_val, split.validation.users, split.validation.timestamps)
    assert np.all(last_train <= first_val)


def test_random_split_is_seeded():
    data = random_interactions(with_time=False)
    a = split_interactions(data, Config(seed=1))
    b = split_interactions(data, Config(seed=1))
    c = split_interactions(data, Config(seed=2))
    assert a.description["strategy"] == "random"
    assert np.array_equal(a.validation.items, b.validation.items)
    assert not np.array_equal(
        np.sort(a.validation.users * 100 + a.validation.items),
        np.sort(c.validation.users * 100 + c.validation.items),
    )


def test_global_time_cutoff_keeps_history():
    data = random_interactions()
    split = split_interactions(data, Config(split_strategy="global_time", global_time_cutoff_quantile=0.7))
    cutoff = split.description["cutoff"]
    assert np.all(split.validation.timestamps > cutoff)
    train_counts = split.train.user_counts()
    assert np.all(train_counts[np.unique(split.validation.users)] >= 1)


@pytest.mark.parametrize(
    "timestamps, cause",
    [
        (np.full(80, 5.0), "every interaction has the same timestamp"),  # one day: all equal
        (np.r_[np.arange(30.0), np.full(50, 99.0)], "no interaction is after the cutoff"),  # ties at the end
        (np.r_[np.zeros(72), np.full(8, 9.0)], "all belong to users with no interaction before it"),
    ],
    ids=["all equal", "latest tied", "only new users late"],
)
def test_an_empty_global_time_split_names_its_real_cause(timestamps, cause):
    """10 users with 8 interactions each: never a message about min_interactions_per_user."""
    users = np.repeat(np.arange(10), 8).astype(np.int32)
    if cause.startswith("all belong"):  # users 9 only after the cutoff, everyone else before
        users = np.r_[np.repeat(np.arange(9), 8), np.full(8, 9)].astype(np.int32)
    data = Interactions(users, (np.arange(80) % 20).astype(np.int32), 10, 20, timestamps=timestamps)
    config = Config(split_strategy="global_time", global_time_cutoff_quantile=0.5)
    with pytest.raises(ConfigError, match=cause) as error:
        split_interactions(data, config)
    assert "min_interactions_per_user" not in str(error.value) and "global_time_cutoff_quantile" in str(
        error.value
    )


def test_time_split_without_timestamps_is_a_config_error():
    with pytest.raises(ConfigError, match="needs timestamps"):
        split_interactions(random_interactions(with_time=False), Config(split_strategy="time"))


def test_sort_order_of_packed_user_and_time_equals_a_full_sort():
    rng = np.random.default_rng(3)
    users = rng.integers(0, 50, 5000).astype(np.int32)
    times = rng.integers(0, 40, 5000) + 1.7e9  # whole seconds, many ties within a user
    tiebreak = rng.random(5000)
    expected = np.lexsort((tiebreak, times, users))
    assert np.array_equal(sort_order(users, times, tiebreak), expected)
    assert np.array_equal(sort_order(users, times, tiebreak=lambda rows: tiebreak[rows]), expected)
    # times that do not pack (fractions) take polars' sort of all the keys: the same order
    assert np.array_equal(sort_order(users, times + 0.5, tiebreak=lambda rows: tiebreak[rows]), expected)


def test_tiebreak_draws_made_in_blocks_equal_one_call(monkeypatch):
    monkeypatch.setattr(splitting, "DRAW_BLOCK", 64)
    rows = np.array([3, 700, 64, 65, 999, 128])
    draws = splitting._draws_at(np.random.default_rng(7), rows, 1000)
    assert np.array_equal(draws, np.random.default_rng(7).random(1000)[rows])


def test_leave_last_out_holds_out_each_users_last_interaction_by_time():
    data = random_interactions(seed=3)
    split = split_interactions(data, Config(split_strategy="leave_last_out"))
    counts = data.user_counts()
    val_counts = split.validation.user_counts()
    assert np.array_equal(val_counts, (counts >= 2).astype(val_counts.dtype))  # singles: none
    assert len(split.train) + len(split.validation) == len(data)
    latest = np.full(data.n_users, -np.inf)
    np.maximum.at(latest, data.users, data.timestamps)
    assert np.array_equal(split.validation.timestamps, latest[split.validation.users])
    assert split.description["strategy"] == "leave_last_out"
    assert "per_user_val_fraction" not in split.description
    assert Config(split_strategy="leave_last_out").effective_recency_weighting(True) == 2.0


def test_leave_last_out_breaks_ties_in_time_by_the_seed():
    n_users = 300
    users = np.repeat(np.arange(n_users), 4).astype(np.int32)
    items = np.tile(np.arange(4), n_users).astype(np.int32)
    times = np.tile([0.0, 1.0, 2.0, 2.0], n_users)  # the last two of every user tie
    data = Interactions(users, items, n_users, 4, timestamps=times)
    held = [
        split_interactions(data, Config(split_strategy="leave_last_out", seed=seed)).validation.items
        for seed in (0, 0, 1)
    ]
    assert np.array_equal(held[0], held[1])
    assert set(np.unique(held[0])) == {2, 3}
    assert not np.array_equal(held[0], held[2])


def test_leave_last_out_without_timestamps_is_a_config_error():
    with pytest.raises(ConfigError, match="split_strategy='leave_last_out' needs timestamps"):
        split_interactions(random_interactions(with_time=False), Config(split_strategy="leave_last_out"))
