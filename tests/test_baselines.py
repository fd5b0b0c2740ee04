"""Baselines (most popular, EASE, iALS), their tuning, and the benchmark protocol helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import recsys.eval.ease as ease_module
from recsys.data.interactions import Interactions
from recsys.data.weighting import recency_percentiles
from recsys.errors import ConfigError, DataError, RecsysError
from recsys.eval.ease import EASE
from recsys.eval.evaluation import evaluate
from recsys.eval.ials import IALS, confidence_matrix
from recsys.eval.popular import MostPopular
from recsys.eval.recency_ease import RecencyWeightedEASE, recency_history
from recsys.eval.tuners import tune_ease, tune_ials, tune_recency_ease
from recsys.ranking.exact import ScorerIndex

ROOT = Path(__file__).resolve().parents[1]
MOVIELENS = ROOT.parent / "shared" / "datasets" / "ml-latest-small" / "ratings.csv"


def top_unseen(scorer, users, k, seen):
    """The k best items of `users` by `scorer`, their rows of `seen` excluded (the evaluation's ranking)."""
    users = np.asarray(users)
    return ScorerIndex(scorer, seen.shape[1]).search(users, k, seen[users])[0]


def _load_protocol():
    spec = importlib.util.spec_from_file_location("benchmarks_protocol", ROOT / "benchmarks" / "protocol.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_binary(n_users: int, n_items: int, density: float = 0.3, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density).astype(np.float32)
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = 1.0  # nobody empty
    return sp.csr_matrix(dense)


def _direct_ease(x: np.ndarray, l2: float) -> np.ndarray:
    gram = x.T.astype(np.float64) @ x + l2 * np.eye(x.shape[1])
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b


def _planted_blocks(block_sizes=(40, 20, 20), items_per_block=10, seen=5, held=2, seed=0):
    """Users of block g only touch items of block g: `seen` in training, `held` other ones held out."""
    rng = np.random.default_rng(seed)
    train_rows, train_cols, held_rows, held_cols, user = [], [], [], [], 0
    for block, n_users in enumerate(block_sizes):
        for _ in range(n_users):
            chosen = block * items_per_block + rng.permutation(items_per_block)[: seen + held]
            train_rows += [user] * seen
            train_cols += list(chosen[:seen])
            held_rows += [user] * held
            held_cols += list(chosen[seen:])
            user += 1
    shape = (user, items_per_block * len(block_sizes))
    make = lambda r, c: sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=shape)  # noqa: E731
    return make(train_rows, train_cols), make(held_rows, held_cols)


# --------------------------------------------------------------------------------------------
# EASE
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, n_users", [("primal", 30), ("dual", 30), ("dual", 8), ("auto", 8)])
def test_ease_matches_direct_closed_form(method, n_users):
    train = _random_binary(n_users, 12)
    model = EASE(method=method).fit(train, l2=7.0)
    expected = _direct_ease(train.toarray(), 7.0)
    weights = model.weights()
    assert model.method_used == ("dual" if method == "auto" else method)
    np.testing.assert_allclose(weights, expected, atol=1e-5)
    assert np.all(np.diag(weights) == 0.0)
    users = np.array([3, 0, n_users - 1])
    np.testing.assert_allclose(model.scorer()(users), train.toarray()[users] @ expected, atol=1e-4)


def test_ease_primal_blocked_paths_match(monkeypatch):
    """Gram, mirror and weight steps run in row blocks; tiny blocks must give the same model."""
    monkeypatch.setattr(ease_module, "_BLOCK_ENTRIES", 20)  # 1 row per block for 17 items
    train = _random_binary(40, 17, seed=3)
    weights = EASE(method="primal").fit(train, l2=3.0).weights()
    np.testing.assert_allclose(weights, _direct_ease(train.toarray(), 3.0), atol=1e-5)


def test_ease_ignores_values_and_duplicates():
    train = _random_binary(20, 10, seed=1)
    weighted = train.copy()
    weighted.data = np.arange(1, weighted.nnz + 1, dtype=np.float32)  # ratings, not 1s
    a = EASE().fit(train, l2=5.0).weights()
    b = EASE().fit(weighted, l2=5.0).weights()
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("method", ["primal", "dual"])
def test_ease_recovers_planted_item_blocks(method):
    train, _ = _planted_blocks((30, 30), items_per_block=10)
    model = EASE(method=method).fit(train, l2=1.0)
    # EASE may give a few in-block items small negative scores (below the cross-block zeros), so
    # check the top 2 of each user's 5 unseen in-block items.
    top = top_unseen(model.scorer(), np.arange(train.shape[0]), 2, train)
    block_of_user = np.repeat([0, 1], 30)
    assert np.all(top // 10 == block_of_user[:, None])  # recommendations from the user's own block
    weights = model.weights()
    assert np.abs(weights[:10, 10:]).max() < 1e-5 and np.abs(weights[10:, :10]).max() < 1e-5


def test_ease_refuses_catalogue_too_large_for_memory():
    train = _random_binary(40, 12)
    with pytest.raises(RecsysError) as info:
        EASE(memory_limit_bytes=100, method="primal").fit(train)
    message = str(info.value)
    assert "12 items" in message and "memory limit of 100 bytes" in message and "IALS" in message
    with pytest.raises(RecsysError, match="40 users x 12 items"):
        EASE(memory_limit_bytes=100, method="dual").fit(train)
    dual = EASE(method="dual").fit(train)
    dual.memory_limit_bytes = 100
    with pytest.raises(RecsysError, match="12 x 12 weight matrix"):
        dual.weights()


def test_ease_falls_back_to_float32_when_float64_does_not_fit(capsys):
    train = _random_binary(40, 12)
    need32 = ease_module.ease_memory_bytes(40, 12, "primal", np.float32)
    need64 = ease_module.ease_memory_bytes(40, 12, "primal", np.float64)
    assert need32 < need64
    model = EASE(memory_limit_bytes=need32, method="primal").fit(train, l2=7.0)
    assert "float32" in capsys.readouterr().out
    np.testing.assert_allclose(model.weights(), _direct_ease(train.toarray(), 7.0), atol=1e-4)


def test_ease_rejects_bad_input():
    train = _random_binary(5, 4)
    with pytest.raises(ConfigError, match="l2"):
        EASE().fit(train, l2=0)
    with pytest.raises(DataError, match="scipy.sparse"):
        EASE().fit(train.toarray())
    with pytest.raises(DataError, match="no interactions"):
        EASE().fit(sp.csr_matrix((3, 4), dtype=np.float32))
    with pytest.raises(RecsysError, match="not fitted"):
        EASE().scorer()


def test_tune_ease_picks_best_row_and_returns_matching_model(capsys):
    train, held = _planted_blocks((20, 10), items_per_block=8, seen=4, held=2)
    model, best_l2, table = tune_ease(train, held, ks=[5], grid=[0.5, 5.0, 500.0], metric="NDCG@5")
    assert [row["l2"] for row in table] == [0.5, 5.0, 500.0]
    assert best_l2 == table[int(np.argmax([row["NDCG@5"] for row in table]))]["l2"]
    assert model.l2 == best_l2
    refit = EASE().fit(train, l2=best_l2)
    users = np.arange(train.shape[0])
    np.testing.assert_allclose(model.scorer()(users), refit.scorer()(users), atol=1e-5)
    assert capsys.readouterr().out.count("EASE l2=") == 3  # every trial reported
    with pytest.raises(ConfigError, match="MRR"):
        tune_ease(train, held, grid=[1.0], metric="MRR")


# --------------------------------------------------------------------------------------------
# recency-weighted EASE
# --------------------------------------------------------------------------------------------
def _random_interactions(n_users: int, n_items: int, seed: int = 0) -> Interactions:
    """The pairs of `_random_binary`, each with a distinct random time."""
    coo = _random_binary(n_users, n_items, seed=seed).tocoo()
    times = np.random.default_rng(seed + 1).permutation(coo.nnz).astype(np.float64)
    return Interactions(
        coo.row.astype(np.int32), coo.col.astype(np.int32), n_users, n_items, timestamps=times
    )


@pytest.mark.parametrize("method, n_users", [("primal", 30), ("dual", 8)])
def test_recency_ease_with_strength_zero_is_plain_ease(method, n_users):
    train = _random_interactions(n_users, 12, seed=2)
    users = np.arange(n_users)
    plain = EASE(method=method).fit(train.user_item_matrix(), l2=7.0).scorer()(users)
    recency = RecencyWeightedEASE(method=method).fit(train, l2=7.0, strength=0.0).scorer()(users)
    np.testing.assert_array_equal(recency, plain)


def test_recency_ease_weighs_history_by_time_rank_percentile():
    # user 0: items 0, 1, 2 at times 5, 1, 3 -> percentiles 1, 0, 0.5; user 1: item 3 alone -> p = 1
    train = Interactions(
        np.array([0, 0, 0, 1, 2, 2], np.int32),
        np.array([0, 1, 2, 3, 0, 3], np.int32),
        3,
        4,
        timestamps=np.array([5.0, 1.0, 3.0, 9.0, 1.0, 2.0]),
    )
    history = recency_history(train, 2.0).toarray()
    np.testing.assert_allclose(history[0], [1.0, np.exp(-2.0), np.exp(-1.0), 0.0], rtol=1e-6)
    np.testing.assert_allclose(history[1], [0.0, 0.0, 0.0, 1.0])  # a single item: p = 1
    np.testing.assert_allclose(history[2], [np.exp(-2.0), 0.0, 0.0, 1.0], rtol=1e-6)
    model = RecencyWeightedEASE(method="primal").fit(train, l2=0.5, strength=2.0)
    expected = history @ _direct_ease(train.user_item_matrix().toarray(), 0.5)
    np.testing.assert_allclose(model.scorer()(np.arange(3)), expected, rtol=1e-4, atol=1e-6)


def test_recency_percentiles_share_the_newest_rank_among_simultaneous_items():
    # user 0: times 1, 4, 4, 9 -> ranks 0, 2, 2, 3 of 3; user 1: both at one time -> 1, 1
    train = Interactions(
        np.array([0, 0, 0, 0, 1, 1], np.int32),
        np.array([0, 1, 2, 3, 0, 1], np.int32),
        2,
        4,
        timestamps=np.array([1.0, 4.0, 4.0, 9.0, 7.0, 7.0]),
    )
    np.testing.assert_allclose(recency_percentiles(train), [0.0, 2 / 3, 2 / 3, 1.0, 1.0, 1.0])


def test_recency_history_keeps_the_newest_weight_of_a_repeated_pair():
    train = Interactions(
        np.array([0, 0, 0], np.int32),
        np.array([1, 0, 1], np.int32),
        1,
        2,
        timestamps=np.array([0.0, 1.0, 2.0]),
    )
    np.testing.assert_allclose(recency_history(train, 3.0).toarray(), [[np.exp(-1.5), 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(recency_history(train, 0.0).toarray(), [[1.0, 1.0]])


def test_recency_weighting_lets_the_newest_history_item_decide():
    """Item 0 co-occurs with item 2 for six users, item 1 with item 3 for three: plain EASE sends
    a user who had item 0 long ago and item 1 just now to item 2; recency-weighted EASE to item 3."""
    users = [u for u in range(6) for _ in range(2)] + [u for u in range(6, 9) for _ in range(2)] + [9, 9]
    items = [0, 2] * 6 + [1, 3] * 3 + [0, 1]
    times = np.arange(len(users), dtype=np.float64)  # the target user (9) had item 0 before item 1
    train = Interactions(np.array(users, np.int32), np.array(items, np.int32), 10, 4, timestamps=times)
    target = np.array([9])
    plain = RecencyWeightedEASE().fit(train, l2=1.0, strength=0.0).scorer()(target)[0]
    recent = RecencyWeightedEASE().fit(train, l2=1.0, strength=4.0).scorer()(target)[0]
    assert plain[2] > plain[3]  # the older, better supported association wins without recency
    assert recent[3] > recent[2]  # the newest item's association wins with it
    seen = train.user_item_matrix()
    assert top_unseen(RecencyWeightedEASE().fit(train, 1.0, 0.0).scorer(), target, 1, seen)[0, 0] == 2
    assert top_unseen(RecencyWeightedEASE().fit(train, 1.0, 4.0).scorer(), target, 1, seen)[0, 0] == 3


def _planted_drift(n_users=120, n_clusters=6, items_per_cluster=10, old=4, new=3, held=2, seed=0):
    """Each user first takes `old` items of one cluster, then `new` of another; the held-out items
    are further items of the second (latest) cluster: the last items predict the future."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_clusters, n_users)
    second = (first + rng.integers(1, n_clusters, n_users)) % n_clusters
    picks = np.argsort(rng.random((n_users, 2, items_per_cluster)), axis=2)
    old_items = first[:, None] * items_per_cluster + picks[:, 0, :old]
    new_items = second[:, None] * items_per_cluster + picks[:, 1, : new + held]
    history = np.concatenate([old_items, new_items[:, :new]], axis=1)
    users = np.repeat(np.arange(n_users), old + new).astype(np.int32)
    times = np.tile(np.arange(old + new, dtype=np.float64), n_users)
    n_items = n_clusters * items_per_cluster
    train = Interactions(users, history.ravel().astype(np.int32), n_users, n_items, timestamps=times)
    held_rows = np.repeat(np.arange(n_users), held)
    held_matrix = sp.csr_matrix(
        (np.ones(len(held_rows), np.float32), (held_rows, new_items[:, new:].ravel())),
        shape=(n_users, n_items),
    )
    return train, held_matrix


def test_tune_recency_ease_picks_the_best_pair_where_recency_matters(capsys):
    train, held = _planted_drift()
    l2_grid, strength_grid = [1.0, 10.0, 100.0], [0.0, 2.0, 8.0]
    model, best, table = tune_recency_ease(
        train, held, ks=[5], l2_grid=l2_grid, strength_grid=strength_grid, metric="NDCG@5"
    )
    assert [(row["l2"], row["strength"]) for row in table] == [(a, b) for a in l2_grid for b in strength_grid]
    top = table[int(np.argmax([row["NDCG@5"] for row in table]))]
    assert best == {"l2": top["l2"], "strength": top["strength"]}
    assert best["strength"] > 0  # recency helps here ...
    plain_best = max(row["NDCG@5"] for row in table if row["strength"] == 0)
    assert top["NDCG@5"] > plain_best + 0.1, (top["NDCG@5"], plain_best)  # ... by a wide margin
    assert model.l2 == best["l2"] and model.strength == best["strength"]
    refit = RecencyWeightedEASE().fit(train, l2=best["l2"], strength=best["strength"])
    users = np.arange(train.n_users)
    np.testing.assert_allclose(model.scorer()(users), refit.scorer()(users), atol=1e-5)
    assert evaluate(model.scorer(), train.user_item_matrix(), held, [5])["NDCG@5"] == pytest.approx(
        top["NDCG@5"]
    )
    assert capsys.readouterr().out.count("EASE, recency-weighted l2=") == 9  # every trial reported


def test_recency_ease_refuses_interactions_without_timestamps_and_bad_settings():
    train = _random_interactions(6, 5)
    untimed = Interactions(train.users, train.items, 6, 5)
    with pytest.raises(DataError, match="timestamps"):
        RecencyWeightedEASE().fit(untimed)
    with pytest.raises(DataError, match="timestamps"):
        tune_recency_ease(untimed, train.user_item_matrix())
    with pytest.raises(DataError, match="Interactions"):
        RecencyWeightedEASE().fit(train.user_item_matrix())
    with pytest.raises(ConfigError, match="recency strength"):
        RecencyWeightedEASE().fit(train, strength=-1.0)
    with pytest.raises(RecsysError, match="not fitted"):
        RecencyWeightedEASE().scorer()
    with pytest.raises(DataError, match="training shape"):
        EASE().fit(train.user_item_matrix()).scorer(sp.csr_matrix((6, 4), dtype=np.float32))


# --------------------------------------------------------------------------------------------
# most popular
# --------------------------------------------------------------------------------------------
def test_most_popular_ranks_by_count_and_excludes_seen_items():
    # counts in training: item0 x3, item1 x2, item2 x1, item3 x0
    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]], np.float32))
    held = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], np.float32))
    model = MostPopular().fit(train)
    np.testing.assert_array_equal(model.item_counts, [3, 2, 1, 0])
    top = top_unseen(model.scorer(), np.arange(3), 2, train)
    np.testing.assert_array_equal(top, [[1, 2], [2, 3], [3, -1]])  # seen items never come back
    metrics = evaluate(model.scorer(), train, held, [1, 2])
    assert metrics["users"] == 3
    assert metrics["Recall@1"] == pytest.approx(2 / 3)  # u0 hits item1, u1 gets item2 (miss), u2 hits item3
    assert metrics["Recall@2"] == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# iALS
# --------------------------------------------------------------------------------------------
def test_ials_beats_popularity_on_planted_blocks():
    pytest.importorskip("implicit", reason="the iALS baseline needs the optional 'implicit' package")
    train, held = _planted_blocks((40, 20, 20))
    ials = IALS(factors=8, regularization=0.1, alpha=5.0, iterations=5, seed=1, num_threads=1).fit(train)
    assert ials.user_factors.shape == (80, 8) and ials.item_factors.shape == (30, 8)
    ials_ndcg = evaluate(ials.scorer(), train, held, [5])["NDCG@5"]
    pop_ndcg = evaluate(MostPopular().fit(train).scorer(), train, held, [5])["NDCG@5"]
    assert ials_ndcg > pop_ndcg + 0.2, (ials_ndcg, pop_ndcg)


def test_tune_ials_reports_every_trial():
    pytest.importorskip("implicit", reason="the iALS baseline needs the optional 'implicit' package")
    train, held = _planted_blocks((20, 10), items_per_block=8, seen=4, held=2)
    grid = {"factors": [4], "regularization": [0.1, 1.0], "alpha": [2.0]}
    model, params, table = tune_ials(train, held, ks=[5], grid=grid, metric="Recall@5", iterations=3)
    assert len(table) == 2 and set(params) == {"iterations", "factors", "regularization", "alpha"}
    assert params["regularization"] == table[int(np.argmax([r["Recall@5"] for r in table]))]["regularization"]
    assert model.regularization == params["regularization"]
    with pytest.raises(ConfigError, match="grid"):
        tune_ials(train, held, grid={"factor": [4]})


def test_ials_confidence_from_scores():
    scores = sp.csr_matrix(np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]], np.float32))
    np.testing.assert_allclose(confidence_matrix(scores, "binary", 5.0).data, [5.0, 5.0, 5.0])
    np.testing.assert_allclose(confidence_matrix(scores, "linear", 5.0).data, [2.5, 7.5, 5.0])  # mean 2
    expected_log = 1.0 + 5.0 * np.log1p(np.array([1.0, 3.0, 2.0]) / 2.0)  # median 2
    np.testing.assert_allclose(confidence_matrix(scores, "log", 5.0).data, expected_log, rtol=1e-6)
    with pytest.raises(DataError, match="positive"):
        confidence_matrix(sp.csr_matrix(np.array([[1.0, -2.0]], np.float32)), "log", 1.0)
    with pytest.raises(ConfigError, match="confidence"):
        IALS(confidence="sqrt")


def test_ials_linear_confidence_on_constant_scores_is_binary_ials():
    """alpha * c / mean(c) is alpha when every score is equal: the same model as binary iALS."""
    pytest.importorskip("implicit", reason="the iALS baseline needs the optional 'implicit' package")
    train, _ = _planted_blocks((20, 10), items_per_block=8, seen=4, held=2)
    constant = train * 7.0
    options = dict(factors=4, regularization=0.1, alpha=3.0, iterations=3, seed=1, num_threads=1)
    binary = IALS(**options).fit(train)
    linear = IALS(confidence="linear", **options).fit(constant)
    np.testing.assert_allclose(linear.user_factors, binary.user_factors, rtol=1e-5, atol=1e-6)
    model, params, table = tune_ials(
        constant, _, ks=[5], grid={"factors": [4], "regularization": [0.1], "alpha": [3.0]}, confidence="log"
    )
    assert model.confidence == "log" and len(table) == 1


def test_ials_without_implicit_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "implicit.als", None)  # makes the import fail
    with pytest.raises(RecsysError, match="pip install implicit"):
        IALS().fit(_random_binary(5, 4))


# --------------------------------------------------------------------------------------------
# protocol helpers
# --------------------------------------------------------------------------------------------
def test_protocol_splits_are_nested_and_disjoint():
    protocol = _load_protocol()
    rng = np.random.default_rng(0)
    counts = np.array([1, 2, 5, 10, 23])
    users = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
    items = np.concatenate([rng.permutation(40)[:c] for c in counts]).astype(np.int32)
    times = rng.permutation(len(users)).astype(np.float64)
    data = Interactions(users, items, len(counts), 40, timestamps=times)
    for by_time in (False, True):
        splits = protocol.protocol_splits(data, by_time, seed=3)
        train, validation, test = splits  # unpacks as a 3-tuple
        key = lambda d: set(zip(d.users.tolist(), d.items.tolist()))  # noqa: E731
        assert key(train) | key(test) == key(data) and not key(train) & key(test)
        assert key(validation) <= key(train)
        assert key(splits.tuning_train) == key(train) - key(validation)
        # floor(20 %), at least one, none for single-interaction users
        np.testing.assert_array_equal(np.bincount(test.users, minlength=5), [0, 1, 1, 2, 4])
        np.testing.assert_array_equal(np.bincount(validation.users, minlength=5), [0, 0, 1, 1, 3])
        if by_time:
            for u in range(1, 5):  # test rows are each user's latest
                assert test.timestamps[test.users == u].min() > train.timestamps[train.users == u].max()


@pytest.mark.slow
def test_ease_beats_most_popular_on_movielens():
    if not MOVIELENS.exists():
        pytest.skip(f"MovieLens ml-latest-small not found at {MOVIELENS} (shared datasets folder absent)")
    protocol = _load_protocol()
    splits = protocol.protocol_splits(protocol.load_movielens_interactions(MOVIELENS), by_time=False, seed=0)
    train, test = protocol.matrix(splits.train), protocol.matrix(splits.test)
    ease = evaluate(EASE().fit(train, l2=300.0).scorer(), train, test, [20])
    popular = evaluate(MostPopular().fit(train).scorer(), train, test, [20])
    assert ease["users"] == 610
    assert ease["NDCG@20"] > popular["NDCG@20"] + 0.1, (ease["NDCG@20"], popular["NDCG@20"])
    assert 0.30 < ease["NDCG@20"] < 0.42  # reference protocol figure 0.358
