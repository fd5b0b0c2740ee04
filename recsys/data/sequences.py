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

__all__ = [
    "GAP_BUCKETS",
    "UserSequences",
    "age_boundaries",
    "gap_buckets",
    "window_of",
    "windows_from_pairs",
]

GAP_BUCKETS = 16  # time-gap buckets of the history tower (bucket 0: padding, or no time known)


@dataclass(frozen=True)
class UserSequences:
    """Items grouped by user in time order.

    Attributes:
        items: Every interaction's item, user by user, each user's in time order (int32).
        indptr: Offsets: user u's items are `items[indptr[u]:indptr[u + 1]]` (n_users + 1).
        position: For each interaction row (in the interactions' order), its index in `items`.
        users: Each interaction row's user (int32).
        pad: The padding index (the number of items).
        times: Each entry of `items`' timestamp (float64), or None without timestamps.
    """

    items: np.ndarray
    indptr: np.ndarray
    position: np.ndarray
    users: np.ndarray
    pad: int
    times: np.ndarray | None = None

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
        stamps = interactions.timestamps
        times = None if stamps is None else np.asarray(stamps, np.float64)[order]
        users = interactions.users.astype(np.int32)
        return cls(items, indptr, position, users, int(interactions.n_items), times)

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def _index(self, ends: np.ndarray, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions in `items` of the `length` entries before `ends` (exclusive) and not before
        `starts` (clipped into range), and which of them are real entries (the rest is padding)."""
        index = ends[:, None] - length + np.arange(length)[None, :]
        valid = index >= starts[:, None]
        return np.clip(index, 0, max(len(self.items) - 1, 0)), valid

    def _gather(self, ends: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """Windows of the `length` items before `ends` (exclusive) and not before `starts`."""
        index, valid = self._index(ends, starts, length)
        gathered = self.items[index] if len(self.items) else index
        return np.where(valid, gathered, self.pad).astype(np.int32)

    def _ages(self, ends: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """Each window entry's age: the time of the window's most recent item minus its own time;
        NaN on padding, and everywhere without timestamps."""
        if self.times is None or not len(self.items):
            return np.full((len(ends), length), np.nan)
        index, valid = self._index(ends, starts, length)
        times = np.where(valid, self.times[index], np.nan)
        return times[:, -1:] - times

    def ages_before(self, rows: np.ndarray, length: int) -> np.ndarray:
        """The ages (`_ages`) of the items of `windows_before(rows, length)`.

        Args:
            rows: Interaction row indices.
            length: The window's length.

        Returns:
            float64 (len(rows), length), NaN where the window is padded or has no times.
        """
        rows = np.asarray(rows, dtype=np.int64)
        return self._ages(self.position[rows], self.indptr[self.users[rows]], length)

    def last_ages(self, length: int, users: np.ndarray | None = None) -> np.ndarray:
        """The ages (`_ages`) of the items of `last_windows(length, users)`.

        Args:
            length: The window's length.
            users: User indices (default: every user).

        Returns:
            float64 (n_users or len(users), length), NaN where padded or without times.
        """
        users = np.arange(self.n_users) if users is None else np.asarray(users, dtype=np.int64)
        return self._ages(self.indptr[users + 1], self.indptr[users], length)

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


def age_boundaries(ages: np.ndarray, buckets: int = GAP_BUCKETS) -> np.ndarray:
    """Boundaries that cut the observed ages into `buckets - 1` bins of about equal counts
    (quantiles, so any time unit works); a window's most recent item (age 0 by definition) is left
    out of the count. Without any age, all boundaries are 0.

    Args:
        ages: Ages as `last_ages` gives them (NaN ignored).
        buckets: The number of gap buckets, bucket 0 (unknown) included.

    Returns:
        float32 (buckets - 2,), non-decreasing.

    Example:
        >>> age_boundaries(np.array([[3.0, 2.0, 0.0], [np.nan, 1.0, 0.0]]), buckets=4)
        array([1.6666666, 2.3333333], dtype=float32)
    """
    ages = np.asarray(ages, dtype=np.float64)
    observed = ages[:, :-1][np.isfinite(ages[:, :-1])] if ages.ndim == 2 else ages[np.isfinite(ages)]
    if not len(observed):
        return np.zeros(buckets - 2, np.float32)
    return np.quantile(observed, np.arange(1, buckets - 1) / (buckets - 1)).astype(np.float32)


def gap_buckets(ages: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """The bucket of each age: 0 where it is unknown (NaN: padding, or no time), else 1 + the
    number of boundaries it reaches, so 1 .. len(boundaries) + 1.

    Args:
        ages: Ages (any shape), as `ages_before`/`last_ages` give them.
        boundaries: `age_boundaries`' output.

    Returns:
        int32, the shape of `ages`.

    Example:
        >>> gap_buckets(np.array([[np.nan, 5.0, 0.0]]), np.array([1.0, 2.0]))
        array([[0, 3, 1]], dtype=int32)
    """
    ages = np.asarray(ages, dtype=np.float64)
    edges = np.asarray(boundaries, np.float64)
    buckets = 1 + np.searchsorted(edges, np.nan_to_num(ages, nan=0.0), side="right")
    return np.where(np.isfinite(ages), buckets, 0).astype(np.int32)
