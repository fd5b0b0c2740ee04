"""Top-K selection of unseen items, in user blocks: one matrix product per block, seen items masked
from the sparse user x item matrix, partial selection (never a full sort)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix | None) -> None:
    """Set scores of seen items to -inf in place; `seen` has one row per row of `scores`."""
    if seen is None or seen.nnz == 0:
        return
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    scores[rows, seen.indices] = -np.inf


def top_k_from_scores(scores: np.ndarray, k: int, seen: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best k columns per row of a (users x items) score block, best first, seen items excluded.

    Returns (items int32, scores float32), both (rows x k); where fewer than k unseen items
    exist the tail is padded with item -1 and score -inf. `scores` is modified in place.
    """
    mask_seen(scores, seen)
    n_items = scores.shape[1]
    k_eff = min(k, n_items)
    if k_eff < n_items:
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(n_items), (scores.shape[0], n_items)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    items = np.take_along_axis(part, order, axis=1).astype(np.int32)
    best = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    items[~np.isfinite(best)] = -1
    if k_eff < k:
        pad = k - k_eff
        items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
        best = np.pad(best, ((0, 0), (0, pad)), constant_values=-np.inf)
    return items, best


def top_k_unseen(
    user_embeddings: np.ndarray,
    item_embeddings: np.ndarray,
    k: int,
    seen: sp.csr_matrix | None = None,
    item_bias: np.ndarray | None = None,
    block_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items per user by dot product (+ optional per-item bias), excluding `seen` (users x items)."""
    n_users = user_embeddings.shape[0]
    if seen is not None and seen.shape != (n_users, item_embeddings.shape[0]):
        raise ValueError(
            f"seen matrix must be users x items = {(n_users, item_embeddings.shape[0])}, got {seen.shape}"
        )
    items_out = np.empty((n_users, k), dtype=np.int32)
    scores_out = np.empty((n_users, k), dtype=np.float32)
    item_t = np.ascontiguousarray(item_embeddings.T, dtype=np.float32)
    for start in range(0, n_users, block_size):
        stop = min(start + block_size, n_users)
        block = np.asarray(user_embeddings[start:stop], dtype=np.float32) @ item_t
        if item_bias is not None:
            block += item_bias
        items_out[start:stop], scores_out[start:stop] = top_k_from_scores(
            block, k, None if seen is None else seen[start:stop]
        )
    return items_out, scores_out
