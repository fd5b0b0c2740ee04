"""Top-k retrieval of unseen items behind one interface: exact, or approximate for large catalogues.

`make_index(item_vectors)` returns a `RetrievalIndex`; its `search(user_vectors, k, seen)` gives
exactly what `recsys.topn.top_k_unseen` gives: (items int32, scores float32), users x k, best first
by dot product, seen items (a users x items CSR, one row per query) excluded, padded with -1 / -inf
only where a user has fewer than k unseen items.

- `ExactIndex` scores every item (`top_k_unseen`): exact, no build, cost linear in the catalogue.
- `IVFIndex` is a faiss inverted-file index (IVF-Flat): k-means splits the items into `n_lists`
  lists, a query scans only the `n_probe` lists whose centroids are nearest. The lists hold the
  vectors uncompressed, so the candidates it finds are ranked without quantisation error. The
  index is built on L2 distance: with items of one norm (L2-normalised embeddings, the default)
  the L2 order is the dot-product order; otherwise each item gets one extra coordinate
  sqrt(max_norm^2 - |v|^2) (queries get 0), which makes the L2 order the dot-product order
  again (the usual reduction of maximum inner product search to nearest neighbours).
  Seen items: each query fetches k + (its number of seen items, at most `max_overfetch`)
  candidates, drops the seen ones and re-ranks the rest by their exact dot product; a query left
  with fewer than k is answered by the exact path, so results are never short while the
  catalogue has k unseen items.

`make_index(kind="auto")` is exact up to AUTO_EXACT_MAX_ITEMS items and approximate above (see the
README's "Approximate retrieval" for the measurements behind the numbers). faiss is imported only
when an approximate index is built.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError, DataError
from recsys.topn import top_k_unseen

INDEX_KINDS = ("auto", "exact", "ann")
ANN_OPTIONS = ("n_lists", "n_probe", "max_overfetch", "seed")
FAISS_REQUIREMENT = "faiss-cpu==1.15.1"
# Exact up to this many items: at 500,000 items x 64 an exact query costs ~2 ms of CPU (~900
# queries/s on 2 cores) with nothing to build, and the IVF index is only ~6.5x faster at recall@50
# 0.95; at 1,000,000 items exact takes ~6 ms and the index is ~17x faster (README, measured).
AUTO_EXACT_MAX_ITEMS = 500_000
LISTS_PER_SQRT_ITEMS = 4  # n_lists = 4 sqrt(n_items): faiss's guideline is 4 to 16 sqrt(n)
MIN_POINTS_PER_LIST = 39  # k-means needs this many training points per centroid (faiss warns below)
TRAIN_POINTS_PER_LIST = 64  # k-means trains on a seeded sample of this many items per list
# Default n_probe: enough lists to scan about this many items per query. Recall follows the number
# of items scanned more than the share of the catalogue: ~16,000 gave recall@50 0.946-0.956 at both
# 500,000 and 1,000,000 clustered items (benchmarks/retrieval.py).
SCAN_ITEMS = 16_384
MAX_OVERFETCH = 1024  # extra candidates per query for its seen items, at most
_RERANK_BYTES = 64 << 20  # candidate vectors gathered per chunk of queries for the re-ranking


def import_faiss() -> Any:
    """The faiss module, or a one-line ConfigError that says how to install it."""
    try:
        import faiss
    except ImportError:
        raise ConfigError(
            f"approximate retrieval needs faiss: pip install {FAISS_REQUIREMENT} (or use kind='exact')"
        ) from None
    return faiss


def _as_item_matrix(item_vectors: np.ndarray) -> np.ndarray:
    items = np.ascontiguousarray(item_vectors, dtype=np.float32)
    if items.ndim != 2:
        raise DataError(f"item vectors must be 2-d (items x dim), got shape {items.shape}")
    if not np.isfinite(items).all():
        raise DataError("item vectors contain NaN or infinite values; check the trained model")
    return items


class RetrievalIndex:
    """Top-k unseen items by dot product over a fixed catalogue of item vectors."""

    kind = ""

    def __init__(self, item_vectors: np.ndarray) -> None:
        self.item_vectors = _as_item_matrix(item_vectors)

    @property
    def n_items(self) -> int:
        return int(self.item_vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.item_vectors.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes of memory the index holds (item vectors included)."""
        return int(self.item_vectors.nbytes)

    def search(
        self, user_vectors: np.ndarray, k: int, seen: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items per user, best first, `seen` (users x items) excluded: (items int32, scores
        float32), users x k, padded with -1 / -inf where a user has fewer than k unseen items."""
        raise NotImplementedError

    def _check_query(
        self, user_vectors: np.ndarray, k: int, seen: sp.spmatrix | sp.sparray | None
    ) -> tuple[np.ndarray, sp.csr_matrix | None]:
        users = np.asarray(user_vectors)
        if users.ndim != 2 or users.shape[1] != self.dim:
            raise DataError(
                f"user vectors must be 2-d with the items' width {self.dim}, got shape {users.shape}"
            )
        if k < 0:
            raise DataError(f"k must be >= 0, got {k}")
        users = np.ascontiguousarray(users, dtype=np.float32)
        if not np.isfinite(users).all():
            raise DataError("user vectors contain NaN or infinite values; check the trained model")
        if seen is None:
            return users, None
        if seen.shape != (users.shape[0], self.n_items):
            raise DataError(
                f"seen matrix must be users x items = {(users.shape[0], self.n_items)}, got {seen.shape}"
            )
        return users, sp.csr_matrix(seen)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n_items:,} items x {self.dim})"


class ExactIndex(RetrievalIndex):
    """Every item scored: `recsys.topn.top_k_unseen` (blocked matrix products, exact selection)."""

    kind = "exact"

    def __init__(self, item_vectors: np.ndarray, n_threads: int | None = None) -> None:
        super().__init__(item_vectors)
        self.n_threads = n_threads

    def search(
        self, user_vectors: np.ndarray, k: int, seen: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        users, seen_csr = self._check_query(user_vectors, k, seen)
        return top_k_unseen(users, self.item_vectors, k, seen=seen_csr, n_threads=self.n_threads)


def default_n_lists(n_items: int) -> int:
    """4 sqrt(n_items) lists, but at least MIN_POINTS_PER_LIST items per list (and at least 1)."""
    by_sqrt = int(round(LISTS_PER_SQRT_ITEMS * math.sqrt(max(n_items, 1))))
    return max(1, min(by_sqrt, n_items // MIN_POINTS_PER_LIST))


def default_n_probe(n_lists: int, n_items: int) -> int:
    """Lists to scan so that about SCAN_ITEMS items are scanned per query (at least 1, at most all)."""
    return max(1, min(n_lists, -(-SCAN_ITEMS * n_lists // max(n_items, 1))))


class IVFIndex(RetrievalIndex):
    """Approximate top-k by a faiss IVF-Flat index; seen items handled by over-fetching, exact
    re-ranking and an exact fallback (see the module docstring).

    `n_lists` (default 4 sqrt(n_items)) k-means lists; `n_probe` lists scanned per query (default:
    enough for about 16,000 items; more is slower and closer to exact: n_probe = n_lists is exact);
    `max_overfetch` caps the extra candidates fetched for a query's seen items; `seed` seeds the
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

    def search(
        self, user_vectors: np.ndarray, k: int, seen: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        users, seen_csr = self._check_query(user_vectors, k, seen)
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
            exact_items, exact_scores = top_k_unseen(
                users[rows],
                self.item_vectors,
                k,
                seen=None if seen_csr is None else seen_csr[rows],
                n_threads=self.n_threads,
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
        """Drop seen candidates, score the rest exactly, write the k best of each row into the
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


def make_index(
    item_vectors: np.ndarray,
    kind: str = "auto",
    exact_max_items: int = AUTO_EXACT_MAX_ITEMS,
    n_threads: int | None = None,
    **ann_options: Any,
) -> RetrievalIndex:
    """A retrieval index over `item_vectors` (items x dim): "exact" (ExactIndex), "ann" (IVFIndex,
    which needs faiss; `ann_options` go to it: n_lists, n_probe, max_overfetch, seed), or "auto":
    exact up to `exact_max_items` items, approximate above."""
    if kind not in INDEX_KINDS:
        raise ConfigError(f"unknown index kind {kind!r}; expected one of {', '.join(INDEX_KINDS)}")
    unknown = sorted(set(ann_options) - set(ANN_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown index option {unknown[0]!r}; expected one of {', '.join(ANN_OPTIONS)}")
    if kind == "exact" and ann_options:
        raise ConfigError(f"option {sorted(ann_options)[0]!r} applies to kind='ann' (or 'auto') only")
    n_items = np.shape(item_vectors)[0] if np.ndim(item_vectors) == 2 else 0
    if kind == "exact" or (kind == "auto" and n_items <= exact_max_items):
        return ExactIndex(item_vectors, n_threads=n_threads)
    return IVFIndex(item_vectors, n_threads=n_threads, **ann_options)
