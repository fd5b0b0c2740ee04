"""Ranking in item indices: the indexes of a model bundle and one index search per kind of query.

`ItemRanking` holds a bundle's indexes, each built on first use: the item embeddings' index
(exact, or approximate for large catalogues; with `popularity_bias`, the items' popularity prior
times that weight as a per-item bias, `item_bias`) for known users, the history tower's histories
and users given by features, the same vectors with the fold-in prior as a per-item bias for
histories folded into the id tower, the unit item vectors for similar items, the popularity
column for the fallback. Its `rank_*` methods answer queries in item indices with one
`search(queries, k, exclude)` each; `recsys.serve.recommender.Recommender` (external ids),
`compute_predictions` and the HTTP service all rank through them.

Example:
    >>> import polars as pl
    >>> from recsys.config import Config
    >>> from recsys.serve.recommender import Recommender
    >>> interactions = pl.DataFrame({"user": [1, 1, 2, 2, 3, 3] * 4, "item": list(range(24))})
    >>> ranking = Recommender.fit(interactions, config=Config(max_epochs=1, min_interactions_per_user=1,
    ...                                                     min_interactions_per_item=1, verbosity=0))
    >>> top, scores = ranking.rank_users(np.array([0, -1]), 3)  # a known user, an unknown one
    >>> top.shape
    (2, 3)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from keras import ops

from recsys.data.sequences import windows_from_pairs
from recsys.errors import DataError
from recsys.model.bundle import ModelBundle
from recsys.ranking.exact import ExactIndex, VectorIndex
from recsys.ranking.index import make_index
from recsys.ranking.popularity import item_counts, popularity_prior
from recsys.ranking.selection import union
from recsys.ranking.similarity import similar_items, unit_rows

__all__ = ["FOLD_IN_POPULARITY_WEIGHT", "ItemRanking"]

# Weight of log(1 + item's training interactions) added to a folded-in user's scores (see
# `fold_in`): measured by `python benchmarks/cold_start.py`, best between 1 and 1.5 on the demo
# and on MovieLens, for 5- and 20-item histories alike.
FOLD_IN_POPULARITY_WEIGHT = 1.0


class ItemRanking:
    """The indexes of a model bundle and the `rank_*` queries in item indices (module doc).

    Args:
        bundle: The trained model and its vocabularies (`recsys.model.bundle`).
        index: How known users are ranked: "auto" (exact up to
            `recsys.ranking.index.AUTO_EXACT_MAX_ITEMS` items, approximate above), "exact", "ann",
            or a ready `VectorIndex` over the bundle's item embeddings.
    """

    def __init__(self, bundle: ModelBundle, index: str | VectorIndex = "auto"):
        self._index_choice = index
        self._use(bundle)

    def _use(self, bundle: ModelBundle) -> None:
        """Serve `bundle`: its embeddings (computed once, in the bundle) and the items' popularity."""
        self.bundle = bundle
        # Training interactions per item: the popularity fallback's ranking and scores.
        self.popularity = item_counts(bundle.seen)
        prior = popularity_prior(self.popularity)
        self._fold_in_prior = (FOLD_IN_POPULARITY_WEIGHT * prior).astype(np.float32)
        weight = float(getattr(bundle.config, "popularity_bias", 0.0))
        # Added to every score of the model (`popularity_bias`), None when it adds nothing.
        self.item_bias = (weight * prior).astype(np.float32) if weight else None
        self._indexes: dict[str, VectorIndex] = {}

    # --- the indexes --------------------------------------------------------------------------
    @property
    def user_vectors(self) -> np.ndarray:
        """The known users' embeddings (the bundle's)."""
        return self.bundle.embeddings("user")

    @property
    def item_vectors(self) -> np.ndarray:
        """The items' embeddings (the bundle's)."""
        return self.bundle.embeddings("item")

    @property
    def index(self) -> VectorIndex:
        """The index that ranks known users: see the class doc's `index`; built on first use,
        since an approximate index takes seconds to a minute to build."""
        if "users" not in self._indexes:
            choice = self._index_choice
            if isinstance(choice, VectorIndex):
                if self.item_bias is not None and getattr(choice, "item_bias", None) is None:
                    raise DataError(
                        "this model adds a popularity bias to its scores (popularity_bias), which the "
                        "given index lacks: pass index='ann' or 'exact', or build it with "
                        "make_index(..., item_bias=recommender.item_bias)."
                    )
                self._indexes["users"] = choice
            else:
                self._indexes["users"] = make_index(self.item_vectors, kind=choice, item_bias=self.item_bias)
        return self._indexes["users"]

    @property
    def exact_index(self) -> ExactIndex:
        """Every item scored by the dot product with its embedding (plus `item_bias`)."""
        if "exact" not in self._indexes:
            index = self.index
            exact = index if isinstance(index, ExactIndex) else ExactIndex(self.item_vectors, self.item_bias)
            self._indexes["exact"] = exact
        return self._indexes["exact"]  # type: ignore[return-value]

    @property
    def fold_in_index(self) -> ExactIndex:
        """The exact index with the fold-in popularity prior as each item's bias (see `fold_in`)."""
        if "fold_in" not in self._indexes:
            self._indexes["fold_in"] = self.exact_index.with_item_bias(self._fold_in_prior)  # not item_bias
        return self._indexes["fold_in"]  # type: ignore[return-value]

    @property
    def similarity_index(self) -> ExactIndex:
        """Cosine similarity of items: the exact index over the item vectors scaled to unit length
        (the one unit item matrix, made on first use)."""
        if "similar" not in self._indexes:
            self._indexes["similar"] = ExactIndex(unit_rows(self.item_vectors))
        return self._indexes["similar"]  # type: ignore[return-value]

    @property
    def popularity_index(self) -> ExactIndex:
        """The fallback's ranking: one column, each item's training interactions (a query of 1)."""
        if "popular" not in self._indexes:
            self._indexes["popular"] = ExactIndex(self.popularity[:, None])
        return self._indexes["popular"]  # type: ignore[return-value]

    # --- ranking in item indices (one index search per kind of query) -------------------------
    @staticmethod
    def _search(
        index: VectorIndex,
        queries: np.ndarray,
        k: int,
        exclude: sp.csr_matrix | None,
        candidates: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`index.search`, or among `candidates` (item indices) only: the same search over an exact
        index of those items' vectors (and biases), its answer mapped back to item indices."""
        if candidates is None:
            return index.search(queries, k, exclude)
        bias = getattr(index, "item_bias", None)
        subset = ExactIndex(index.item_vectors[candidates], None if bias is None else bias[candidates])
        local = None if exclude is None else exclude[:, candidates]
        top, scores = subset.search(queries, k, local)
        return np.where(top >= 0, candidates[np.maximum(top, 0)], -1).astype(np.int32), scores

    def rank_popular(
        self,
        n_queries: int,
        k: int,
        exclude: sp.csr_matrix | None = None,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k most popular items (training interactions) for each of `n_queries` queries, ties
        by item index. The model has no affinity for these users: their scores are NaN (null in
        every answer), not the interaction counts they are ranked by.

        Args:
            n_queries: How many lists.
            k: Items per list.
            exclude: queries x items sparse matrix of items to leave out, or None.
            candidates: Item indices to rank among (default: every item).

        Returns:
            (items int32, scores float32: NaN for each listed item), queries x k, best first,
            padded with -1 / -inf.
        """
        ones = np.ones((n_queries, 1), dtype=np.float32)
        top, _ = self._search(self.popularity_index, ones, k, exclude, candidates)
        return top, np.where(top >= 0, np.nan, -np.inf).astype(np.float32)

    def rank_users(
        self,
        users: np.ndarray,
        k: int,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
        exclude: sp.csr_matrix | None = None,
        vectors: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item indices and scores for known users by their embeddings; unknown users get the
        most popular items.

        Args:
            users: User indices; -1 for a user the model does not know.
            k: Items per user.
            exclude_seen: Leave out each user's training items (the items a user disliked, whose
                negative scores were dropped, are left out either way).
            candidates: Item indices to rank among (default: every item).
            exclude: users x items sparse matrix of further items to leave out (e.g. a request's
                blocked items), or None.
            vectors: One user vector per query to rank by instead of the saved embeddings (a known
                user's history with newer interactions, `encode_histories`), or None.

        Returns:
            (items int32, scores float32), queries x k, best first, padded with -1 / -inf.
        """
        users = np.asarray(users, dtype=np.int64)
        top = np.full((len(users), k), -1, dtype=np.int32)
        scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        known = users >= 0
        if known.any():
            rows = users[known]
            disliked = self.bundle.disliked
            excluded = union(
                self.bundle.seen[rows] if exclude_seen else None,
                None if disliked is None else disliked[rows],  # dislikes: always left out
                None if exclude is None else exclude[np.flatnonzero(known)],
            )
            queries = self.user_vectors[rows] if vectors is None else vectors[known]
            top[known], scores[known] = self._search(self.index, queries, k, excluded, candidates)
        if (~known).any():
            rows = np.flatnonzero(~known)
            top[rows], scores[rows] = self.rank_popular(
                len(rows), k, None if exclude is None else exclude[rows], candidates
            )
        return top, scores

    def fold_in(self, histories: sp.csr_matrix) -> np.ndarray:
        """User vectors for new users from their histories (rows of a queries x items matrix): the
        mean of the history items' embeddings, scaled like the user tower's output (unit norm /
        sqrt(temperature) when the model normalises), so its scores read like a known user's. One
        sparse product for all queries. `rank_histories` adds a popularity prior to their scores
        (`FOLD_IN_POPULARITY_WEIGHT` x log(1 + training interactions), centred): a mean of a few
        log-q-corrected item embeddings carries none of the popularity a trained user vector
        learns, and short histories need it most.

        Chosen by measurement (`python benchmarks/cold_start.py`, 5-item histories): the mean
        reached about the NDCG@20 of the same users trained into the model, and the prior lifts it
        above (demo +20 %, MovieLens +10 %); an implicit-feedback least-squares solve against the
        frozen item embeddings reached 35 % of it, since its Gramian pushes users away from the
        popular directions that in-batch softmax training folds into every item embedding.

        Args:
            histories: queries x items sparse matrix, the items of each new user's history.

        Returns:
            float32 user vectors, queries x embedding_dim.
        """
        counts = np.maximum(np.diff(histories.indptr), 1)[:, None]
        vectors = np.asarray(histories @ self.item_vectors, dtype=np.float32) / counts
        if self.bundle.model.normalize:
            vectors = unit_rows(vectors) / np.sqrt(self.bundle.model.temperature)
        return vectors

    @property
    def reads_history(self) -> bool:
        """Whether the model's user tower is the history encoder (`recsys.model.history`)."""
        return getattr(self.bundle.model, "user_tower", "id") == "history"

    def windows(
        self, rows: np.ndarray, items: np.ndarray, n_queries: int, times: np.ndarray | None = None
    ) -> np.ndarray:
        """The history tower's input for histories given as (query row, item index) pairs in time
        order (or ordered by `times`): each query's latest `history_length` items.

        Args:
            rows: Each pair's query row.
            items: Each pair's item index (known items only).
            n_queries: How many queries.
            times: Each pair's time, or None.

        Returns:
            int32 queries x history_length, padded on the left with the number of items.
        """
        model = self.bundle.model
        return windows_from_pairs(rows, items, n_queries, model.history_length, model.n_items, times)

    def known_features(self, users: np.ndarray) -> np.ndarray | None:
        """The encoded feature rows of known users (zeros for -1, a user the model does not know),
        as the history tower reads them beside a history; None for a model without user features."""
        model = self.bundle.model
        if not model.user_feature_dim:
            return None
        users = np.asarray(users, dtype=np.int64)
        rows = np.zeros((len(users), model.user_feature_dim), np.float32)
        known = users >= 0
        if known.any():  # gathers the rows asked for, not a copy of the whole table per request
            rows[known] = ops.convert_to_numpy(ops.take(model.user_encoder.features, users[known], axis=0))
        return rows

    def known_windows(self, users: np.ndarray) -> np.ndarray:
        """The saved windows of known users (their latest training items), for appending to."""
        table = self.bundle.model.user_encoder.histories
        return np.asarray(ops.convert_to_numpy(ops.take(table, np.asarray(users, dtype=np.int64), axis=0)))

    def encode_histories(self, windows: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """User vectors from history windows (see `windows`) and, with user features, their
        encoded feature rows (None: unknown) through the history tower.

        The rows are padded (with empty windows) to a power of two, at least 8, and encoded in
        blocks of at most 4,096: the backend then sees a handful of shapes, so a service whose
        batches vary in size does not trace or compile the encoder again for every new size."""
        windows = np.asarray(windows)
        n_rows, size = len(windows), _block_rows(len(windows))
        model = self.bundle.model
        padded = np.full((-(-n_rows // size) * size, windows.shape[1]), model.n_items, np.int32)
        padded[:n_rows] = windows
        rows = np.zeros((len(padded), model.user_feature_dim), np.float32)
        if features is not None:
            rows[:n_rows] = features
        parts = [
            model.user_embedding_from_history(
                padded[start : start + size], rows[start : start + size] if model.user_feature_dim else None
            )
            for start in range(0, len(padded), size)
        ]
        return np.asarray(np.concatenate(parts)[:n_rows], np.float32)

    def warm_up(self, max_rows: int) -> None:
        """Compile the history tower for every block size `encode_histories` uses up to `max_rows`
        rows (8, 16, ... ), so that no request waits for a compilation; nothing for the id tower."""
        if not self.reads_history:
            return
        empty, length = self.bundle.model.n_items, self.bundle.model.history_length
        for rows in sorted({_block_rows(n) for n in range(1, max_rows + 1)}):
            self.encode_histories(np.full((rows, length), empty, np.int32))

    def rank_histories(
        self,
        histories: sp.csr_matrix,
        k: int,
        exclude_history: bool = True,
        exclude: sp.csr_matrix | None = None,
        windows: np.ndarray | None = None,
        features: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-k item indices and scores for users given as history rows: through the history
        tower when the model has it (each row's `windows`, its items in time order), else folded in
        (see `fold_in`) with the fold-in popularity prior; rows without a known item get the most
        popular items.

        Args:
            histories: queries x items sparse matrix, the items of each user's history.
            k: Items per query.
            exclude_history: Leave out each history's own items.
            exclude: queries x items sparse matrix of further items to leave out, or None.
            windows: The history tower's input (queries x history_length, see `windows`); None
                takes each row's items in item order (the order of the history is then lost).
            features: The history tower's encoded user features, one row per query (e.g. a known
                user's, `known_features`), or None: nothing known.

        Returns:
            (items int32, scores float32, fallback bool): queries x k twice, best first, padded with
            -1 / -inf; and which queries got the most popular items.
        """
        excluded = union(histories if exclude_history else None, exclude)
        if self.reads_history:
            if windows is None:
                coo = histories.tocoo()
                windows = self.windows(coo.row, coo.col, histories.shape[0])
            top, scores = self.exact_index.search(self.encode_histories(windows, features), k, excluded)
        else:
            top, scores = self.fold_in_index.search(self.fold_in(histories), k, excluded)
        empty = np.diff(histories.indptr) == 0
        if empty.any():
            rows = np.flatnonzero(empty)
            top[rows], scores[rows] = self.rank_popular(
                len(rows), k, None if exclude is None else exclude[rows]
            )
        return top, scores, empty

    def rank_features(
        self,
        records: list[dict],
        k: int,
        histories: sp.csr_matrix | None = None,
        exclude_history: bool = True,
        exclude: sp.csr_matrix | None = None,
        windows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item indices and scores for new users described by feature records, through the
        user tower's feature path; with `histories` (one row per record), the feature and the
        folded-in embeddings are averaged where a history has a known item. With the history
        tower, each user is its features and its history (`windows`; none: an empty one) through
        the one encoder, as a known user is.

        Args:
            records: One `{feature: value}` dict per new user.
            k: Items per user.
            histories: queries x items sparse matrix of each user's history (one row per record),
                or None.
            exclude_history: Leave out each history's own items.
            exclude: queries x items sparse matrix of further items to leave out, or None.
            windows: The history tower's input (queries x history_length, see `windows`), or None.

        Returns:
            (items int32, scores float32), queries x k, best first, padded with -1 / -inf.

        Raises:
            DataError: the model has no user features, or a record names an unknown feature.
        """
        encoder, model = self.bundle.user_encoder, self.bundle.model
        if encoder is None or not model.user_feature_dim:
            raise DataError(
                "this model has no user features: recommend from a history, or retrain with user features."
            )
        encoded = encoder.transform_records(records)
        if self.reads_history:
            if windows is None:
                windows = np.full((len(records), model.history_length), model.n_items, np.int32)
            vectors = self.encode_histories(windows, encoded)
        else:
            vectors = np.asarray(
                ops.convert_to_numpy(model.user_embedding_from_features(encoded)), dtype=np.float32
            )
        if histories is not None and not self.reads_history:
            has_history = np.diff(histories.indptr) > 0
            vectors[has_history] = (vectors[has_history] + self.fold_in(histories)[has_history]) / 2.0
        excluded = union(histories if exclude_history else None, exclude)
        return self.exact_index.search(vectors, k, excluded)

    def rank_similar(
        self, items: np.ndarray, k: int, exclude: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k items closest (cosine of their embeddings) to each item, the item itself excluded.

        Args:
            items: Item indices, one query each.
            k: Items per query.
            exclude: queries x items sparse matrix of further items to leave out, or None.

        Returns:
            (items int32, scores float32), queries x k, best first, padded with -1 / -inf.
        """
        return similar_items(self.similarity_index, items, k, exclude)


def _block_rows(n_rows: int) -> int:
    """Rows of the blocks `ItemRanking.encode_histories` encodes `n_rows` in: the next power of
    two, at least 8, at most 4,096."""
    return min(4096, max(8, 1 << max(0, n_rows - 1).bit_length()))
