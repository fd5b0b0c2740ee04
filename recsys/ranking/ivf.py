"""Approximate top-k for large catalogues: `IVFIndex`, a faiss inverted-file index (IVF-Flat).

k-means splits the items into `n_lists` lists; a query scans only the `n_probe` lists whose
centroids are nearest. The lists hold the vectors uncompressed, so the candidates it finds are
ranked without quantisation error. The index is built on L2 distance: with items of one norm
(L2-normalised embeddings, the default) the L2 order is the dot-product order; otherwise each item
gets one extra coordinate sqrt(max_norm^2 - |v|^2) (queries get 0), which makes the L2 order the
dot-product order again (the usual reduction of maximum inner product search to nearest
neighbours). Excluded items: each query fetches k + (its number of excluded items, at most
`max_overfetch`) candidates, drops the excluded ones and re-ranks the rest by their exact dot
product; a query left with fewer than k is answered by the exact path, so results are never short
while the catalogue has k items left for it.

faiss is an optional dependency (`pip install faiss-cpu`): this module imports it when an index is
built, and `recsys.ranking.index.make_index` chooses it for large catalogues.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError, DataError
from recsys.ranking.exact import ExactIndex, VectorIndex

__all__ = ["FAISS_REQUIREMENT", "IVFIndex", "default_n_lists", "default_n_probe", "import_faiss"]

FAISS_REQUIREMENT = "faiss-cpu==1.15.1"
LISTS_PER_SQRT_ITEMS = 4  # n_lists = 4 sqrt(n_items): faiss's guideline is 4 to 16 sqrt(n)
MIN_POINTS_PER_LIST = 39  # k-means needs this many training points per centroid (faiss warns below)
TRAIN_POINTS_PER_LIST = 64  # k-means trains on a seeded sample of this many items per list
# Default n_probe: enough lists to scan about this many items per query. Recall follows the number
# of items scanned more than the share of the catalogue: ~16,000 gave recall@50 0.946-0.956 at both
# 500,000 and 1,000,000 clustered items (benchmarks/retrieval.py).
SCAN_ITEMS = 16_384
MAX_OVERFETCH = 1024  # extra candidates per query for its excluded items, at most
_RERANK_BYTES = 64 << 20  # candidate vectors gathered per chunk of queries for the re-ranking
_UNPICKLED = ("_faiss", "_quantizer", "_index", "_exact")  # rebuilt by __setstate__


def import_faiss() -> Any:
    """The faiss module, or a one-line ConfigError that says how to install it."""
    try:
        import faiss
    except ImportError:
        raise ConfigError(
            f"approximate retrieval needs faiss: pip install {FAISS_REQUIREMENT} (or use kind='exact')"
        ) from None
    return faiss


def default_n_lists(n_items: int) -> int:
    """4 sqrt(n_items) lists, but at least MIN_POINTS_PER_LIST items per list (and at least 1)."""
    by_sqrt = int(round(LISTS_PER_SQRT_ITEMS * math.sqrt(max(n_items, 1))))
    return max(1, min(by_sqrt, n_items // MIN_POINTS_PER_LIST))


def default_n_probe(n_lists: int, n_items: int) -> int:
    """Lists to scan so that about SCAN_ITEMS items are scanned per query (at least 1, at most all)."""
    return max(1, min(n_lists, -(-SCAN_ITEMS * n_lists // max(n_items, 1))))


class IVFIndex(VectorIndex):
    """Approximate top-k by a faiss IVF-Flat index; excluded items handled by over-fetching, exact
    re-ranking and an exact fallback (see the module docstring).

    `n_lists` (default 4 sqrt(n_items)) k-means lists; `n_probe` lists scanned per query (default:
    enough for about 16,000 items; more is slower and closer to exact: n_probe = n_lists is exact);
    `max_overfetch` caps the extra candidates fetched for a query's excluded items; `seed` seeds the
    training sample and k-means; `n_threads` sets faiss's (OpenMP) threads while it works and the
    exact fallback's threads (default: one per core). `n_probe` may be changed after building.
    """

    kind = "ann"

    def __init__(
        self,
        item_vectors: np.ndarray,
        n_lists: int | None = None,
        n_probe: int | None = None,
        max_overfetch: int = MAX_OVERFETCH,
        seed: int = 0,
        n_threads: int | None = None,
    ) -> None:
        faiss = import_faiss()
        super().__init__(item_vectors)
        n_items = self.n_items
        if n_items == 0:
            raise DataError("cannot build an approximate index over an empty catalogue")
        self.n_lists = default_n_lists(n_items) if n_lists is None else int(n_lists)
        if not 1 <= self.n_lists <= n_items:
            raise ConfigError(f"n_lists must be between 1 and the number of items {n_items}, got {n_lists}")
        self.n_probe = default_n_probe(self.n_lists, n_items) if n_probe is None else int(n_probe)
        if self.n_probe < 1:
            raise ConfigError(f"n_probe must be >= 1, got {n_probe}")
        if max_overfetch < 0:
            raise ConfigError(f"max_overfetch must be >= 0, got {max_overfetch}")
        self.max_overfetch = int(max_overfetch)
        self.n_threads = n_threads
        self.last_fallbacks = 0  # queries of the last search answered by the exact path
        self._faiss = faiss
        self._exact: ExactIndex | None = None

        norms_sq = np.einsum("ij,ij->i", self.item_vectors, self.item_vectors, dtype=np.float64)
        top = float(norms_sq.max())
        # One norm (to float32 rounding): the L2 order is already the dot-product order.
        self.augmented = top > 0 and float(norms_sq.min()) < top * (1 - 1e-5)
        vectors = self.item_vectors
        if self.augmented:
            extra = np.sqrt(np.maximum(top - norms_sq, 0.0)).astype(np.float32)
            vectors = np.hstack([vectors, extra[:, None]])
        width = vectors.shape[1]
        rng = np.random.default_rng(seed)
        n_train = min(n_items, TRAIN_POINTS_PER_LIST * self.n_lists)
        train = (
            vectors if n_train == n_items else vectors[np.sort(rng.choice(n_items, n_train, replace=False))]
        )
        with self._threads():
            quantizer = faiss.IndexFlatL2(width)
            index = faiss.IndexIVFFlat(quantizer, width, self.n_lists, faiss.METRIC_L2)
            index.cp.seed = int(seed)
            index.cp.min_points_per_centroid = 1  # tiny catalogues: no warning on stderr for few points
            index.train(np.ascontiguousarray(train))
            index.add(vectors)
        self._quantizer = quantizer  # the IVF index refers to it: keep it alive
        self._index = index

    def __getstate__(self) -> dict:
        """What pickle saves: the settings and vectors, and the trained faiss index as faiss's own
        bytes (`serialize_index`), so a loaded index answers exactly as the saved one did."""
        state = {key: value for key, value in self.__dict__.items() if key not in _UNPICKLED}
        state["_index"] = self._faiss.serialize_index(self._index)
        return state

    def __setstate__(self, state: dict) -> None:
        faiss = import_faiss()
        self.__dict__.update(state)
        self._faiss, self._exact = faiss, None
        self._index = faiss.deserialize_index(state["_index"])
        self._quantizer = self._index.quantizer  # deserialised with the index, which owns it

    @property
    def nbytes(self) -> int:
        """Item vectors, plus faiss's lists (vectors and int64 ids) and centroids."""
        width = self.dim + int(self.augmented)
        return int(self.item_vectors.nbytes + self.n_items * (4 * width + 8) + self.n_lists * width * 4)

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """faiss runs on n_threads OpenMP threads inside (when n_threads is set)."""
        before = self._faiss.omp_get_max_threads()
        if self.n_threads:
            self._faiss.omp_set_num_threads(int(self.n_threads))
        try:
            yield
        finally:
            self._faiss.omp_set_num_threads(before)

    def _candidates(self, users: np.ndarray, fetch: int) -> np.ndarray:
        """faiss's `fetch` nearest items per user (int64, -1 where the probed lists hold fewer)."""
        queries = users
        if self.augmented:
            queries = np.hstack([users, np.zeros((users.shape[0], 1), dtype=np.float32)])
        self._index.nprobe = min(self.n_probe, self.n_lists)
        with self._threads():
            _, found = self._index.search(np.ascontiguousarray(queries), fetch)
        return found

    @property
    def exact(self) -> ExactIndex:
        """The exact index over the same vectors (not copied): the fallback of short queries."""
        if self._exact is None:
            self._exact = ExactIndex(self.item_vectors, n_threads=self.n_threads)
        return self._exact

    def search(
        self, queries: np.ndarray, k: int, exclude: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        users, k, seen_csr = self._check_query(queries, k, exclude)
        n_users, n_items = users.shape[0], self.n_items
        out_items = np.full((n_users, k), -1, dtype=np.int32)
        out_scores = np.full((n_users, k), -np.inf, dtype=np.float32)
        k_eff = min(k, n_items)
        if n_users == 0 or k_eff == 0:
            return out_items, out_scores
        if seen_csr is not None and seen_csr.nnz:
            n_seen = np.diff(seen_csr.indptr)
            seen_rows = np.repeat(np.arange(n_users, dtype=np.int64), n_seen)
            seen_keys = np.sort(seen_rows * n_items + seen_csr.indices)
        else:
            n_seen = np.zeros(n_users, dtype=np.int64)
            seen_keys = np.empty(0, dtype=np.int64)
        # Fetch sizes rounded up to powers of two: one faiss call per size, few sizes.
        wanted = np.minimum(k_eff + np.minimum(n_seen, self.max_overfetch), n_items)
        sizes = np.minimum(2 ** np.ceil(np.log2(wanted)).astype(np.int64), n_items)
        short = np.zeros(n_users, dtype=bool)
        for fetch in np.unique(sizes).tolist():
            rows = np.flatnonzero(sizes == fetch)
            found = self._candidates(users[rows], int(fetch))
            step = max(1, _RERANK_BYTES // (4 * int(fetch) * max(self.dim, 1)))
            for start in range(0, rows.size, step):
                part = rows[start : start + step]
                short[part] = self._rerank(
                    users[part], part, found[start : start + step], seen_keys, k_eff, out_items, out_scores
                )
        self.last_fallbacks = int(np.count_nonzero(short))
        if short.any():
            rows = np.flatnonzero(short)
            exact_items, exact_scores = self.exact.search(
                users[rows], k, None if seen_csr is None else seen_csr[rows]
            )
            out_items[rows], out_scores[rows] = exact_items, exact_scores
        return out_items, out_scores

    def _rerank(
        self,
        users: np.ndarray,
        rows: np.ndarray,
        found: np.ndarray,
        seen_keys: np.ndarray,
        k: int,
        out_items: np.ndarray,
        out_scores: np.ndarray,
    ) -> np.ndarray:
        """Drop excluded candidates, score the rest exactly, write the k best of each row into the
        outputs; return which rows had fewer than k candidates left."""
        valid = found >= 0
        if seen_keys.size:
            keys = rows[:, None] * self.n_items + found
            at = np.minimum(np.searchsorted(seen_keys, keys), seen_keys.size - 1)
            valid &= seen_keys[at] != keys
        safe = np.where(valid, found, 0)
        gathered = self.item_vectors[safe]  # (rows, fetch, dim)
        scores = np.matmul(gathered, users[:, :, None])[:, :, 0]
        scores[~valid] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(scores, order, axis=1)
        out_items[rows, : order.shape[1]] = np.where(
            best > -np.inf, np.take_along_axis(found, order, axis=1), -1
        )
        out_scores[rows, : order.shape[1]] = best
        return np.count_nonzero(valid, axis=1) < k
