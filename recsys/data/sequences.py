"""Each user's interactions as a sequence in time order, and fixed-length windows of it: what the
history user tower (`recsys.model.history`) reads.

`UserSequences.of(interactions)` orders every user's interactions by timestamp (ties, and data
without timestamps, keep the order of the rows), as one array of items grouped by user with CSR
offsets. A window is the `length` items just before a position, right-aligned (the most recent
item last), padded on the left with `pad` (the history tower's padding index, `n_items`):

- `windows_before(rows)`: for training, the items the user interacted with before each given
  interaction — never the interaction itself nor anything after it;
- `last_windows()`: each user's latest `length` items — a known user's history when serving;
- `window_of(items)`: one window from a list of items in time order (a new user's history, or a
  known one's with newer interactions appended).

All three are one vectorised gather; no Python loop runs per user or per interaction.

Example:
    >>> import numpy as np
    >>> from recsys.data.interactions import Interactions
    >>> data = Interactions(np.array([0, 0, 0, 1]), np.array([5, 3, 4, 2]), 2, 6,
    ...                     timestamps=np.array([30.0, 10.0, 20.0, 5.0]))
    >>> sequences = UserSequences.of(data)
    >>> sequences.last_windows(2)  # user 0: 3 then 4 then 5; user 1: 2; pad = n_items = 6
    array([[4, 5],
           [6, 2]], dtype=int32)
    >>> sequences.windows_before(np.array([0, 1]), 2)  # before row 0 (item 5) and row 1 (item 3)
    array([[3, 4],
           [6, 6]], dtype=int32)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.data.arrays import sort_order
from recsys.data.interactions import Interactions

__all__ = ["UserSequences", "window_of", "windows_from_pairs"]


@dataclass(frozen=True)
class UserSequences:
    """Items grouped by user in time order.

    Attributes:
        items: Every interaction's item, user by user, each user's in time order (int32).
        indptr: Offsets: user u's items are `items[indptr[u]:indptr[u + 1]]` (n_users + 1).
        position: For each interaction row (in the interactions' order), its index in `items`.
        users: Each interaction row's user (int32).
        pad: The padding index (the number of items).
    """

    items: np.ndarray
    indptr: np.ndarray
    position: np.ndarray
    users: np.ndarray
    pad: int

    @classmethod
    def of(cls, interactions: Interactions) -> UserSequences:
        """The sequences of `interactions` (by timestamp where it has them, else by row order).

        Args:
            interactions: Indexed interactions.

        Returns:
            The `UserSequences`.
        """
        users = interactions.users.astype(np.int64)
        if interactions.timestamps is not None:
            order = sort_order(users, interactions.timestamps, np.arange(len(users)))
        else:
            order = np.argsort(users, kind="stable")
        counts = np.bincount(users, minlength=interactions.n_users)
        indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        position = np.empty(len(users), dtype=np.int64)
        position[order] = np.arange(len(users))
        items = interactions.items[order].astype(np.int32)
        return cls(items, indptr, position, interactions.users.astype(np.int32), int(interactions.n_items))

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def _gather(self, ends: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """Windows of the `length` items before `ends` (exclusive) and not before `starts`."""
        index = ends[:, None] - length + np.arange(length)[None, :]
        valid = index >= starts[:, None]
        gathered = self.items[np.clip(index, 0, max(len(self.items) - 1, 0))] if len(self.items) else index
        return np.where(valid, gathered, self.pad).astype(np.int32)

    def windows_before(self, rows: np.ndarray, length: int) -> np.ndarray:
        """The `length` items each given interaction's user had before it (right-aligned, padded).

        Args:
            rows: Interaction row indices.
            length: The window's length.

        Returns:
            int32 (len(rows), length).
        """
        rows = np.asarray(rows, dtype=np.int64)
        return self._gather(self.position[rows], self.indptr[self.users[rows]], length)

    def last_windows(self, length: int, users: np.ndarray | None = None) -> np.ndarray:
        """Each user's latest `length` items (right-aligned, padded; all padding for a user
        without interactions).

        Args:
            length: The window's length.
            users: User indices (default: every user).

        Returns:
            int32 (n_users or len(users), length).
        """
        users = np.arange(self.n_users) if users is None else np.asarray(users, dtype=np.int64)
        return self._gather(self.indptr[users + 1], self.indptr[users], length)


def window_of(histories: list[np.ndarray], length: int, pad: int) -> np.ndarray:
    """Windows of histories given as item-index arrays in time order (the latest `length` of each,
    right-aligned, padded with `pad`).

    Args:
        histories: One int array per query, oldest first.
        length: The window's length.
        pad: The padding index.

    Returns:
        int32 (len(histories), length).

    Example:
        >>> window_of([np.array([1, 2, 3]), np.array([], int)], 2, pad=9)
        array([[2, 3],
               [9, 9]], dtype=int32)
    """
    lengths = np.array([len(history) for history in histories], dtype=np.int64)
    flat = (
        np.concatenate([np.asarray(h, dtype=np.int32) for h in histories]) if len(histories) else np.zeros(0)
    )
    rows = np.repeat(np.arange(len(histories)), lengths)
    return windows_from_pairs(rows, flat, len(histories), length, pad)


def windows_from_pairs(
    rows: np.ndarray,
    items: np.ndarray,
    n_queries: int,
    length: int,
    pad: int,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Windows of histories given as (query row, item index) pairs: each query's items in the
    pairs' order (or by `times`, ties in the pairs' order), its latest `length`, right-aligned.

    Args:
        rows: Each pair's query row (0 .. n_queries - 1).
        items: Each pair's item index.
        n_queries: How many queries (rows of the result).
        length: The window's length.
        pad: The padding index.
        times: Each pair's time, or None (the pairs are in time order).

    Returns:
        int32 (n_queries, length).

    Example:
        >>> windows_from_pairs(np.array([1, 0, 1]), np.array([4, 5, 6]), 3, 2, pad=9)
        array([[9, 5],
               [4, 6],
               [9, 9]], dtype=int32)
    """
    rows = np.asarray(rows, dtype=np.int64)
    order = np.lexsort((np.arange(len(rows)), *(() if times is None else (np.asarray(times),)), rows))
    ends = np.cumsum(np.bincount(rows, minlength=n_queries))
    flat = np.asarray(items, dtype=np.int32)[order]
    sequences = UserSequences(
        flat, np.concatenate(([0], ends)), np.zeros(0, np.int64), np.zeros(0, np.int32), pad
    )
    return sequences.last_windows(length)
