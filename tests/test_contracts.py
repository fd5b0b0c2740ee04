"""One contract for every baseline and every retrieval index (CONTRIBUTING.md: a new one is added to
`BASELINES` or `INDEXES` here): shapes and dtypes, excluded items never returned, padding where a
query has fewer items left than asked, the best first, and a save (pickle) -> load that answers the
same."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp
from planted import community_interactions

from recsys.data.interactions import Interactions
from recsys.eval.ease import EASE
from recsys.eval.ials import IALS
from recsys.eval.popular import MostPopular
from recsys.eval.recency_ease import RecencyWeightedEASE
from recsys.ranking.exact import ExactIndex, RetrievalIndex, ScorerIndex
from recsys.ranking.index import make_index
from recsys.ranking.similarity import unit_rows

N_USERS, N_ITEMS, N_GROUPS = 80, 40, 4

# name -> fit(training interactions) -> a fitted baseline (the `Baseline` protocol: `scorer()`)
BASELINES: dict[str, Callable[[Interactions], object]] = {
    "most popular": lambda data: MostPopular().fit(data.user_item_matrix()),
    "EASE": lambda data: EASE().fit(data.user_item_matrix(), l2=5.0),
    "EASE, recency-weighted": lambda data: RecencyWeightedEASE().fit(data, l2=5.0, strength=2.0),
    "iALS": lambda data: IALS(factors=8, regularization=1.0, iterations=5, num_threads=1).fit(
        data.user_item_matrix()
    ),
}


@pytest.fixture(scope="module")
def planted():
    data, user_group, item_group = community_interactions(
        n_users=N_USERS, n_items=N_ITEMS, n_groups=N_GROUPS, per_user=6, seed=3
    )
    return data, user_group, item_group


@pytest.fixture(scope="module", params=list(BASELINES))
def baseline(request, planted):
    if request.param == "iALS":
        pytest.importorskip("implicit")
    return BASELINES[request.param](planted[0])


def test_a_baseline_scores_every_item_of_every_user_as_float32(baseline):
    users = np.array([0, 7, N_USERS - 1])
    scores = baseline.scorer()(users)
    assert scores.shape == (3, N_ITEMS) and scores.dtype == np.float32 and np.isfinite(scores).all()
    np.testing.assert_allclose(
        baseline.scorer()(users[1:2]), scores[1:2], rtol=1e-5, atol=1e-6
    )  # block = rows


def test_a_baseline_never_recommends_a_seen_item_and_pads_when_few_are_left(baseline, planted):
    data = planted[0]
    seen = data.user_item_matrix().tolil()
    seen[0, :] = 1  # user 0 has seen everything: nothing to recommend
    seen[1, : N_ITEMS - 3] = 1  # user 1 has 3 items left
    seen = seen.tocsr()
    users = np.arange(N_USERS)
    index = ScorerIndex(baseline.scorer(), N_ITEMS)
    items, scores = index.search(users, 10, seen)
    assert items.shape == scores.shape == (N_USERS, 10)
    assert items.dtype == np.int32 and scores.dtype == np.float32
    assert (items[0] == -1).all() and np.isneginf(scores[0]).all()
    assert sorted(items[1, :3]) == [N_ITEMS - 3, N_ITEMS - 2, N_ITEMS - 1] and (items[1, 3:] == -1).all()
    found = items >= 0
    assert not seen[np.repeat(users, 10)[found.ravel()], items[found]].any()
    assert (np.diff(np.where(found, scores, np.finfo(np.float32).min), axis=1) <= 0).all()  # best first
    full = baseline.scorer()(users)
    rows, cols = np.nonzero(found)
    np.testing.assert_allclose(scores[rows, cols], full[rows, items[rows, cols]], rtol=1e-6)


def test_a_baseline_reloads_to_the_same_scores(baseline):
    users = np.arange(N_USERS)
    reloaded = pickle.loads(pickle.dumps(baseline))
    np.testing.assert_array_equal(reloaded.scorer()(users), baseline.scorer()(users))


def test_a_personalised_baseline_finds_the_planted_groups(baseline, planted):
    """Users interact only inside their group: a personalised baseline ranks their unseen items
    from that group first (most popular, which is not personalised, is exempt)."""
    if isinstance(baseline, MostPopular):
        pytest.skip("most popular ranks every user alike")
    data, user_group, item_group = planted
    users = np.arange(N_USERS)
    items, _ = ScorerIndex(baseline.scorer(), N_ITEMS).search(users, 3, data.user_item_matrix())
    assert (item_group[items] == user_group[:, None]).mean() > 0.9


# --- retrieval indexes -----------------------------------------------------------------------------
def _vectors(seed: int = 0, n_items: int = 3000, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_items, dim)).astype(np.float32)


def _ann() -> RetrievalIndex:
    pytest.importorskip("faiss")
    return make_index(_vectors(), kind="ann", n_lists=16, n_probe=16)  # every list scanned: exact


# name -> (the index over `_vectors()`, the queries it takes for the vector queries `q`)
INDEXES: dict[str, Callable[[], tuple[RetrievalIndex, Callable[[np.ndarray], np.ndarray]]]] = {
    "exact": lambda: (ExactIndex(_vectors()), lambda q: q),
    "exact over unit vectors (cosine)": lambda: (ExactIndex(unit_rows(_vectors())), lambda q: unit_rows(q)),
    "approximate (faiss IVF)": lambda: (_ann(), lambda q: q),
    "scorer": lambda: (
        ScorerIndex(lambda rows: QUERIES[rows] @ _vectors().T, len(_vectors()), block_size=7),
        lambda q: np.arange(len(q)),
    ),
}
QUERIES = np.random.default_rng(9).standard_normal((20, 8)).astype(np.float32)


@pytest.fixture(scope="module", params=list(INDEXES))
def index(request):
    return INDEXES[request.param]()


def _reference(index: RetrievalIndex, queries: np.ndarray) -> np.ndarray:
    """Every item's score for each query, as the index defines it."""
    if isinstance(index, ScorerIndex):
        return index.scorer(queries)
    return queries @ index.item_vectors.T


def test_an_index_answers_in_the_shared_format_best_first(index):
    make, to_queries = index
    queries = to_queries(QUERIES)
    items, scores = make.search(queries, 15)
    assert items.shape == scores.shape == (20, 15)
    assert items.dtype == np.int32 and scores.dtype == np.float32
    assert (np.diff(scores, axis=1) <= 0).all() and (items >= 0).all()
    reference = _reference(make, queries)
    np.testing.assert_allclose(scores, np.take_along_axis(reference, items.astype(np.int64), 1), rtol=1e-4)
    best = -np.sort(-reference, axis=1)[:, :15]
    np.testing.assert_allclose(scores, best, rtol=1e-4, atol=1e-5)  # exact (the IVF index scans all)


def test_an_index_leaves_out_the_excluded_items_and_pads(index):
    make, to_queries = index
    queries = to_queries(QUERIES)
    n_items = make.n_items
    exclude = sp.random(20, n_items, density=0.2, format="lil", random_state=4, dtype=np.float32)
    exclude[0, :] = 1  # everything excluded
    exclude[1, :] = 1
    exclude[1, [5, 17]] = 0  # two items left
    exclude = sp.csr_matrix(exclude)
    exclude.data[:] = 1
    items, scores = make.search(queries, 10, exclude)
    assert (items[0] == -1).all() and np.isneginf(scores[0]).all()
    assert sorted(items[1, :2]) == [5, 17] and (items[1, 2:] == -1).all() and np.isneginf(scores[1, 2:]).all()
    found = items >= 0
    rows = np.repeat(np.arange(20), 10)[found.ravel()]
    assert not exclude[rows, items[found]].any()
    assert (found[2:]).all()  # plenty left for the others: never short


def test_an_index_with_k_zero_or_beyond_the_catalogue(index):
    make, to_queries = index
    queries = to_queries(QUERIES[:3])
    items, scores = make.search(queries, 0)
    assert items.shape == scores.shape == (3, 0)
    with pytest.raises(Exception, match="k must be"):
        make.search(queries, -1)


def test_an_index_reloads_to_the_same_answers(index):
    make, to_queries = index
    queries = to_queries(QUERIES)
    if isinstance(make, ScorerIndex):
        pytest.skip("a scorer index holds a function: it is rebuilt from its model, not saved")
    reloaded = pickle.loads(pickle.dumps(make))
    for got, expected in zip(reloaded.search(queries, 12), make.search(queries, 12)):
        np.testing.assert_array_equal(got, expected)
