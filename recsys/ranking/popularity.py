"""The items' popularity as a score prior: log(1 + each item's training interactions), centred on
the catalogue's mean, so that adding it (times a weight) to a model's scores favours popular items
without moving the scores' scale. The fold-in of the id tower adds it to every folded-in history
(`recsys.serve.item_ranking.FOLD_IN_POPULARITY_WEIGHT`), and `popularity_bias` adds it to every
score of the model (`BiasedIndex`, and `recsys.eval.validation.evaluate_model` for the metrics).

The in-batch softmax's log-q correction takes popularity out of the embeddings; on a split by time
a part of it predicts the future (popular items stay popular), which this prior gives back.

Example:
    >>> [round(float(x), 3) for x in popularity_prior(np.array([0, 1, 3]))]
    [-0.693, 0.0, 0.693]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.ranking.exact import ExactIndex, VectorIndex, checked_item_bias

__all__ = ["BiasedIndex", "item_counts", "popularity_prior"]


def item_counts(matrix: sp.spmatrix) -> np.ndarray:
    """Each item's number of interactions: the stored entries of its column in a users x items matrix.

    Args:
        matrix: users x items sparse matrix.

    Returns:
        float32 counts, one per item.

    Example:
        >>> item_counts(sp.csr_matrix(np.array([[1, 0, 5], [1, 0, 0]]))).tolist()
        [2.0, 0.0, 1.0]
    """
    return np.asarray(sp.csr_matrix(matrix).getnnz(axis=0), dtype=np.float32)


def popularity_prior(counts: np.ndarray) -> np.ndarray:
    """log(1 + count) minus its mean over the items, float32.

    Args:
        counts: Each item's training interactions.

    Returns:
        One prior per item (the module doc's example).
    """
    log_counts = np.log1p(np.asarray(counts, dtype=np.float64))
    return (
        (log_counts - log_counts.mean()).astype(np.float32)
        if log_counts.size
        else log_counts.astype(np.float32)
    )


class BiasedIndex(VectorIndex):
    """A vector index whose scores add one bias per item, for an index that has no bias of its own
    (the approximate `IVFIndex`): the inner index holds the item vectors with the bias as one more
    column, and each query gets a 1 in that column, so the inner product is the score plus the bias.
    `item_vectors` and `item_bias` are the plain ones (what a search among candidates rebuilds an
    exact index from).

    Args:
        item_vectors: items x dim.
        item_bias: One score per item.
        make_inner: Builds the inner index from the (items x dim + 1) vectors.

    Example:
        >>> index = BiasedIndex(np.eye(2, dtype=np.float32), np.array([0.0, 2.0]), ExactIndex)
        >>> index.search(np.array([[1.0, 0.0]], np.float32), 2)[0].tolist()  # 0 + 2 beats 1 + 0
        [[1, 0]]
    """

    def __init__(self, item_vectors: np.ndarray, item_bias: np.ndarray, make_inner=ExactIndex) -> None:
        super().__init__(item_vectors)
        self.item_bias = checked_item_bias(item_bias, self.n_items)
        self.inner: VectorIndex = make_inner(np.hstack([self.item_vectors, self.item_bias[:, None]]))
        self.kind = f"{self.inner.kind}+bias"

    @property
    def nbytes(self) -> int:
        return int(self.inner.nbytes)

    def search(self, queries, k, exclude=None):
        users, k, excluded = self._check_query(queries, k, exclude)
        return self.inner.search(np.hstack([users, np.ones((len(users), 1), np.float32)]), k, excluded)
