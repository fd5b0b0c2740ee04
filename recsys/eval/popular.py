"""`MostPopular`: every user gets the items with the most training interactions, the floor every
model must beat."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import RecsysError
from recsys.eval.evaluation import Scorer
from recsys.eval.matrices import binary_matrix

__all__ = ["MostPopular"]


class MostPopular:
    """Scores every item by its number of training interactions, the same list for every user."""

    def __init__(self) -> None:
        self.item_counts: np.ndarray | None = None

    def fit(self, train: sp.csr_matrix) -> MostPopular:
        matrix = binary_matrix(train)
        self.item_counts = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float32)
        return self

    def scorer(self) -> Scorer:
        if self.item_counts is None:
            raise RecsysError("MostPopular is not fitted yet; call fit(train) first.")
        counts = self.item_counts

        def score(users: np.ndarray) -> np.ndarray:
            return np.tile(counts, (len(users), 1))  # writable: top-k masks seen items in place

        return score
