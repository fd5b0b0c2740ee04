"""Indexed interactions: parallel numpy arrays of user and item indices (plus optional scores and
times), and the sparse user x item matrix built from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.data.arrays import count_codes

__all__ = ["Interactions"]


@dataclass
class Interactions:
    """Interactions as arrays: `users[k]` interacted with `items[k]` (indices into vocabularies)."""

    users: np.ndarray  # int32
    items: np.ndarray  # int32
    n_users: int
    n_items: int
    scores: np.ndarray | None = None  # float32
    timestamps: np.ndarray | None = None  # float64 seconds

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask_or_index: np.ndarray) -> Interactions:
        pick = lambda a: None if a is None else a[mask_or_index]  # noqa: E731
        return Interactions(
            self.users[mask_or_index],
            self.items[mask_or_index],
            self.n_users,
            self.n_items,
            pick(self.scores),
            pick(self.timestamps),
        )

    def user_item_matrix(self, values: str = "binary") -> sp.csr_matrix:
        """users x items CSR matrix; values 'binary' (1 per pair) or 'score'. Rows sorted, no duplicates."""
        data = (
            self.scores if values == "score" and self.scores is not None else np.ones(len(self), np.float32)
        )
        matrix = sp.csr_matrix(
            (data.astype(np.float32), (self.users, self.items)), shape=(self.n_users, self.n_items)
        )
        matrix.sum_duplicates()
        if values == "binary":
            matrix.data[:] = 1.0
        return matrix

    def user_counts(self) -> np.ndarray:
        return count_codes(self.users, self.n_users)

    def item_counts(self) -> np.ndarray:
        return count_codes(self.items, self.n_items)
