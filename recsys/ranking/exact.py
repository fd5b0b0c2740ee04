"""Retrieval behind one interface: `search(queries, k, exclude)` gives the k best items of each
query, best first, the excluded items (a queries x items sparse matrix) left out, as (items int32,
scores float32), queries x k, padded with -1 / -inf only where a query has fewer than k items left.

- `ExactIndex` scores every item by the dot product of the query vectors with the item vectors
  (plus an optional per-item bias): exact, no build, cost linear in the catalogue. Cosine
  similarity is an `ExactIndex` over unit vectors.
- `IVFIndex` (`recsys.ranking.ivf`) is approximate, for large catalogues (faiss); choose between
  them with `recsys.ranking.index.make_index`.
- `ScorerIndex` ranks whatever a scorer gives: a function from a block of queries (user indices)
  to their dense scores, the form of the baselines (EASE, iALS, most popular).

Every index ends in `recsys.ranking.selection.top_k`, so exclusion, padding and tie order (equal
scores by item index, the lower first) are the same for evaluation, predictions, the Python API,
the service and similar items.

Example:
    >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32)
    >>> index = ExactIndex(items)
    >>> exclude = sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32))  # item 0 was seen
    >>> found, scores = index.search(np.array([[1.0, 0.2]], dtype=np.float32), 2, exclude)
    >>> found.tolist()
    [[2, 1]]
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from recsys.errors import DataError
from recsys.ranking.selection import check_exclude, default_block_size, mask_rows, run_blocks, select, top_k

__all__ = [
    "SCORER_BLOCK",
    "SMALL_BATCH",
    "ExactIndex",
    "RetrievalIndex",
    "ScorerIndex",
    "VectorIndex",
    "checked_item_bias",
]

SMALL_BATCH = 64  # queries answered by one product on the calling thread (a served request)
SCORER_BLOCK = 2048  # queries per scorer call of a ScorerIndex
Scorer = Callable[[np.ndarray], np.ndarray]


class RetrievalIndex:
    """The k best items of each query over a fixed catalogue of `n_items` items (module doc)."""

    kind = ""

    @property
    def n_items(self) -> int:
        raise NotImplementedError

    def search(
        self, queries: np.ndarray, k: int, exclude: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best items of each query, best first, `exclude` left out.

        Args:
            queries: One query per row (a vector for a `VectorIndex`, what the scorer takes for a
                `ScorerIndex`).
            k: Items per query (>= 0).
            exclude: queries x items sparse matrix; its non-zero entries are never returned.

        Returns:
            (items int32, scores float32), queries x k, padded with -1 / -inf where a query has
            fewer than k items left.
        """
        raise NotImplementedError

    @staticmethod
    def _check_k(k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise DataError(f"k must be an integer >= 0, got {k!r}")
        return int(k)


def _as_item_matrix(item_vectors: np.ndarray) -> np.ndarray:
    items = np.ascontiguousarray(item_vectors, dtype=np.float32)
    if items.ndim != 2:
        raise DataError(f"item vectors must be 2-d (items x dim), got shape {items.shape}")
    if not np.isfinite(items).all():
        raise DataError("item vectors contain NaN or infinite values; check the trained model")
    return items


class VectorIndex(RetrievalIndex):
    """An index over item vectors, queried by vectors of the same width (dot product)."""

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

    def _check_query(
        self, user_vectors: np.ndarray, k: int, exclude: sp.spmatrix | sp.sparray | None
    ) -> tuple[np.ndarray, int, sp.csr_matrix | None]:
        users = np.asarray(user_vectors)
        if users.ndim != 2 or users.shape[1] != self.dim:
            raise DataError(
                f"query vectors must be 2-d with the items' width {self.dim}, got shape {users.shape}"
            )
        k = self._check_k(k)
        users = np.ascontiguousarray(users, dtype=np.float32)
        if not np.isfinite(users).all():
            raise DataError("query vectors contain NaN or infinite values; check the trained model")
        return users, k, check_exclude(exclude, (users.shape[0], self.n_items))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n_items:,} items x {self.dim})"


def checked_item_bias(item_bias: np.ndarray, n_items: int) -> np.ndarray:
    """A per-item bias as contiguous float32, checked to hold one finite value per item.

    Args:
        item_bias: One score per item.
        n_items: The catalogue's size.

    Returns:
        The bias, float32, shape (n_items,).

    Example:
        >>> checked_item_bias([0.5, 1], 2).tolist()
        [0.5, 1.0]
    """
    bias = np.ascontiguousarray(item_bias, dtype=np.float32).reshape(-1)
    if bias.shape[0] != n_items:
        raise DataError(f"item_bias has {bias.shape[0]} values for {n_items} items")
    if not np.isfinite(bias).all():
        raise DataError("item biases contain NaN or infinite values; check the trained model")
    return bias


class ExactIndex(VectorIndex):
    """Every item scored: the dot product of each query with every item vector (plus
    `item_bias`, one score per item added to every query's, when given), then `top_k`.

    A few queries (up to `SMALL_BATCH`, a served request) are answered by one product on the
    calling thread; more are scored in blocks of queries (`default_block_size`), each one float32
    matrix product into a reused buffer, on `n_threads` threads (default: one per core).

    Args:
        item_vectors: items x dim.
        item_bias: One score per item added to every query's scores, or None.
        n_threads: Threads for large batches (default: one per core).
    """

    kind = "exact"

    def __init__(
        self, item_vectors: np.ndarray, item_bias: np.ndarray | None = None, n_threads: int | None = None
    ) -> None:
        super().__init__(item_vectors)
        self.n_threads = n_threads
        self.item_bias = self._checked_bias(item_bias)

    @cached_property
    def items_t(self) -> np.ndarray:
        """The item vectors transposed (dim x items), contiguous: the layout of the products."""
        return np.ascontiguousarray(self.item_vectors.T)

    def with_item_bias(self, item_bias: np.ndarray | None) -> ExactIndex:
        """The same catalogue with another per-item bias: the vectors and their transposed copy
        are shared, not copied."""
        self.items_t  # made once, then shared by the copy  # noqa: B018
        other = copy.copy(self)
        other.item_bias = other._checked_bias(item_bias)
        return other

    def _checked_bias(self, item_bias: np.ndarray | None) -> np.ndarray | None:
        return None if item_bias is None else checked_item_bias(item_bias, self.n_items)

    def search(
        self, queries: np.ndarray, k: int, exclude: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        users, k, excluded = self._check_query(queries, k, exclude)
        n_users, n_items = users.shape[0], self.n_items
        items_t, bias = self.items_t, self.item_bias
        if n_users <= SMALL_BATCH:
            scores = users @ items_t
            if bias is not None:
                scores += bias
            return top_k(scores, k, excluded, n_threads=1)
        out_items = np.empty((n_users, k), dtype=np.int32)
        out_scores = np.empty((n_users, k), dtype=np.float32)
        block_size = default_block_size(n_items)

        def body(start: int, stop: int, workspace: dict) -> None:
            if "scores" not in workspace:
                workspace["scores"] = np.empty((min(block_size, n_users), n_items), dtype=np.float32)
            block = workspace["scores"][: stop - start]
            np.matmul(users[start:stop], items_t, out=block)
            if bias is not None:
                block += bias
            if excluded is not None:
                mask_rows(block, excluded.indptr[start : stop + 1], excluded.indices)
            select(block, k, out_items[start:stop], out_scores[start:stop])

        run_blocks(n_users, block_size, self.n_threads, body, limit_blas=True)
        return out_items, out_scores


class ScorerIndex(RetrievalIndex):
    """The k best items by a scorer's scores: `scorer(queries)` (a block of queries, e.g. user
    indices) returns their dense float32 scores (queries x items), which `top_k` selects from;
    blocks of `block_size` queries, so memory stays bounded.

    Args:
        scorer: queries -> scores (len(queries) x n_items); a fresh, writable array.
        n_items: The catalogue's size.
        block_size: Queries per scorer call.
    """

    kind = "scorer"

    def __init__(self, scorer: Scorer, n_items: int, block_size: int = SCORER_BLOCK) -> None:
        self.scorer, self._n_items, self.block_size = scorer, int(n_items), max(1, int(block_size))

    @property
    def n_items(self) -> int:
        return self._n_items

    def search(
        self, queries: np.ndarray, k: int, exclude: sp.spmatrix | sp.sparray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        k = self._check_k(k)
        queries = np.asarray(queries)
        excluded = check_exclude(exclude, (len(queries), self.n_items))
        items = np.empty((len(queries), k), dtype=np.int32)
        scores = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), self.block_size):
            stop = min(start + self.block_size, len(queries))
            block = np.asarray(self.scorer(queries[start:stop]), dtype=np.float32)
            if block.shape != (stop - start, self.n_items):
                raise DataError(
                    f"the scorer gave scores of shape {block.shape} for {stop - start} queries x "
                    f"{self.n_items} items"
                )
            rows = None if excluded is None else excluded[start:stop]
            items[start:stop], scores[start:stop] = top_k(block, k, rows)
        return items, scores
