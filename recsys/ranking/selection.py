"""Top-k selection: the step every ranking ends with. A block of scores (queries x items), the
excluded items masked to -inf from a sparse matrix, and an exact selection of the k best of each
row that never sorts or partitions a full row (`top_k`). Every index of `recsys.ranking.index`
scores blocks and hands them here, so exclusion, padding and tie order are defined once:

- excluded items (and -inf scores) are never selected;
- a row with fewer than k selectable items is padded with item -1 and score -inf;
- equal scores rank by item index, the lower first.

Selection (per block of rows, all vectorised): items are split into `m` strided groups
(group j = items j, j+m, j+2m, ...). One SIMD pass takes each group's maximum; the k-th largest
group maximum `t` is a lower bound on the k-th largest score (k distinct items reach it), so every
top-k item scores >= t. A second pass keeps the items >= t (about k of them on real scores), and
only those are sorted. Rows where ties leave many candidates fall back to a partition of the row.
Blocks run on a small thread pool (numpy and BLAS release the GIL), BLAS itself single-threaded.

Example:
    >>> scores = np.array([[0.1, 0.9, 0.5, 0.9]], dtype=np.float32)
    >>> exclude = sp.csr_matrix(np.array([[0, 0, 1, 0]], dtype=np.float32))
    >>> items, best = top_k(scores, 3, exclude)
    >>> items.tolist(), best.tolist()
    ([[1, 3, 0]], [[0.8999999761581421, 0.8999999761581421, 0.10000000149011612]])
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.errors import DataError

__all__ = ["check_exclude", "default_block_size", "mask_rows", "run_blocks", "select", "top_k", "union"]

_LOWEST = np.finfo(np.float32).min  # candidates must be >= this: -inf (excluded, padding) never is
_SMALL_SORT = 512  # numpy partitions rows of <= 512 floats ~5x faster per item than 1,024 (SIMD)
_GROUPS_PER_K = 8  # at least this many groups per wanted item, so that t stays tight
_MIN_GROUP_SIZE = 4  # below this many items per group, grouping does not pay off
_BLOCK_ROWS = 256  # queries per block: the product runs ~15% slower on 32-64 rows than on 256+
_BLOCK_BYTES = 32 << 20  # ... but a block's scores stay within this (catalogues of millions of items)
_CHUNK_ROWS = 64  # rows per task when selecting from given scores
Body = Callable[[int, int, dict], None]


def check_exclude(exclude: sp.spmatrix | sp.sparray | None, shape: tuple[int, int]) -> sp.csr_matrix | None:
    """`exclude` as CSR, checked to be queries x items (`shape`); None stays None.

    Args:
        exclude: A sparse matrix whose non-zero entries are the items each query must not get.
        shape: (number of queries, number of items).

    Returns:
        The CSR matrix, or None.

    Raises:
        DataError: the shape is not `shape`.
    """
    if exclude is None:
        return None
    if tuple(exclude.shape) != tuple(shape):
        raise DataError(
            f"the exclude matrix must be queries x items = {tuple(shape)}, got {tuple(exclude.shape)}"
        )
    return exclude if isinstance(exclude, sp.csr_matrix) else sp.csr_matrix(exclude)  # no copy when CSR


def union(*parts: sp.spmatrix | sp.sparray | None) -> sp.csr_matrix | None:
    """The items excluded by any of `parts` (queries x items sparse matrices of one shape, or None):
    one binary CSR matrix, or None when every part is None.

    Example:
        >>> a = sp.csr_matrix(np.array([[1, 0, 0]], dtype=np.float32))
        >>> union(a, None, sp.csr_matrix(np.array([[1, 0, 1]], dtype=np.float32))).toarray().tolist()
        [[1.0, 0.0, 1.0]]
    """
    given = [part for part in parts if part is not None]
    if not given:
        return None
    if len(given) == 1:
        return given[0] if isinstance(given[0], sp.csr_matrix) else sp.csr_matrix(given[0])
    total = sp.csr_matrix(given[0], dtype=np.float32, copy=True)
    for part in given[1:]:
        total = total + sp.csr_matrix(part, dtype=np.float32)
    total.data[:] = 1.0
    return total


def mask_rows(scores: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> None:
    """-inf at (row, indices[indptr[row]:indptr[row+1]]) of a C-contiguous block; indptr may be a
    slice of a larger CSR matrix's (offsets are taken relative to indptr[0])."""
    lo, hi = int(indptr[0]), int(indptr[-1])
    if hi == lo:
        return
    starts = np.arange(scores.shape[0], dtype=np.int64) * scores.shape[1]
    flat = np.repeat(starts, np.diff(indptr)) + indices[lo:hi]
    scores.reshape(-1)[flat] = -np.inf


def _group_count(n_items: int, k: int) -> int:
    """Number of strided groups m (m = n_items, one item per group, when grouping would not pay off)."""
    m = max(_SMALL_SORT, _GROUPS_PER_K * k)
    return m if n_items >= _MIN_GROUP_SIZE * m else n_items


def _sorted_top(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest values per row (k <= columns), best first; equal values by
    column, the lower first. Wide rows: the k-th largest value by a partition, then every value
    above it and the first (by column) of those equal to it; only those k are sorted."""
    rows, cols = values.shape
    if k < cols and cols > 4 * k:
        kth = np.partition(values, cols - k, axis=1)[:, cols - k, None]
        above = values > kth
        tied = values == kth
        need = k - np.count_nonzero(above, axis=1)
        taken = above | (tied & (np.cumsum(tied, axis=1) <= need[:, None]))
        part = np.nonzero(taken)[1].reshape(rows, k)  # exactly k per row, in column order
        order = np.argsort(-np.take_along_axis(values, part, axis=1), axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1)
    return np.argsort(-values, axis=1, kind="stable")[:, :k]


def _candidates(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions (row-major, so grouped by row) and rows of every score >= its row's bound t,
    where t is the k-th largest group maximum (never below the lowest finite float)."""
    b, n = scores.shape
    m = _group_count(n, k)
    g = n // m
    if g > 1:
        maxima = scores[:, : g * m].reshape(b, g, m).max(axis=1)
        rest = n - g * m  # the last `rest` < m items join groups 0 .. rest-1
        if rest:
            np.maximum(maxima[:, :rest], scores[:, g * m :], out=maxima[:, :rest])
    else:
        maxima = scores  # np.partition below copies: the scores stay as they are
    kth = m - min(k, m)
    threshold = np.partition(maxima, kth, axis=1)[:, kth]
    np.maximum(threshold, _LOWEST, out=threshold)
    # A full compare + flatnonzero beats gathering the chosen groups' members (numpy fancy
    # indexing costs ~5 ns an element, the compare well under 1).
    flat = np.flatnonzero(scores >= threshold[:, None])
    return flat, flat // n


def select(scores: np.ndarray, k: int, out_items: np.ndarray, out_scores: np.ndarray) -> None:
    """Exact top-k of each row of a C-contiguous, already masked score block, into the outputs.

    -inf scores are never selected; rows with fewer than k finite scores are padded with -1/-inf.
    """
    b, n = scores.shape
    out_items.fill(-1)
    out_scores.fill(-np.inf)
    if b == 0 or n == 0 or k == 0:
        return
    k_eff = min(k, n)
    flat, rows = _candidates(scores, k_eff)
    counts = np.bincount(rows, minlength=b)
    cap = max(8 * k_eff, 64)
    heavy = counts > cap  # ties or huge k: many candidates, partition those rows whole
    if heavy.any():
        heavy_rows = np.flatnonzero(heavy)
        sub = scores[heavy_rows]
        top = _sorted_top(sub, k_eff)
        vals = np.take_along_axis(sub, top, axis=1)
        out_scores[heavy_rows, :k_eff] = vals
        out_items[heavy_rows, :k_eff] = np.where(vals > -np.inf, top, -1)
        keep = ~heavy[rows]
        flat, rows = flat[keep], rows[keep]
        counts[heavy] = 0
    width = int(counts.max()) if flat.size else 0
    if width == 0:
        return
    starts = np.cumsum(counts) - counts
    pos = np.arange(flat.size) - np.repeat(starts, counts)
    cand = np.full((b, width), -np.inf, dtype=np.float32)
    cand_items = np.full((b, width), -1, dtype=np.int64)
    cand[rows, pos] = scores.reshape(-1)[flat]
    cand_items[rows, pos] = flat - rows * n
    take = min(k_eff, width)
    top = _sorted_top(cand, take)
    light = ~heavy
    out_scores[light, :take] = np.take_along_axis(cand, top, axis=1)[light]
    out_items[light, :take] = np.take_along_axis(cand_items, top, axis=1)[light]


def run_blocks(n_rows: int, block_size: int, n_threads: int | None, body: Body, limit_blas: bool) -> None:
    """Call body(start, stop, workspace) for consecutive row blocks, on up to n_threads threads.

    Each thread keeps its own `workspace` dict (e.g. a reusable score buffer: allocating a fresh one
    per block costs page faults). With `limit_blas`, BLAS runs one thread per Python thread: threads
    over blocks scale better than BLAS threads inside one small product, and do not oversubscribe.
    """
    starts = iter(range(0, n_rows, block_size))  # shared: each thread takes the next block

    def work() -> None:
        workspace: dict = {}
        for start in starts:
            body(start, min(start + block_size, n_rows), workspace)

    threads = n_threads or os.cpu_count() or 1
    threads = max(1, min(threads, -(-n_rows // block_size)))
    with contextlib.ExitStack() as stack:
        if limit_blas:  # BLAS threads on small blocks only add overhead
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        if threads == 1:
            work()
            return
        pool = stack.enter_context(ThreadPoolExecutor(threads))
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()


def top_k(
    scores: np.ndarray,
    k: int,
    exclude: sp.spmatrix | sp.sparray | None = None,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best columns of each row of a (queries x items) score block, excluded items left out.

    Args:
        scores: The scores; modified in place (excluded items set to -inf) when it is a
            C-contiguous float32 array.
        k: How many items per row (>= 0).
        exclude: queries x items sparse matrix of the items each row must not get, or None.
        n_threads: Threads over chunks of rows (default: one per core).

    Returns:
        (items int32, scores float32), both (queries x k), best first; padded with -1 / -inf where
        a row has fewer than k selectable items.

    Raises:
        DataError: a shape does not fit, k is negative, or a score is NaN.
    """
    if scores.ndim != 2:
        raise DataError(f"scores must be a 2-d (queries x items) array, got shape {scores.shape}")
    if k < 0:
        raise DataError(f"k must be >= 0, got {k}")
    excluded = check_exclude(exclude, scores.shape)
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if np.isnan(scores).any():
        raise DataError("scores contain NaN; check the model or scorer that produced them")
    items = np.empty((scores.shape[0], k), dtype=np.int32)
    best = np.empty((scores.shape[0], k), dtype=np.float32)

    def body(start: int, stop: int, workspace: dict) -> None:
        block = scores[start:stop]
        if excluded is not None:
            mask_rows(block, excluded.indptr[start : stop + 1], excluded.indices)
        select(block, k, items[start:stop], best[start:stop])

    run_blocks(scores.shape[0], _CHUNK_ROWS, n_threads, body, limit_blas=False)
    return items, best


def default_block_size(n_items: int) -> int:
    """Queries per block of a matrix-product search: 256, or fewer so that a block's scores fit
    32 MiB (catalogues of millions of items)."""
    return max(1, min(_BLOCK_ROWS, _BLOCK_BYTES // (4 * max(n_items, 1))))
