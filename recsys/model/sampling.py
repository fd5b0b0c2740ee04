"""`InteractionDataset`: training batches of (user, item) positives, weights, and drawn negatives.

Each epoch is a seeded shuffled pass over the training interactions; a batch is a slice of that
permutation, so assembling it is a handful of numpy gathers. Negatives (as many as the loss's
retrieval task asks for: 'bce', 'bpr' and 'mse' use them) are drawn uniformly or by popularity;
draws that hit one of the user's known positives are redrawn (membership tested against the
sorted (user, item) keys by binary search) unless such hits are expected to be rarer than 0.5 %
(large sparse data), where the check would cost more than it is worth. The in-batch softmax needs
no drawn negatives: the other positives of the batch serve.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from recsys.data.interactions import Interactions
from recsys.data.sequences import UserSequences, gap_buckets
from recsys.errors import DataError

__all__ = ["InteractionDataset", "batch_item_ids"]


class InteractionDataset(keras.utils.PyDataset):
    """Batches `({"user", "item"[, "negatives"][, "history"]}, target, weight)` for `model.fit`;
    with `sequences` (the history user tower), "history" holds each positive's window: the
    `history_length` items its user had before it (`recsys.data.sequences`), and with
    `gap_boundaries` (the history tower's time gaps) "history_gaps" their age buckets."""

    def __init__(
        self,
        interactions: Interactions,
        sequences: UserSequences | None = None,
        history_length: int = 50,
        gap_boundaries: np.ndarray | None = None,
        batch_size: int = 1024,
        num_negatives: int = 0,
        negative_sampling: str = "uniform",
        weights: np.ndarray | None = None,
        targets: np.ndarray | None = None,
        seed: int = 0,
        shuffle: bool = True,
        full_batches: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(interactions) == 0:
            raise DataError("no training interactions to sample from")
        if full_batches and len(interactions) < batch_size:
            raise DataError(
                f"{len(interactions):,} training interactions are fewer than one batch "
                f"(batch_size {batch_size}), which a distributed run needs; lower batch_size."
            )
        self.full_batches = full_batches
        self.sequences, self.history_length = sequences, int(history_length)
        self.gap_boundaries = gap_boundaries
        self.users = interactions.users.astype(np.int32)
        self.items = interactions.items.astype(np.int32)
        self.n_items = interactions.n_items
        self.batch_size = int(batch_size)
        self.num_negatives = int(num_negatives)
        self.weights = np.ones(len(self.users), np.float32) if weights is None else weights.astype(np.float32)
        self.targets = np.ones(len(self.users), np.float32) if targets is None else targets.astype(np.float32)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.epoch = 0
        self._positive_keys = np.unique(self.users.astype(np.int64) * self.n_items + self.items)
        counts = np.bincount(self.items, minlength=self.n_items).astype(np.float64)
        if negative_sampling == "popularity":
            self._negative_cdf = np.cumsum(counts) / counts.sum()
            probability = counts / counts.sum()
        else:
            self._negative_cdf = None
            probability = np.full(self.n_items, 1.0 / self.n_items)
        # Expected share of draws that hit one of the user's positives. Below 0.5 % the redraw
        # check (a binary search per draw, costlier than drawing) buys nothing measurable: skip it.
        self.expected_collision_rate = float(counts @ probability) / max(interactions.n_users, 1)
        self.exclude_positives = self.expected_collision_rate >= 0.005
        self._permutation = self._make_permutation()

    def _make_permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.users))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.users))

    def __len__(self) -> int:
        """Batches per epoch; with `full_batches` (a distributed run, whose batches must divide the
        devices) the last partial batch is left out, and the next epoch's shuffle covers its rows."""
        if self.full_batches:
            return len(self.users) // self.batch_size
        return math.ceil(len(self.users) / self.batch_size)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._permutation = self._make_permutation()

    def draw_negatives(self, users: np.ndarray, rng: np.random.Generator, retries: int = 3) -> np.ndarray:
        """(len(users) x num_negatives) item indices, redrawn (a few times) where they are known positives."""
        shape = (len(users), self.num_negatives)

        def draw(size):
            if self._negative_cdf is None:
                return rng.integers(0, self.n_items, size=size, dtype=np.int32)
            drawn = np.searchsorted(self._negative_cdf, rng.random(size), side="right")
            return drawn.astype(np.int32).clip(0, self.n_items - 1)

        negatives = draw(shape)
        if not self.exclude_positives:
            return negatives
        user_column = np.broadcast_to(users[:, None].astype(np.int64), shape)
        for _ in range(retries):
            keys = (user_column * self.n_items + negatives).ravel()
            collide = self._is_positive(keys).reshape(shape)
            if not collide.any():
                break
            negatives[collide] = draw(int(collide.sum()))
        return negatives

    def _is_positive(self, keys: np.ndarray) -> np.ndarray:
        """Membership of (user * n_items + item) keys among the positives, by binary search.
        Queries are searched in sorted order: numpy reuses each result as the next lower bound,
        which makes the lookups about 3x faster on large positive sets."""
        order = np.argsort(keys)
        position = np.searchsorted(self._positive_keys, keys[order]).clip(0, len(self._positive_keys) - 1)
        found = np.empty(len(keys), dtype=bool)
        found[order] = self._positive_keys[position] == keys[order]
        return found

    def __getitem__(self, index: int):
        rows = self._permutation[index * self.batch_size : (index + 1) * self.batch_size]
        users = self.users[rows]
        inputs = {"user": users, "item": self.items[rows]}
        if self.sequences is not None:
            inputs["history"] = self.sequences.windows_before(rows, self.history_length)
            if self.gap_boundaries is not None:
                ages = self.sequences.ages_before(rows, self.history_length)
                inputs["history_gaps"] = gap_buckets(ages, self.gap_boundaries)
        if self.num_negatives:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            inputs["negatives"] = self.draw_negatives(users, rng)
        return inputs, self.targets[rows], self.weights[rows]


def batch_item_ids(inputs: dict):
    """The item ids a batch looks up: its positives (B,), or with drawn negatives (B, 1 +
    negatives), the positive in column 0 (the shape of the model's item embeddings)."""
    items = inputs["item"]
    if "negatives" in inputs:
        items = ops.concatenate([ops.expand_dims(items, 1), inputs["negatives"]], axis=1)
    return items
