"""Top-k selection (`recsys.ranking.selection`) and the exact index against a brute-force full sort:
sizes, ties, excluded items, padding, bias, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import DataError
from recsys.ranking import exact
from recsys.ranking import selection as topn
from recsys.ranking.exact import ExactIndex
from recsys.ranking.selection import mask_rows, top_k


def brute_force(scores: np.ndarray, k: int) -> np.ndarray:
    """Top-k score values per row by a full sort, -inf padded (the reference)."""
    ordered = -np.sort(-scores, axis=1)[:, :k]
    return np.pad(ordered, ((0, 0), (0, max(0, k - scores.shape[1]))), constant_values=-np.inf)


def check(items: np.ndarray, values: np.ndarray, scores: np.ndarray, k: int) -> None:
    """`scores` is the masked reference matrix (-inf = seen). Ties may pick different items."""
    assert items.shape == values.shape == (scores.shape[0], k)
    assert items.dtype == np.int32 and values.dtype == np.float32
    np.testing.assert_array_equal(values, brute_force(scores, k))
    finite = np.isfinite(values)
    assert np.array_equal(items >= 0, finite), "items must be -1 exactly where the score is -inf"
    rows, cols = np.nonzero(finite)
    np.testing.assert_array_equal(scores[rows, items[rows, cols]], values[rows, cols])
    for row in items:  # no item twice (a tie must not duplicate a candidate)
        real = row[row >= 0]
        assert len(np.unique(real)) == len(real)


def random_seen(rng, n_users, n_items, density):
    seen = sp.random(n_users, n_items, density=density, format="csr", random_state=rng, dtype=np.float32)
    seen.data[:] = 1
    return seen


def masked(scores, seen):
    out = scores.copy()
    out[seen.toarray() > 0] = -np.inf
    return out


@pytest.mark.parametrize(
    "n_users, n_items, k",
    [
        (1, 1, 1),
        (3, 5, 2),
        (7, 10, 10),
        (5, 10, 15),
        (20, 300, 7),
        (9, 3000, 40),
        (33, 2600, 1),
        (4, 5000, 0),
        (150, 2100, 10),
    ],  # the last spans several row chunks (threads)
)
@pytest.mark.parametrize("density", [0.0, 0.3])
def test_matches_brute_force(n_users, n_items, k, density):
    rng = np.random.default_rng(n_users * 1000 + n_items + k)
    scores = rng.standard_normal((n_users, n_items)).astype(np.float32)
    seen = random_seen(rng, n_users, n_items, density)
    items, values = top_k(scores.copy(), k, seen)
    check(items, values, masked(scores, seen), k)


@pytest.mark.parametrize("small_sort, per_k", [(8, 2), (4, 1)])
def test_grouped_path_on_small_data(monkeypatch, small_sort, per_k):
    """Shrink the grouping constants so that small rows take the strided-group path."""
    monkeypatch.setattr(topn, "_SMALL_SORT", small_sort)
    monkeypatch.setattr(topn, "_GROUPS_PER_K", per_k)
    rng = np.random.default_rng(small_sort)
    for n_items, k in [(37, 3), (100, 5), (257, 8), (64, 16)]:
        scores = rng.integers(-3, 4, size=(25, n_items)).astype(np.float32)  # many ties
        seen = random_seen(rng, 25, n_items, 0.5).tolil()
        seen[0, :] = 1  # a user who has seen everything
        seen = seen.tocsr()
        items, values = top_k(scores.copy(), k, seen)
        check(items, values, masked(scores, seen), k)
        assert (items[0] == -1).all() and np.isneginf(values[0]).all()


def test_all_seen_rows_and_fewer_unseen_than_k():
    scores = np.arange(12, dtype=np.float32).reshape(3, 4)
    seen = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 0, 0]], dtype=np.float32))
    items, values = top_k(scores.copy(), 3, seen)
    np.testing.assert_array_equal(items, [[-1, -1, -1], [1, -1, -1], [3, 2, 1]])
    np.testing.assert_array_equal(values[1], [5, -np.inf, -np.inf])


def test_all_ties_keep_k_distinct_items():
    scores = np.zeros((4, 3000), dtype=np.float32)
    items, values = top_k(scores, 50)
    assert (values == 0).all() and (items >= 0).all()
    assert all(len(set(row)) == 50 for row in items)


@pytest.mark.parametrize("n_users, block_size, n_threads", [(50, 1, 1), (150, 7, 2), (150, 64, None)])
def test_exact_index_with_bias_in_blocks(monkeypatch, n_users, block_size, n_threads):
    """Integer embeddings make every product exact, so scores compare exactly (ties included);
    more than SMALL_BATCH queries are scored in blocks of `block_size` on `n_threads` threads."""
    monkeypatch.setattr(exact, "default_block_size", lambda n_items: block_size)
    rng = np.random.default_rng(block_size)
    users = rng.integers(-2, 3, size=(n_users, 4)).astype(np.float32)
    items = rng.integers(-2, 3, size=(2500, 4)).astype(np.float32)
    bias = rng.integers(-1, 2, size=2500).astype(np.float32)
    seen = random_seen(rng, n_users, 2500, 0.05)
    top_items, top_scores = ExactIndex(items, item_bias=bias, n_threads=n_threads).search(users, 30, seen)
    check(top_items, top_scores, masked(users @ items.T + bias, seen), 30)
    assert not seen[np.repeat(np.arange(n_users), 30), top_items.ravel()].any()


def test_unseen_with_k_beyond_catalogue():
    rng = np.random.default_rng(0)
    users, items = rng.standard_normal((6, 3)), rng.standard_normal((4, 3))
    top_items, top_scores = ExactIndex(items).search(users, 6)
    assert (top_items[:, 4:] == -1).all() and np.isneginf(top_scores[:, 4:]).all()
    assert all(sorted(row[:4]) == [0, 1, 2, 3] for row in top_items)
    assert (np.diff(top_scores[:, :4], axis=1) <= 0).all()


def test_errors_are_clear():
    rng = np.random.default_rng(0)
    users, items = rng.standard_normal((3, 2)), rng.standard_normal((5, 2))
    with pytest.raises(DataError, match="exclude matrix"):
        ExactIndex(items).search(users, 2, sp.csr_matrix((3, 4)))
    with pytest.raises(DataError, match="exclude matrix"):
        top_k(np.zeros((3, 5), np.float32), 2, sp.csr_matrix((2, 5)))
    with pytest.raises(DataError, match="width"):
        ExactIndex(items).search(users[:, :1], 2)
    with pytest.raises(DataError, match="item_bias"):
        ExactIndex(items, item_bias=np.zeros(4))
    with pytest.raises(DataError, match="k must be"):
        ExactIndex(items).search(users, -1)
    items[1, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ExactIndex(items).search(users, 2)


def test_mask_rows_sets_minus_inf_in_place():
    scores = np.ones((2, 3), dtype=np.float32)
    excluded = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1]], dtype=np.float32))
    mask_rows(scores, excluded.indptr, excluded.indices)
    np.testing.assert_array_equal(np.isneginf(scores), [[False, True, False], [True, False, True]])
