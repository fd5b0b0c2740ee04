"""Full-catalogue evaluation of any scorer on held-out interactions.

A scorer is a function `user_indices -> scores (len(users) x n_items)`; the two-tower model
(`embedding_scorer`), the most-popular baseline, EASE and iALS all evaluate through the same code:
a `recsys.ranking.exact.ScorerIndex` ranks every user with held-out items, their training items
excluded, and `recsys.eval.metrics.metrics_from_topk` scores the lists, so the figures compare.

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> train = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
    >>> heldout = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 1]], dtype=np.float32))
    >>> scorer = embedding_scorer(np.eye(2, dtype=np.float32), np.array([[1, 0], [1, 1], [0, 1]], np.float32))
    >>> evaluate(scorer, train, heldout, [1])["Recall@1"]
    1.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from recsys.errors import DataError
from recsys.eval.metrics import metrics_from_topk, user_metrics_from_topk
from recsys.ranking.exact import SCORER_BLOCK, ScorerIndex

__all__ = ["Scorer", "embedding_scorer", "evaluate", "evaluate_per_user"]

Scorer = Callable[[np.ndarray], np.ndarray]


def evaluate(
    scorer: Scorer,
    train: sp.csr_matrix,
    heldout: sp.csr_matrix,
    ks: list[int],
    block_size: int = SCORER_BLOCK,
) -> dict[str, float]:
    """Ranking metrics over the users with held-out items, each user's training items excluded.

    Args:
        scorer: user indices -> float32 scores (users x items).
        train: users x items, the items each ranking excludes.
        heldout: users x items, the held-out interactions to find.
        ks: The cut-offs K.
        block_size: Users per scorer call.

    Returns:
        Metric name -> value (see `recsys.eval.metrics`), and `"users"`: how many were averaged.

    Raises:
        DataError: the two matrices are not of one shape.
    """
    users, top = _ranked(scorer, train, heldout, ks, block_size)
    return metrics_from_topk(top, heldout[users], ks, train.shape[1])


def evaluate_per_user(
    scorer: Scorer,
    train: sp.csr_matrix,
    heldout: sp.csr_matrix,
    ks: list[int],
    block_size: int = SCORER_BLOCK,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """`evaluate`'s figures and, beside them, each user's values (what a paired interval between
    two systems resamples: `recsys.eval.intervals.paired_bootstrap`).

    Args:
        scorer: user indices -> float32 scores (users x items).
        train: users x items, the items each ranking excludes.
        heldout: users x items, the held-out interactions to find.
        ks: The cut-offs K.
        block_size: Users per scorer call.

    Returns:
        (the means, as `evaluate` returns them; metric name -> one value per user with held-out
        items, in user order: two systems evaluated on one held-out matrix have aligned arrays).

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> train = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))
        >>> heldout = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0]], dtype=np.float32))
        >>> items = np.array([[1, 0], [1, 1], [0, 1]], np.float32)
        >>> scorer = embedding_scorer(np.eye(2, dtype=np.float32), items)
        >>> means, per_user = evaluate_per_user(scorer, train, heldout, [1])
        >>> per_user["HitRate@1"], means["HitRate@1"]
        (array([1., 0.]), 0.5)
    """
    users, top = _ranked(scorer, train, heldout, ks, block_size)
    return metrics_from_topk(top, heldout[users], ks, train.shape[1]), user_metrics_from_topk(
        top, heldout[users], ks
    )


def _ranked(
    scorer: Scorer, train: sp.csr_matrix, heldout: sp.csr_matrix, ks: list[int], block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(the users with held-out items, their top max(ks) unseen items)."""
    if train.shape != heldout.shape:
        raise DataError(
            f"train {train.shape} and held-out {heldout.shape} matrices must both be users x items"
        )
    users = np.flatnonzero(np.diff(heldout.indptr) > 0)
    top, _ = ScorerIndex(scorer, train.shape[1], block_size).search(users, max(ks), train[users])
    return users, top


def embedding_scorer(
    user_embeddings: np.ndarray, item_embeddings: np.ndarray, item_bias: np.ndarray | None = None
) -> Scorer:
    """Scorer of a factorisation model: dot products of user and item embeddings (+ an optional
    per-item bias).

    Args:
        user_embeddings: users x dim.
        item_embeddings: items x dim.
        item_bias: One score per item added to every user's, or None.

    Returns:
        The scorer (user indices -> float32 scores).
    """
    item_t = np.ascontiguousarray(np.asarray(item_embeddings, dtype=np.float32).T)
    users_f32 = np.asarray(user_embeddings, dtype=np.float32)

    def score(users: np.ndarray) -> np.ndarray:
        block = users_f32[users] @ item_t
        if item_bias is not None:
            block += item_bias
        return block

    return score
