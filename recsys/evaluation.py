"""Full-catalogue evaluation of any scorer on held-out interactions, in user blocks.

A scorer is a function `user_indices -> scores (len(users) x n_items)`; the two-tower model, the
most-popular baseline, EASE and iALS all evaluate through the same code, so their figures compare.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from recsys.errors import DataError
from recsys.metrics import metrics_from_topk
from recsys.topn import top_k_from_scores

Scorer = Callable[[np.ndarray], np.ndarray]


def rank_users(
    scorer: Scorer, users: np.ndarray, k: int, seen: sp.csr_matrix | None, block_size: int = 2048
) -> np.ndarray:
    """Top-k unseen items (n_users x k, -1 padded) for the given user indices, block by block."""
    top = np.empty((len(users), k), dtype=np.int32)
    for start in range(0, len(users), block_size):
        block_users = users[start : start + block_size]
        scores = np.asarray(scorer(block_users), dtype=np.float32)
        top[start : start + len(block_users)], _ = top_k_from_scores(
            scores, k, None if seen is None else seen[block_users]
        )
    return top


def evaluate(
    scorer: Scorer, train: sp.csr_matrix, heldout: sp.csr_matrix, ks: list[int], block_size: int = 2048
) -> dict[str, float]:
    """Ranking metrics over users with held-out items; each user's training items are excluded."""
    if train.shape != heldout.shape:
        raise DataError(
            f"train {train.shape} and held-out {heldout.shape} matrices must both be users x items"
        )
    users = np.flatnonzero(np.diff(heldout.indptr) > 0)
    top = rank_users(scorer, users, max(ks), train, block_size)
    return metrics_from_topk(top, heldout[users], ks, train.shape[1])


def embedding_scorer(
    user_embeddings: np.ndarray, item_embeddings: np.ndarray, item_bias: np.ndarray | None = None
) -> Scorer:
    """Scorer for a two-tower model: dot products of user and item embeddings (+ optional item bias)."""
    item_t = np.ascontiguousarray(np.asarray(item_embeddings, dtype=np.float32).T)
    users_f32 = np.asarray(user_embeddings, dtype=np.float32)

    def score(users: np.ndarray) -> np.ndarray:
        block = users_f32[users] @ item_t
        if item_bias is not None:
            block += item_bias
        return block

    return score


def format_metrics(metrics: dict[str, float], names: list[str] | None = None) -> str:
    names = names or [n for n in metrics if n != "users"]
    return "  ".join(f"{n} {metrics[n]:.4f}" for n in names if n in metrics)
