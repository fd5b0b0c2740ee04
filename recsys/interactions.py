"""Indexed interactions: parallel numpy arrays of user and item indices (plus optional scores and
times), and the sparse user x item matrix built from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp


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
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)


def sort_order(*keys: np.ndarray) -> np.ndarray:
    """Indices that sort rows by the keys, first key first (like np.lexsort with the keys reversed),
    with polars' multithreaded sort: several times faster than np.lexsort on millions of rows."""
    frame = pl.DataFrame({f"k{i}": key for i, key in enumerate(keys)})
    return frame.select(pl.arg_sort_by(frame.columns)).to_series().to_numpy()


def per_user_positions(users: np.ndarray, order: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For rows taken in `order` (grouped by user): each row's position within its user, and user counts."""
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    positions = np.empty(len(users), dtype=np.int64)
    positions[order] = np.arange(len(users)) - starts[users[order]]
    return positions, counts
