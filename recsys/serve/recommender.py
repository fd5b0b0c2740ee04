"""`Recommender`: the public object to train, query, save and load a model from Python.

It wraps a model bundle (towers, vocabularies, encoders, the seen matrix) and answers in external
ids, for many queries at once:

- `recommend(users, n)`: known users by their embeddings, seen items excluded; unknown users get
  the most popular items, flagged as a fallback;
- `recommend_from_history(items, n)`: a user unknown at training time, described by the items they
  interacted with, is folded in (see `fold_in`); the history is excluded from the result and
  items the model does not know are reported, not fatal;
- `recommend_from_features(features, n)`: a new user described by their features, through the
  user tower's feature path;
- `similar_items(items, n)`: nearest items by cosine of their embeddings;
- `add_items(features)`: new items embedded from their features, recommendable at once.

Every answer is a `Recommendations`: per query, the item ids, their scores and whether it is a
fallback (and, for a model with item names, their `names`). A score is the model's affinity of
the query and the item (the dot product of the two embeddings: cosine / temperature with the
default normalised embeddings), plus, for a history folded into the id tower, the popularity prior
it is ranked by, and otherwise, with `popularity_bias`, that weight times the prior (`item_bias`);
a similar item's score is the cosine of the two items; a popular fallback has no affinity to show,
and its scores are NaN (null in the service and the files).

Underneath, each of these is one call of a `recsys.ranking` index's `search(queries, k, exclude)`
through the `rank_*` methods in item indices that `Recommender` inherits from
`recsys.serve.item_ranking.ItemRanking` (which `compute_predictions` and the HTTP service use too).
The embeddings are the bundle's, computed once.

Example (60 users in two groups, each of whom took 6 of their group's 20 items):
    >>> rng = np.random.default_rng(0)
    >>> users = np.repeat(np.arange(60), 6)
    >>> items = (users % 2) * 20 + np.concatenate([rng.choice(20, 6, replace=False) for _ in range(60)])
    >>> interactions = pl.DataFrame({"user": users, "item": items})
    >>> model = Recommender.fit(interactions, config=Config(max_epochs=2, verbosity=0))
    >>> answer = model.recommend([interactions["user"][0]], n=3)
    >>> len(answer.items[0]), answer.fallback
    (3, [False])
    >>> model.recommend_from_history(interactions["item"][:3].to_list(), n=3).fallback  # a new visitor
    [False]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.data.hook import HookSource
from recsys.data.vocabulary import Vocabulary
from recsys.errors import DataError, quoted
from recsys.eval.validation import fit_choosing_tower
from recsys.log import messages_at, plural, say
from recsys.model.bundle import ModelBundle, load_bundle
from recsys.model.catalogue import with_new_items
from recsys.model.training import fit_on_all
from recsys.serve.answers import Recommendations, as_list, feature_records
from recsys.serve.item_ranking import FOLD_IN_POPULARITY_WEIGHT, ItemRanking

__all__ = ["FOLD_IN_POPULARITY_WEIGHT", "Recommendations", "Recommender"]


class Recommender(ItemRanking):
    """Recommendations in external ids from a trained model bundle (see the module doc); the
    indexes and the `rank_*` queries in item indices are `ItemRanking`'s.

    Args:
        bundle: The trained model and its vocabularies (`recsys.model.bundle`).
        index: How known users are ranked: "auto" (exact up to
            `recsys.ranking.index.AUTO_EXACT_MAX_ITEMS` items, approximate above), "exact", "ann",
            or a ready `VectorIndex` over the bundle's item embeddings.
    """

    # --- building -----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        interactions: Any,
        user_features: Any = None,
        item_features: Any = None,
        config: Config | None = None,
        validate: bool = True,
    ) -> Recommender:
        """Train a model on interactions; nothing is written to disk.

        Args:
            interactions: A DataFrame (pandas or polars), a list of dicts, or a CSV/Parquet path
                whose columns the config names (`user_column`, `item_column`, ...).
            user_features: `{id: {feature: value}}`, a frame with an `id` column, or a path.
            item_features: The same, for items.
            config: The settings (default `Config()`).
            validate: Choose the number of epochs as the best of a validation run on a split of
                the data (unless `config.production_epochs` is set), and with `user_tower =
                'auto'` the tower that validates better; the final model is trained on every
                interaction.

        Returns:
            The trained `Recommender`.

        Raises:
            DataError: the data are unusable (the message names the column, row or id).
            ConfigError: a setting is wrong.
        """
        config = config or Config()
        with messages_at(config.verbosity):  # the caller's own verbosity is back afterwards
            return cls._fit(interactions, user_features, item_features, config, validate)

    @classmethod
    def _fit(
        cls, interactions: Any, user_features: Any, item_features: Any, config: Config, validate: bool
    ) -> Recommender:
        if isinstance(interactions, (str, Path)):
            paths = {"raw_data_fpath": str(interactions)}
            for name, value in (
                ("user_features_fpath", user_features),
                ("item_features_fpath", item_features),
            ):
                if value is not None:
                    if not isinstance(value, (str, Path)):
                        raise DataError(
                            f"{name}: with interactions given as a path, features must be paths too."
                        )
                    paths[name] = str(value)
            experiment = Experiment(config.replace(**paths))
        else:
            data = (interactions, user_features, item_features)
            package = type(interactions).__module__.split(".")[0]  # polars, pandas (none for a list)
            given = " ".join(part for part in (package, type(interactions).__name__) if part != "builtins")
            origin = HookSource(
                "Recommender.fit",
                f"the {given} given to Recommender.fit",
                ("interactions", "user_features", "item_features"),
            )
            experiment = Experiment(config.replace(raw_data_fpath=None), lambda: data, origin)
        epochs, final = experiment.config.production_epochs, experiment.config
        validation: dict = {}
        if validate and (epochs is None or final.user_tower == "auto"):  # epochs and/or 'auto' tower
            say(
                f"Validation run on a split of the data (up to {plural(final.max_epochs, 'epoch')}, early "
                f"stopping on {final.monitor_metric}): it chooses the final model's epochs."
            )
            checked, final = fit_choosing_tower(experiment)
            epochs, validation = epochs or checked.best_epoch, checked.best_metrics
        elif final.user_tower == "auto":
            say("user_tower 'auto' without a validation run (validate=False): the id tower.")
            final = final.replace(user_tower="id")
        epochs = epochs or final.max_epochs
        count = plural(len(experiment.prepared.interactions), "interaction")
        say(f"Training the final model on all {count} for {plural(epochs, 'epoch')}.")
        result = fit_on_all(experiment, epochs, final)
        metrics = {"epochs": epochs, "validation": validation, "user_tower": final.user_tower}
        return cls(
            ModelBundle.from_run(experiment, result.model, experiment.full_matrix, metrics, result.history)
        )

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """A Recommender from a saved bundle (checked against its manifest on load).

        Args:
            path: The bundle folder.

        Returns:
            The `Recommender`.

        Raises:
            ArtifactError: the folder is not a complete, unchanged bundle.
        """
        return cls(load_bundle(path))

    def save(self, path: str | Path) -> Path:
        """Write the bundle (atomically swapped into place; see `recsys.model.bundle`).

        Args:
            path: The bundle folder to write.

        Returns:
            The folder's path.
        """
        return self.bundle.save(path)

    # --- ids ----------------------------------------------------------------------------------
    @property
    def user_vocab(self) -> Vocabulary:
        return self.bundle.user_vocab

    @property
    def item_vocab(self) -> Vocabulary:
        return self.bundle.item_vocab

    def _item_indices(self, items: list, what: str = "item") -> np.ndarray:
        """Indices of external item ids; a DataError names the unknown ones."""
        index = self.item_vocab.indices_of(items)
        if (index < 0).any():
            unknown = [items[i] for i in np.flatnonzero(index < 0)[:5]]
            raise DataError(
                f"unknown {what} id(s) {unknown}: the model knows {len(self.item_vocab):,} items."
            )
        return index

    def _answer(
        self, queries: list, top: np.ndarray, scores: np.ndarray, fallback: np.ndarray
    ) -> Recommendations:
        """Recommendations from item-index rows (-1 padded), mapped to external ids in one gather."""
        valid = top >= 0
        ids = self.item_vocab.to_python(top[valid]) if valid.any() else []
        counts = valid.sum(axis=1)
        bounds = np.concatenate(([0], np.cumsum(counts)))
        flat_scores = scores[valid].astype(np.float64).tolist()
        names = self.bundle.item_names
        flat_names = [] if names is None else names.gather(top[valid]).to_list()
        return Recommendations(
            queries=queries,
            items=[ids[bounds[q] : bounds[q + 1]] for q in range(len(queries))],
            scores=[flat_scores[bounds[q] : bounds[q + 1]] for q in range(len(queries))],
            fallback=fallback.tolist(),
            names=[flat_names[bounds[q] : bounds[q + 1]] for q in range(len(queries))]
            if names is not None
            else [],
        )

    # --- histories in external ids ------------------------------------------------------------
    def histories_matrix(self, histories: list[list]) -> tuple[sp.csr_matrix, list[list]]:
        """The known items of each history as a matrix, and the items the model does not know.

        Args:
            histories: One list of external item ids per query.

        Returns:
            (queries x items binary CSR matrix, one list of unknown ids per query).
        """
        flat = [item for history in histories for item in history]
        row = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        matrix, known = self.history_rows(row, flat, len(histories))
        unknown: list[list] = [[] for _ in histories]
        for position in np.flatnonzero(~known):  # only the unknown items, to report them
            unknown[row[position]].append(flat[position])
        return matrix, unknown

    def history_rows(
        self, rows: np.ndarray, items: pl.Series | Sequence, n_queries: int
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        """A queries x items binary matrix from (query row, external item id) pairs, vectorised.

        Args:
            rows: The query row of each pair.
            items: The external item id of each pair.
            n_queries: Rows of the matrix.

        Returns:
            (the CSR matrix, a bool per pair: whether the model knows its item; the others are
            left out of the matrix).
        """
        index = self.item_vocab.indices_of(items) if len(items) else np.zeros(0, np.int64)
        known = index >= 0
        matrix = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (rows[known], index[known])),
            shape=(n_queries, len(self.item_vocab)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0  # an item repeated in a history counts once
        return matrix, known

    def _histories(self, listed: list, n_records: int | None = None) -> list[list]:
        """One history (a sequence of item ids) or several (a list of such sequences) as a list of
        histories; with `n_records`, one per record (a single history for a single record)."""
        several = bool(listed) and all(isinstance(h, (list, tuple, np.ndarray, pl.Series)) for h in listed)
        if n_records is not None:
            several = n_records > 1
        return [as_list(h) for h in listed] if several else [listed]

    # --- the public queries (external ids, n) -------------------------------------------------
    def _k(self, n: Any) -> int:
        """The list length a public query asks for, checked: an int >= 0 (not a bool or a float),
        capped at the catalogue's size (no list can be longer), so memory stays bounded."""
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
            raise DataError(f"n must be a whole number >= 0 (items per list), got {quoted(n)}.")
        return min(int(n), len(self.item_vocab))

    def recommend(
        self,
        users: Any,
        n: int = 10,
        exclude_seen: bool = True,
        items: Any = None,
        new_interactions: Any = None,
    ) -> Recommendations:
        """Top-n items for each user.

        Args:
            users: One user id or a sequence of them.
            n: Items per user.
            exclude_seen: Leave out the items the user was trained on (and the new interactions).
            items: Restrict the candidates to these item ids (unknown ids are a DataError).
            new_interactions: Items each user interacted with since the model was trained, oldest
                first (one list for one user, one list per user for several): with the history
                tower (`user_tower = "history"`) they are appended to the user's saved history and
                the encoder reads it, without retraining; a user the model does not know is then
                ranked from these items alone. DataError with the id tower.

        Returns:
            `Recommendations`; users the model does not know (and without new interactions) get the
            most popular items, with `fallback` True.
        """
        k = self._k(n)
        queries = as_list(users)
        candidates = None if items is None else self._item_indices(as_list(items))
        index = self.user_vocab.indices_of(queries)
        if new_interactions is None:
            top, scores = self.rank_users(index, k, exclude_seen, candidates)
            return self._answer(queries, top, scores, index < 0)
        return self._recommend_with_new(queries, index, new_interactions, k, exclude_seen, candidates)

    def _recommend_with_new(
        self, queries: list, index: np.ndarray, new_interactions: Any, k: int, exclude_seen: bool, candidates
    ) -> Recommendations:
        """`recommend` for users with interactions newer than the model (history tower only)."""
        if not self.reads_history:
            raise DataError(
                "new_interactions needs a model whose user tower reads histories (user_tower = 'history'); "
                "this model embeds user ids, so new interactions count only after retraining."
            )
        news = self._histories(as_list(new_interactions), len(queries))
        if len(news) != len(queries):
            raise DataError(
                f"{len(news)} lists of new interactions for {len(queries)} users; expected one each."
            )
        new_matrix, unknown_items = self.histories_matrix(news)
        known = index >= 0
        saved = self.known_windows(np.maximum(index, 0))
        saved[~known] = self.bundle.model.n_items  # a new user has no saved history
        saved_rows, saved_positions = np.nonzero(saved != self.bundle.model.n_items)
        new_rows, new_items = self._known_pairs(news)
        windows = self.windows(
            np.concatenate([saved_rows, new_rows]),
            np.concatenate([saved[saved_rows, saved_positions], new_items]),
            len(queries),
        )  # the saved items first, then the new ones, each in order
        vectors = self.encode_histories(windows, self.known_features(np.where(known, index, -1)))
        top, scores = self.rank_users(
            index, k, exclude_seen, candidates, exclude=new_matrix if exclude_seen else None, vectors=vectors
        )
        fallback = ~known
        fresh = ~known & (np.diff(new_matrix.indptr) > 0)
        if fresh.any():  # users the model does not know, with new interactions: from those alone
            rows = np.flatnonzero(fresh)
            excluded = new_matrix[rows] if exclude_seen else None
            top[rows], scores[rows] = self._search(self.exact_index, vectors[rows], k, excluded, candidates)
            fallback[rows] = False
        answer = self._answer(queries, top, scores, fallback)
        answer.unknown_items = unknown_items
        return answer

    def _known_pairs(self, histories: list[list]) -> tuple[np.ndarray, np.ndarray]:
        """(query row, item index) of the known items of histories, in their order."""
        flat = [item for history in histories for item in history]
        rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        index = self.item_vocab.indices_of(flat) if flat else np.zeros(0, np.int64)
        return rows[index >= 0], index[index >= 0]

    def _windows_of(self, histories: list[list]) -> np.ndarray | None:
        """The history tower's windows of histories in external ids (None with the id tower)."""
        if not self.reads_history:
            return None
        rows, items = self._known_pairs(histories)
        return self.windows(rows, items, len(histories))

    def recommend_from_history(
        self, items: Any, n: int = 10, exclude_history: bool = True
    ) -> Recommendations:
        """Top-n items for users unknown at training time, from the items they interacted with.

        Args:
            items: One history (a sequence of item ids) or several (a list of such sequences).
            n: Items per history.
            exclude_history: Leave out the history's items.

        Returns:
            `Recommendations` (queries numbered 0, 1, ...); items the model does not know are
            listed in `unknown_items`; a history with no known item gets the most popular items
            (`fallback`).
        """
        k = self._k(n)
        histories = self._histories(as_list(items))
        matrix, unknown = self.histories_matrix(histories)
        top, scores, empty = self.rank_histories(
            matrix, k, exclude_history, windows=self._windows_of(histories)
        )
        answer = self._answer(list(range(len(histories))), top, scores, empty)
        answer.unknown_items = unknown
        return answer

    def recommend_from_features(
        self, features: Any, n: int = 10, history: Any = None, exclude_history: bool = True
    ) -> Recommendations:
        """Top-n items for new users described by their features, through the user tower's feature
        path: the cold-start embedding the model learned with id dropout.

        Args:
            features: One `{feature: value}` dict, or a list of them.
            n: Items per user.
            history: Item ids the user interacted with, oldest first (one list per user for
                several), excluded from the answer: the history tower reads it beside the
                features; with the id tower the feature and the folded-in embeddings are averaged.
            exclude_history: Leave out the history's items.

        Returns:
            `Recommendations` (queries numbered 0, 1, ...).

        Raises:
            DataError: the model has no user features, or a record does not fit the encoder.
        """
        k = self._k(n)
        records = [features] if isinstance(features, dict) else list(features)
        matrix, windows = None, None
        unknown: list[list] = [[] for _ in records]
        if history is not None:
            histories = self._histories(as_list(history), len(records))
            if len(histories) != len(records):
                raise DataError(
                    f"{len(histories)} histories for {len(records)} feature records; expected one each."
                )
            matrix, unknown = self.histories_matrix(histories)
            windows = self._windows_of(histories)
        top, scores = self.rank_features(records, k, matrix, exclude_history, windows=windows)
        answer = self._answer(list(range(len(records))), top, scores, np.zeros(len(records), dtype=bool))
        answer.unknown_items = unknown
        return answer

    def similar_items(self, items: Any, n: int = 10) -> Recommendations:
        """The n items closest (cosine of item embeddings) to each given item, itself excluded.

        Args:
            items: One item id or a sequence of them (unknown ids are a DataError).
            n: Items per query.

        Returns:
            `Recommendations`, scored by cosine.
        """
        k = self._k(n)
        queries = as_list(items)
        top, scores = self.rank_similar(self._item_indices(queries), k)
        return self._answer(queries, top, scores, np.zeros(len(queries), dtype=bool))

    def add_items(self, item_features: Any) -> int:
        """Add new items, described by their features, without retraining.

        Each is embedded through the item tower's feature path (its id embedding is zero, as for
        the cold items the model was trained to handle with id dropout) and can be recommended at
        once; `save` keeps them (the model's item tables grow by these rows).

        Args:
            item_features: `{item_id: {feature: value}}` or a DataFrame with an `id` column; the
                `item_name_column` (if the model has names) gives the new items' names.

        Returns:
            The number of items added.

        Raises:
            DataError: the model has no item features, or an id is already in the catalogue.
        """
        ids, records = feature_records(item_features)
        bundle, model = self.bundle, self.bundle.model
        if bundle.item_encoder is None or not model.item_feature_dim:
            raise DataError(
                "this model has no item features: new items cannot be embedded; retrain with them."
            )
        vocab = self.item_vocab
        # The ids' own rule (`Vocabulary.coerce`): 905.5 or True is no id of an integer catalogue,
        # never rounded or cast.
        coerced = [vocab.coerce(value) for value in ids]
        invalid = [value for value, id_ in zip(ids, coerced) if id_ is None]
        if invalid:
            kind = "whole numbers" if vocab.integer else "text (or whole numbers, as their text)"
            raise DataError(
                f"new item id {quoted(invalid[0])} is not an id of this catalogue, whose ids are {kind}"
                + (f" ({len(invalid):,} such ids)." if len(invalid) > 1 else ".")
            )
        new_ids = pl.Series("id", coerced, dtype=vocab.ids.dtype)
        if new_ids.is_duplicated().any():
            repeated = new_ids.filter(new_ids.is_duplicated()).first()
            raise DataError(f"new item id {quoted(repeated)} is given more than once.")
        known = vocab.indices_of(new_ids) >= 0
        if known.any():
            raise DataError(
                f"item id(s) {new_ids.filter(pl.Series(known)).head(5).to_list()} are already in the "
                "catalogue."
            )
        name_column = bundle.config.item_name_column  # a display name, never a feature
        table = bundle.item_encoder.transform_records(
            records, ignore=("id", *([name_column] if name_column else []))
        )
        combined = pl.concat([vocab.ids, new_ids])
        order = combined.arg_sort().to_numpy()  # new index -> position in (old items, then new ones)

        def grown(matrix: sp.csr_matrix) -> sp.csr_matrix:  # users x (items + new items), new order
            empty = sp.csr_matrix((matrix.shape[0], len(ids)), dtype=np.float32)
            return sp.hstack([matrix, empty]).tocsr()[:, order]

        self._use(
            bundle.replace(
                model=with_new_items(model, table, order),
                item_vocab=Vocabulary(combined.gather(order), "item"),
                seen=grown(bundle.seen),
                disliked=None if bundle.disliked is None else grown(bundle.disliked),
                item_names=None
                if bundle.item_names is None
                else self._grown_names(bundle.item_names, records, order),
            )
        )
        return len(ids)

    def _grown_names(self, names: pl.Series, records: list[dict], order: np.ndarray) -> pl.Series:
        """`names` with the new items' appended (from their `item_name_column`, null where they
        have none), in the grown catalogue's order."""
        column = self.bundle.config.item_name_column
        new = pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame()
        if column in new.columns:
            added = new[column].cast(pl.String)
        else:
            added = pl.repeat(None, len(records), dtype=pl.String, eager=True)
        return pl.concat([names.cast(pl.String), added.rename(names.name)]).gather(order)
