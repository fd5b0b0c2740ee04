"""Similar items: the nearest items of each item by an index over item vectors, the item itself left
out. Cosine similarity is the exact index over unit vectors (`unit_rows`), so similar items are
ranked by the same `search` as every other list (`recsys.ranking.exact`).

Example:
    >>> from recsys.ranking.exact import ExactIndex
    >>> vectors = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0]], dtype=np.float32)
    >>> found, _ = similar_items(ExactIndex(unit_rows(vectors)), np.array([0, 2]), 1)
    >>> found.tolist()
    [[1], [1]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import DataError
from recsys.ranking.exact import VectorIndex
from recsys.ranking.selection import union

__all__ = ["similar_items", "unit_rows"]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """The rows scaled to unit length (a zero row stays zero): their dot products are cosines.

    Args:
        vectors: rows x dim.

    Returns:
        A new float32 array of the same shape.

    Example:
        >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, np.finfo(np.float32).tiny)


def similar_items(
    index: VectorIndex, items: np.ndarray, k: int, exclude: sp.spmatrix | sp.sparray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k items nearest to each given item by `index` (queried with the items' own vectors),
    each item itself and `exclude` left out.

    Args:
        index: An index over the item vectors (`ExactIndex(unit_rows(vectors))` for cosine).
        items: Item indices (rows of the index's vectors), one query each.
        k: Items per query.
        exclude: queries x items sparse matrix of further items to leave out, or None.

    Returns:
        (items int32, scores float32), queries x k, best first, padded with -1 / -inf where fewer
        than k items are left.

    Raises:
        DataError: an item index is outside the index's catalogue.
    """
    queries = np.asarray(items, dtype=np.int64).reshape(-1)
    if queries.size and (queries.min() < 0 or queries.max() >= index.n_items):
        raise DataError(f"item indices must be in [0, {index.n_items}), got {queries.min()}..{queries.max()}")
    itself = sp.csr_matrix(
        (np.ones(queries.size, np.float32), (np.arange(queries.size), queries)),
        shape=(queries.size, index.n_items),
    )
    return index.search(index.item_vectors[queries], k, union(itself, exclude))
