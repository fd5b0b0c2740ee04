"""Retrieval indexes: the approximate (faiss IVF) index answers in exactly the exact path's format,
never returns a seen item, matches exact results when it scans every list, and falls back to the
exact path when seen items leave it short; "auto" picks exact for small catalogues; a missing faiss
is one clear project error."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError, DataError
from recsys.ranking.index import (
    ExactIndex,
    IVFIndex,
    RetrievalIndex,
    default_n_lists,
    default_n_probe,
    make_index,
)


@pytest.fixture
def faiss():
    return pytest.importorskip("faiss")


def clustered(n_items=5000, n_users=200, dim=16, clusters=50, seed=0, normalise=True):
    """Items and users from a mixture of Gaussian clusters (normalised unless told otherwise)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))

    def draw(n):
        x = centres[rng.integers(0, clusters, n)] + 0.7 * rng.standard_normal((n, dim))
        if normalise:
            x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)

    return draw(n_items), draw(n_users)


def seen_matrix(users, items, per_user=30, from_top=15, seed=1):
    """Seen items per user: `from_top` among the user's exact top 40, the rest uniform."""
    rng = np.random.default_rng(seed)
    top, _ = ExactIndex(items).search(users, 40)
    rows, cols = [], []
    for u in range(users.shape[0]):
        chosen = np.concatenate(
            [
                rng.choice(top[u], from_top, replace=False),
                rng.integers(0, items.shape[0], per_user - from_top),
            ]
        )
        rows += [u] * chosen.size
        cols += chosen.tolist()
    seen = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(users.shape[0], items.shape[0])
    )
    seen.sum_duplicates()
    return seen


def recall(found, truth):
    return np.mean(
        [
            len(set(a[a >= 0].tolist()) & set(t[t >= 0].tolist())) / max((t >= 0).sum(), 1)
            for a, t in zip(found, truth)
        ]
    )


def assert_same_format(got, expected):
    (items, scores), (ref_items, ref_scores) = got, expected
    assert items.dtype == np.int32 and scores.dtype == np.float32
    assert items.shape == ref_items.shape and scores.shape == ref_scores.shape
    np.testing.assert_array_equal(items < 0, ref_items < 0)  # padding at the same places
    np.testing.assert_array_equal(scores == -np.inf, ref_scores == -np.inf)
    assert np.all(np.diff(np.where(np.isinf(scores), -1e30, scores), axis=1) <= 0)  # best first


def assert_matches_exact(got, expected):
    assert_same_format(got, expected)
    for row_got, row_ref in zip(got[0], expected[0]):
        assert set(row_got.tolist()) == set(row_ref.tolist())
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-5)


def assert_no_seen(items, seen):
    seen = sp.csr_matrix(seen)
    for u, row in enumerate(items):
        assert not set(row[row >= 0].tolist()) & set(
            seen.indices[seen.indptr[u] : seen.indptr[u + 1]].tolist()
        )


def test_exhaustive_ann_matches_exact_with_and_without_seen(faiss):
    items, users = clustered()
    seen = seen_matrix(users, items)
    exact = ExactIndex(items)
    ann = IVFIndex(items, n_probe=10**6)  # every list scanned: exact results
    for s in (None, seen):
        assert_matches_exact(ann.search(users, 10, s), exact.search(users, 10, s))
        assert_matches_exact(ann.search(users, 10, s), ExactIndex(items).search(users, 10, s))


def test_high_recall_setting_on_5000_items(faiss):
    items, users = clustered()
    seen = seen_matrix(users, items)
    ann = IVFIndex(items)
    ann.n_probe = ann.n_lists // 2
    for s in (None, seen):
        found, _ = ann.search(users, 10, s)
        assert recall(found, ExactIndex(items).search(users, 10, s)[0]) >= 0.99


def test_default_n_probe_scans_about_16k_items(faiss):
    small = IVFIndex(clustered()[0])  # 5,000 items: every list
    assert small.n_probe == small.n_lists
    assert default_n_probe(4000, 1_000_000) == 66 and default_n_probe(1789, 200_000) == 147
    assert default_n_lists(1_000_000) == 4000 and default_n_lists(100) == 2 and default_n_lists(5) == 1


def test_seen_items_never_returned(faiss):
    items, users = clustered(n_items=3000, n_users=100)
    seen = seen_matrix(users, items, per_user=200, from_top=40)
    for index in (ExactIndex(items), IVFIndex(items), IVFIndex(items, max_overfetch=0)):
        found, scores = index.search(users, 25, seen)
        assert_no_seen(found, seen)
        assert (found >= 0).all() and np.isfinite(scores).all()  # enough unseen items: never short


def test_short_candidate_lists_fall_back_to_exact(faiss):
    items, users = clustered()
    seen = seen_matrix(users, items, per_user=40, from_top=40)  # each user's whole top 40 is seen
    ann = IVFIndex(items, n_probe=10**6, max_overfetch=0)  # fetches only k: seen items leave it short
    got = ann.search(users, 10, seen)
    assert ann.last_fallbacks == users.shape[0]
    assert_matches_exact(got, ExactIndex(items).search(users, 10, seen))


def test_general_inner_product_with_unequal_norms(faiss):
    items, users = clustered(normalise=False)
    items *= np.random.default_rng(3).uniform(0.2, 3.0, (items.shape[0], 1)).astype(np.float32)
    seen = seen_matrix(users, items)
    ann = IVFIndex(items, n_probe=10**6)
    assert ann.augmented
    assert_matches_exact(ann.search(users, 20, seen), ExactIndex(items).search(users, 20, seen))
    assert not IVFIndex(clustered()[0]).augmented  # one norm: no extra coordinate


def test_a_biased_ann_index_ranks_as_the_exact_index_with_the_bias(faiss):
    from recsys.ranking.popularity import BiasedIndex

    items, users = clustered()
    bias = np.random.default_rng(4).normal(0.0, 0.5, items.shape[0]).astype(np.float32)
    seen = seen_matrix(users, items)
    exact = ExactIndex(items, bias)
    made = make_index(items, kind="ann", item_bias=bias, n_probe=10**6)
    assert isinstance(made, BiasedIndex) and made.kind == "ann+bias" and made.inner.dim == items.shape[1] + 1
    assert_matches_exact(made.search(users, 20, seen), exact.search(users, 20, seen))
    assert not np.array_equal(exact.search(users, 20)[0], ExactIndex(items).search(users, 20)[0])
    assert make_index(items, kind="exact", item_bias=bias).item_bias is not None


def test_catalogue_smaller_than_k(faiss):
    items, users = clustered(n_items=30, n_users=5)
    seen = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 3], [2, 7, 29])), shape=(5, 30))
    for s in (None, seen):
        expected = ExactIndex(items).search(users, 50, s)
        got = IVFIndex(items).search(users, 50, s)
        assert got[0].shape == (5, 50)
        assert_matches_exact(got, expected)
        assert_matches_exact(make_index(items, kind="ann").search(users, 50, s), expected)


def test_users_who_have_seen_almost_everything(faiss):
    items, users = clustered(n_items=500, n_users=4)
    seen = np.ones((4, 500), dtype=np.float32)
    seen[0, [3, 99, 400]] = 0  # three unseen items
    seen[1, 17] = 0  # one
    seen[3, :] = 0  # none seen
    seen = sp.csr_matrix(seen)  # user 2 has seen everything
    expected = ExactIndex(items).search(users, 10, seen)
    got = IVFIndex(items, n_lists=8, n_probe=8).search(users, 10, seen)
    assert_matches_exact(got, expected)
    assert sorted(got[0][0, :3].tolist()) == [3, 99, 400] and (got[0][0, 3:] == -1).all()
    assert got[0][1, 0] == 17 and (got[0][2] == -1).all() and (got[1][2] == -np.inf).all()


def test_empty_queries_and_k_zero(faiss):
    items, users = clustered(n_items=400, n_users=3)
    for index in (ExactIndex(items), IVFIndex(items)):
        for result, shape in ((index.search(users[:0], 5), (0, 5)), (index.search(users, 0), (3, 0))):
            assert result[0].shape == shape and result[1].shape == shape
            assert result[0].dtype == np.int32 and result[1].dtype == np.float32


def test_seen_in_any_sparse_format_and_with_duplicates(faiss):
    items, users = clustered(n_items=1000, n_users=20)
    top, _ = ExactIndex(items).search(users, 5)
    rows = np.repeat(np.arange(20), 6)
    cols = np.hstack([top, top[:, :1]]).ravel()  # the best item twice per user, in COO
    seen = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(20, 1000))
    got = IVFIndex(items, n_probe=10**6).search(users, 10, seen)
    assert_no_seen(got[0], seen)
    assert_matches_exact(got, ExactIndex(items).search(users, 10, seen.tocsr()))


def test_auto_chooses_exact_for_small_catalogues_and_ann_above(faiss):
    items, _ = clustered(n_items=2000)
    index = make_index(items)
    assert isinstance(index, ExactIndex) and isinstance(index, RetrievalIndex) and index.kind == "exact"
    assert isinstance(make_index(items, exact_max_items=1000), IVFIndex)
    assert make_index(items, kind="ann", n_probe=3).n_probe == 3
    assert make_index(items, kind="exact").kind == "exact"


def test_bad_arguments_are_project_errors(faiss):
    items, users = clustered(n_items=300, n_users=3)
    with pytest.raises(ConfigError, match="unknown index kind"):
        make_index(items, kind="hnsw")
    with pytest.raises(ConfigError, match="unknown index option"):
        make_index(items, kind="ann", nprobe=3)
    with pytest.raises(ConfigError, match="kind='ann'"):
        make_index(items, kind="exact", n_probe=3)
    with pytest.raises(ConfigError, match="n_lists"):
        IVFIndex(items, n_lists=301)
    with pytest.raises(DataError, match="empty catalogue"):
        IVFIndex(np.zeros((0, 4), np.float32))
    for index in (ExactIndex(items), IVFIndex(items)):
        with pytest.raises(DataError, match="width"):
            index.search(users[:, :3], 5)
        with pytest.raises(DataError, match="exclude matrix"):
            index.search(users, 5, sp.csr_matrix((3, 10)))
        with pytest.raises(DataError, match="k must be"):
            index.search(users, -1)
        with pytest.raises(DataError, match="NaN"):
            index.search(np.full_like(users, np.nan), 5)
    with pytest.raises(DataError, match="NaN"):
        IVFIndex(np.full((10, 4), np.nan, np.float32))


def test_missing_faiss_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` now raises ImportError
    items, users = clustered(n_items=300, n_users=3)
    for build in (lambda: make_index(items, kind="ann"), lambda: make_index(items, exact_max_items=10)):
        with pytest.raises(
            ConfigError, match=r"^approximate retrieval needs faiss: pip install faiss-cpu=="
        ) as err:
            build()
        assert "\n" not in str(err.value)
    # Exact retrieval, and "auto" on a small catalogue, do not need faiss at all.
    assert make_index(items).search(users, 5)[0].shape == (3, 5)


def test_benchmark_runs_small(faiss, capsys):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "retrieval.py"
    spec = importlib.util.spec_from_file_location("benchmarks_retrieval", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--items", "3000", "--dim", "8", "--queries", "40", "--clusters", "30", "--repeats", "1"]
    argv += ["--n-probe", "2", "76"]
    assert module.main(argv) == 0
    out = capsys.readouterr().out
    assert "recall@50" in out and out.count("ann, n_probe") == 4
