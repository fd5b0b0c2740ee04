"""The retrieval indexes, and the choice between them (`make_index`).

Every index answers `search(queries, k, exclude)` the same way (see `recsys.ranking.exact`):
`ExactIndex` scores every item, `IVFIndex` (`recsys.ranking.ivf`, faiss) scans a few k-means lists
of a large catalogue, `ScorerIndex` ranks a scorer's dense scores. `make_index(kind="auto")` is
exact up to `AUTO_EXACT_MAX_ITEMS` items and approximate above (see the README's "Approximate
retrieval" for the measurements behind the numbers); faiss is imported only when an approximate
index is built.

Example:
    >>> items = np.eye(3, dtype=np.float32)
    >>> make_index(items).kind
    'exact'
    >>> make_index(items).search(np.array([[0.0, 1.0, 0.5]], dtype=np.float32), 2)[0].tolist()
    [[1, 2]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.errors import ConfigError
from recsys.ranking.exact import SMALL_BATCH, ExactIndex, RetrievalIndex, ScorerIndex, VectorIndex
from recsys.ranking.ivf import IVFIndex, default_n_lists, default_n_probe
from recsys.ranking.popularity import BiasedIndex

__all__ = [
    "ANN_OPTIONS",
    "AUTO_EXACT_MAX_ITEMS",
    "INDEX_KINDS",
    "SMALL_BATCH",
    "ExactIndex",
    "IVFIndex",
    "RetrievalIndex",
    "ScorerIndex",
    "VectorIndex",
    "default_n_lists",
    "default_n_probe",
    "make_index",
]

INDEX_KINDS = ("auto", "exact", "ann")
ANN_OPTIONS = ("n_lists", "n_probe", "max_overfetch", "seed")
# Exact up to this many items: at 500,000 items x 64 an exact query costs ~2 ms of CPU (~900
# queries/s on 2 cores) with nothing to build, and the IVF index is only ~6.5x faster at recall@50
# 0.95; at 1,000,000 items exact takes ~6 ms and the index is ~17x faster (README, measured).
AUTO_EXACT_MAX_ITEMS = 500_000


def make_index(
    item_vectors: np.ndarray,
    kind: str = "auto",
    exact_max_items: int = AUTO_EXACT_MAX_ITEMS,
    n_threads: int | None = None,
    item_bias: np.ndarray | None = None,
    **ann_options: Any,
) -> VectorIndex:
    """A retrieval index over item vectors.

    Args:
        item_vectors: items x dim.
        kind: "exact" (`ExactIndex`), "ann" (`recsys.ranking.ivf.IVFIndex`, which needs faiss), or
            "auto": exact up to `exact_max_items` items, approximate above.
        exact_max_items: The size up to which "auto" is exact.
        n_threads: Threads for large batches (default: one per core).
        item_bias: One score per item added to every query's (`popularity_bias`), or None; the
            approximate index holds it as one more column (`recsys.ranking.popularity.BiasedIndex`).
        **ann_options: For the approximate index: n_lists, n_probe, max_overfetch, seed.

    Returns:
        The index.

    Raises:
        ConfigError: an unknown kind or option, or faiss missing for an approximate index.
    """
    if kind not in INDEX_KINDS:
        raise ConfigError(f"unknown index kind {kind!r}; expected one of {', '.join(INDEX_KINDS)}")
    unknown = sorted(set(ann_options) - set(ANN_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown index option {unknown[0]!r}; expected one of {', '.join(ANN_OPTIONS)}")
    if kind == "exact" and ann_options:
        raise ConfigError(f"option {sorted(ann_options)[0]!r} applies to kind='ann' (or 'auto') only")
    n_items = np.shape(item_vectors)[0] if np.ndim(item_vectors) == 2 else 0
    if kind == "exact" or (kind == "auto" and n_items <= exact_max_items):
        return ExactIndex(item_vectors, item_bias, n_threads=n_threads)
    if item_bias is not None:
        return BiasedIndex(
            item_vectors, item_bias, lambda vectors: IVFIndex(vectors, n_threads=n_threads, **ann_options)
        )
    return IVFIndex(item_vectors, n_threads=n_threads, **ann_options)
