"""The service's queries answered in batches: `RequestRanker` ranks the queries of several
concurrent requests together (the `Batcher` hands them over), each with its own `n` and its own
excluded items, through the `Recommender`'s `rank_*` methods: one index search per batch.

A query names item and user indices (the app maps a request's ids with the vocabularies); an
answer is `[(item id, score), ...]`, best first, at most the query's `n`.

Example:
    >>> import polars as pl
    >>> from recsys.config import Config
    >>> interactions = pl.DataFrame({"user": [1, 1, 2, 2, 3, 3] * 4, "item": list(range(24))})
    >>> recommender = Recommender.fit(interactions, config=Config(max_epochs=1, min_interactions_per_user=1,
    ...                                                        min_interactions_per_item=1, verbosity=0))
    >>> ranker = RequestRanker(recommender)
    >>> user = recommender.user_vocab.index_of(recommender.user_vocab.python_ids[0])
    >>> [len(answer) for answer in ranker.users_batch([(user, 3, frozenset()), (user, 5, frozenset())])]
    [3, 5]
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.data.sequences import window_of
from recsys.errors import ArtifactError
from recsys.serve.answers import rows_matrix
from recsys.serve.batcher import MAX_BATCH
from recsys.serve.recommender import Recommender

__all__ = ["RequestRanker"]

Excluded = AbstractSet[int]  # item indices a query must not get


class RequestRanker:
    """A `Recommender`'s answers to index-level queries, several at a time (see the module doc).

    Its indexes are built on construction (before the server listens), and its embeddings are
    checked: a bundle with NaN or infinite embeddings is refused at once.

    Args:
        recommender: The model to answer from (read-only from here on).
    """

    def __init__(self, recommender: Recommender):
        self.recommender = recommender
        self.users, self.items = recommender.user_vocab, recommender.item_vocab
        for name, vectors in (("user", recommender.user_vectors), ("item", recommender.item_vectors)):
            if not np.isfinite(vectors).all():
                raise ArtifactError(f"the {name} embeddings of the bundle contain NaN or infinite values.")
        for index in ("index", "fold_in_index", "similarity_index", "popularity_index"):
            getattr(recommender, index)  # built now, not on the first request
        recommender.warm_up(MAX_BATCH)  # the history tower compiled for every batch size, likewise
        self.item_ids = self.items.python_ids
        names = recommender.bundle.item_names
        self.item_names: list | None = None if names is None else names.to_list()

    def _scored(self, top: np.ndarray, scores: np.ndarray, n: int) -> list[tuple[Any, float, Any]]:
        """[(item id, score, name), ...] of one ranked row, padding left out, at most n; the name
        is the item's display name (None where unnamed or the model has no names)."""
        names = self.item_names
        return [
            (self.item_ids[i], float(s), None if names is None else names[i])
            for i, s in zip(top[:n].tolist(), scores[:n].tolist())
            if i >= 0
        ]

    def _exclusions(self, excluded: list[Excluded]) -> sp.csr_matrix | None:
        """queries x items matrix of each query's excluded items (None when no query has any)."""
        if not any(excluded):
            return None
        return rows_matrix([sorted(items) for items in excluded], len(self.items))

    def popular(self, n: int, exclude: Excluded = frozenset()) -> list[tuple[Any, float, Any]]:
        """The n most popular items (training interactions), none of `exclude` (indices)."""
        top, scores = self.recommender.rank_popular(1, n, self._exclusions([exclude]))
        return self._scored(top[0], scores[0], n)

    def users_batch(self, queries: list[tuple[int, int, Excluded]]) -> list[list]:
        """For (user index, n, excluded item indices) queries of known users: their top-n unseen items."""
        users = np.array([user for user, _, _ in queries], dtype=np.int64)
        k = max(n for _, n, _ in queries)
        top, scores = self.recommender.rank_users(
            users, k, exclude=self._exclusions([e for _, _, e in queries])
        )
        return [self._scored(top[q], scores[q], n) for q, (_, n, _) in enumerate(queries)]

    def histories_batch(self, queries: list[tuple[list[int], int, Excluded, int]]) -> list[list]:
        """For (known history item indices in order, n, excluded indices, known user index or -1)
        queries with a non-empty history: top-n items from the history (the history tower, with
        a known user's features where the model has them; or fold-in: see
        `Recommender.rank_histories`), the history excluded."""
        histories = rows_matrix([items for items, _, _, _ in queries], len(self.items))
        k = max(n for _, n, _, _ in queries)
        excluded = self._exclusions([e for _, _, e, _ in queries])
        windows = features = None
        if self.recommender.reads_history:  # the history tower reads each history in its order
            model = self.recommender.bundle.model
            windows = window_of(
                [np.asarray(items) for items, _, _, _ in queries], model.history_length, model.n_items
            )
            features = self.recommender.known_features(np.array([user for _, _, _, user in queries]))
        top, scores, _ = self.recommender.rank_histories(
            histories, k, exclude=excluded, windows=windows, features=features
        )
        return [self._scored(top[q], scores[q], n) for q, (_, n, _, _) in enumerate(queries)]

    def extended_history(self, user: int, history: list[int]) -> tuple[list[int], frozenset[int]]:
        """A known user's saved history (history tower) followed by `history`, and the user's
        training items (to leave out), in item indices."""
        recommender = self.recommender
        saved = recommender.known_windows(np.array([user]))[0]
        kept = saved[saved != recommender.bundle.model.n_items].tolist()  # at most history_length items
        return kept + list(history), frozenset(recommender.bundle.seen[user].indices.tolist())

    def similar_batch(self, queries: list[tuple[int, int]]) -> list[list]:
        """For (item index, n) queries: the n nearest items (cosine), the item itself excluded."""
        items = np.array([item for item, _ in queries], dtype=np.int64)
        top, scores = self.recommender.rank_similar(items, max(n for _, n in queries))
        return [self._scored(top[q], scores[q], n) for q, (_, n) in enumerate(queries)]

    def features(
        self, features: dict, n: int, history: list[int], exclude: Excluded = frozenset()
    ) -> list[tuple[Any, float, Any]]:
        """For a new user's feature record (and known history item indices, maybe none): the top-n
        items through the user tower's feature path, the history and `exclude` left out."""
        histories = rows_matrix([history], len(self.items)) if history else None
        top, scores = self.recommender.rank_features(
            [features], n, histories, exclude=self._exclusions([exclude])
        )
        return self._scored(top[0], scores[0], n)
