"""`Recommender`: the public object to train, query, save and load a model from Python.

It wraps a model bundle (towers, vocabularies, encoders, the seen matrix) and answers in external
ids, for many queries at once:

- `recommend(users, n)`: known users by their embeddings, seen items excluded; unknown users get
  the most popular items, flagged as a fallback;
- `recommend_from_history(items, n)`: a user unknown at training time, described by the items they
  interacted with, is folded in (see `fold_in`); the history is excluded from the result and
  items the model does not know are reported, not fatal;
- `similar_items(items, n)`: nearest items by cosine of their embeddings.

Embeddings are computed once per object. Every answer is a `Recommendations`: per query, the item
ids, their scores (the model's affinity; for a fallback, the item's number of training
interactions) and whether it is a fallback.

Example:
    >>> from recsys import Recommender
    >>> from recsys.config import Config
    >>> model = Recommender.fit(interactions, config=Config(max_epochs=20))  # frame, dicts or a path
    >>> model.recommend(["alice", "bob"], n=5).to_dict()["alice"]
    [(42, 6.1), (7, 5.8), ...]
    >>> model.recommend_from_history([42, 7, 311], n=5)  # a new visitor
    >>> model.save("artifacts/my_model"); same = Recommender.load("artifacts/my_model")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.bundle import ModelBundle, load_bundle
from recsys.config import Config
from recsys.errors import DataError
from recsys.index import RetrievalIndex, make_index
from recsys.topn import top_k_from_scores, top_k_unseen
from recsys.vocabulary import Vocabulary

SMALL_BATCH = 64  # queries answered by one product on the calling thread (see _rank)
# Weight of log(1 + item's training interactions) added to a folded-in user's scores (see
# `fold_in`): measured by `python benchmarks/cold_start.py`, best between 1 and 1.5 on the demo
# and on MovieLens, for 5- and 20-item histories alike.
FOLD_IN_POPULARITY_WEIGHT = 1.0


@dataclass
class Recommendations:
    """Ranked items for a batch of queries, best first: `items[q]` and `scores[q]` answer
    `queries[q]`; `fallback[q]` is True where the most popular items stand in for the model;
    `unknown_items[q]` lists the query's history items the model does not know (if any)."""

    queries: list
    items: list[list]
    scores: list[list[float]]
    fallback: list[bool]
    unknown_items: list[list] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.queries)

    def to_dict(self) -> dict:
        """{query: [(item, score), ...]}, the shape of recommendations.json."""
        return {q: list(zip(i, s)) for q, i, s in zip(self.queries, self.items, self.scores)}


def _as_list(ids: Any) -> list:
    """One id or a sequence of ids as a list (a string is one id, not a sequence of characters)."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray, pl.Series)):
        return [ids]
    return list(ids)


def ops_numpy(variable: Any) -> np.ndarray:
    from keras import ops

    return np.asarray(ops.convert_to_numpy(variable))


def _feature_records(data: Any) -> tuple[list, list[dict]]:
    """(ids, feature dicts) from `{id: {feature: value}}` or a DataFrame with an `id` column."""
    if isinstance(data, dict):
        if not all(isinstance(v, dict) for v in data.values()):
            raise DataError(
                "item features must be {item_id: {feature: value}} or a table with an 'id' column."
            )
        return list(data), list(data.values())
    frame = data if isinstance(data, pl.DataFrame) else pl.DataFrame(data)
    if "id" not in frame.columns:
        raise DataError(f"the item feature table needs an 'id' column; columns found: {frame.columns}.")
    return frame["id"].to_list(), frame.drop("id").to_dicts()


class Recommender:
    """Recommendations in external ids from a trained model bundle (see the module doc)."""

    def __init__(self, bundle: ModelBundle):
        self._use(bundle)

    def _use(self, bundle: ModelBundle) -> None:
        """Serve `bundle`: its embeddings and the items' popularity, computed once."""
        self.bundle = bundle
        self.user_vectors = bundle.embeddings("user")
        self.item_vectors = bundle.embeddings("item")
        # Training interactions per item: the popularity fallback's ranking and scores.
        self.popularity = np.asarray(bundle.seen.sum(axis=0), dtype=np.float32).ravel()
        self._popular_order = np.argsort(-self.popularity, kind="stable")
        log_popularity = np.log1p(self.popularity)
        self._fold_in_prior = (FOLD_IN_POPULARITY_WEIGHT * (log_popularity - log_popularity.mean())).astype(
            np.float32
        )
        # Kept for small batches (a served request), which one product and one selection answer
        # faster than top_k_unseen's blocked, threaded set-up for whole user bases.
        self._items_t = np.ascontiguousarray(self.item_vectors.T, dtype=np.float32)
        self._index: RetrievalIndex | None = None

    @property
    def index(self) -> RetrievalIndex:
        """The retrieval index for large batches: exact up to `recsys.index.AUTO_EXACT_MAX_ITEMS`
        items, approximate (faiss IVF) above; built on first use, since an approximate index takes
        seconds to a minute to build."""
        if self._index is None:
            self._index = make_index(self.item_vectors, kind="auto")
        return self._index

    # --- building ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        interactions: Any,
        user_features: Any = None,
        item_features: Any = None,
        config: Config | None = None,
        validate: bool = True,
    ) -> Recommender:
        """Train on `interactions` (a DataFrame, a list of dicts, or a CSV/Parquet path whose
        columns the config names) with optional feature tables (`{id: {feature: value}}`, a frame
        with an `id` column, or a path). With `validate`, the number of epochs is the best of a
        validation run on a split of the data (unless `config.production_epochs` is set); the
        final model is trained on every interaction. Nothing is written to disk."""
        from recsys.experiment import Experiment
        from recsys.log import set_verbosity
        from recsys.pipeline import run_identity
        from recsys.training import fit_on_all, fit_on_split

        config = config or Config()
        set_verbosity(config.verbosity)
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
            experiment = Experiment(config.replace(raw_data_fpath=None), lambda: data)
        epochs = experiment.config.production_epochs
        validation: dict = {}
        if epochs is None and validate:
            checked = fit_on_split(experiment, log_epochs=False)
            epochs, validation = checked.best_epoch, checked.best_metrics
        result = fit_on_all(experiment, epochs or experiment.config.max_epochs)
        prepared, features = experiment.prepared, experiment.features
        metrics = {"epochs": epochs, "validation": validation, "identity": run_identity(experiment)}
        bundle = ModelBundle(
            result.model,
            experiment.config,
            prepared.user_vocab,
            prepared.item_vocab,
            experiment.full_matrix,
            features.user_encoder,
            features.item_encoder,
            metrics,
            result.history,
        )
        return cls(bundle)

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """A Recommender from a saved bundle (checked against its manifest on load)."""
        return cls(load_bundle(path))

    def save(self, path: str | Path) -> Path:
        """Write the bundle (atomically swapped into place; see `recsys.bundle`)."""
        return self.bundle.save(path)

    # --- queries ----------------------------------------------------------------------------
    @property
    def user_vocab(self) -> Vocabulary:
        return self.bundle.user_vocab

    @property
    def item_vocab(self) -> Vocabulary:
        return self.bundle.item_vocab

    def _item_indices(self, items: list, what: str = "item") -> np.ndarray:
        """Indices of external item ids; a DataError names the unknown ones."""
        index = self.item_vocab.indices_of(pl.Series(items, strict=False))
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
        return Recommendations(
            queries=queries,
            items=[ids[bounds[q] : bounds[q + 1]] for q in range(len(queries))],
            scores=[flat_scores[bounds[q] : bounds[q + 1]] for q in range(len(queries))],
            fallback=fallback.tolist(),
        )

    def _popular(
        self, n_queries: int, n: int, candidates: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The n most popular items (among `candidates`) for every one of n_queries rows."""
        if candidates is None:
            order = self._popular_order[:n]
        else:
            order = candidates[np.argsort(-self.popularity[candidates], kind="stable")[:n]]
        top = np.full((n_queries, n), -1, dtype=np.int32)
        scores = np.full((n_queries, n), -np.inf, dtype=np.float32)
        top[:, : len(order)] = order
        scores[:, : len(order)] = self.popularity[order]
        return top, scores

    def _rank(
        self,
        vectors: np.ndarray,
        n: int,
        seen: sp.csr_matrix | None,
        candidates: np.ndarray | None,
        prior: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n by dot product over all items or `candidates` (indices), `seen` excluded; `prior`
        (one score per item) is added to every query's scores when given (exact search)."""
        if candidates is None and len(vectors) <= SMALL_BATCH:
            scores = np.asarray(vectors, dtype=np.float32) @ self._items_t
            if prior is not None:
                scores += prior
            return top_k_from_scores(scores, n, seen=seen, n_threads=1)
        if candidates is None and prior is None:
            return self.index.search(vectors, n, seen=seen)
        items = self.item_vectors
        if prior is not None:  # the prior as one more dimension: a query's 1 times the item's prior
            vectors = np.hstack([vectors, np.ones((len(vectors), 1), np.float32)])
            items = np.hstack([items, prior[:, None]])
        if candidates is None:
            return top_k_unseen(vectors, items, n, seen=seen)
        local_seen = None if seen is None else seen[:, candidates]
        top, scores = top_k_unseen(vectors, items[candidates], n, seen=local_seen)
        return np.where(top >= 0, candidates[np.maximum(top, 0)], -1).astype(np.int32), scores

    def rank_users(
        self, users: np.ndarray, n: int, exclude_seen: bool = True, candidates: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item indices and scores for user indices (-1: unknown, served the most popular
        items), training items excluded unless `exclude_seen=False`, among `candidates` if given."""
        top = np.full((len(users), n), -1, dtype=np.int32)
        scores = np.full((len(users), n), -np.inf, dtype=np.float32)
        known = users >= 0
        if known.any():
            rows = users[known]
            seen = self.bundle.seen[rows] if exclude_seen else None
            top[known], scores[known] = self._rank(self.user_vectors[rows], n, seen, candidates)
        if (~known).any():
            top[~known], scores[~known] = self._popular(int((~known).sum()), n, candidates)
        return top, scores

    def recommend(
        self, users: Any, n: int = 10, exclude_seen: bool = True, items: Any = None
    ) -> Recommendations:
        """Top-n items for each user (one id or many). Known users are ranked by the model, their
        training items excluded (unless `exclude_seen=False`); unknown users get the most popular
        items with `fallback` True. `items` restricts the candidates to those item ids."""
        queries = _as_list(users)
        candidates = None if items is None else self._item_indices(_as_list(items))
        index = self.user_vocab.indices_of(pl.Series(queries, strict=False))
        top, scores = self.rank_users(index, n, exclude_seen, candidates)
        return self._answer(queries, top, scores, index < 0)

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
        """
        counts = np.maximum(np.diff(histories.indptr), 1)[:, None]
        vectors = np.asarray(histories @ self.item_vectors, dtype=np.float32) / counts
        if self.bundle.model.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12) / np.sqrt(self.bundle.model.temperature)
        return vectors

    def histories_matrix(self, histories: list[list]) -> tuple[sp.csr_matrix, list[list]]:
        """Queries x items matrix of the known items of each history, and each history's unknown items."""
        flat = [item for history in histories for item in history]
        row = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        matrix, known = self.history_rows(row, pl.Series(flat, strict=False), len(histories))
        unknown: list[list] = [[] for _ in histories]
        for position in np.flatnonzero(~known):  # only the unknown items, to report them
            unknown[row[position]].append(flat[position])
        return matrix, unknown

    def history_rows(
        self, rows: np.ndarray, items: pl.Series, n_queries: int
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        """Queries x items binary matrix from (query row, external item id) pairs, vectorised;
        and which pairs name an item the model knows (the others are left out)."""
        index = self.item_vocab.indices_of(items) if len(items) else np.zeros(0, np.int64)
        known = index >= 0
        matrix = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (rows[known], index[known])),
            shape=(n_queries, len(self.item_vectors)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0  # an item repeated in a history counts once
        return matrix, known

    def rank_histories(
        self, histories: sp.csr_matrix, n: int, exclude_history: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-n item indices and scores for new users given as history rows (see `fold_in`), the
        history excluded, with the fold-in popularity prior; rows without a known item get the most
        popular items. Returns (items, scores, fallback mask)."""
        empty = np.diff(histories.indptr) == 0
        top, scores = self._rank(
            self.fold_in(histories), n, histories if exclude_history else None, None, self._fold_in_prior
        )
        if empty.any():
            top[empty], scores[empty] = self._popular(int(empty.sum()), n, None)
        return top, scores, empty

    def recommend_from_history(
        self, items: Any, n: int = 10, exclude_history: bool = True
    ) -> Recommendations:
        """Top-n items for a user unknown at training time, from the items they interacted with
        (one history: a sequence of item ids; several: a list of such sequences). Items the model
        does not know are reported in `unknown_items`; a history with no known item gets the most
        popular items (`fallback`)."""
        listed = _as_list(items)
        several = bool(listed) and all(isinstance(h, (list, tuple, np.ndarray)) for h in listed)
        histories = [_as_list(h) for h in listed] if several else [listed]
        matrix, unknown = self.histories_matrix(histories)
        top, scores, empty = self.rank_histories(matrix, n, exclude_history)
        answer = self._answer(list(range(len(histories))), top, scores, empty)
        answer.unknown_items = unknown
        return answer

    def recommend_from_features(
        self, features: Any, n: int = 10, history: Any = None, exclude_history: bool = True
    ) -> Recommendations:
        """Top-n items for new users described by their features (one `{feature: value}` dict, or a
        list of them), through the user tower's feature path: the cold-start embedding the model
        learned with id dropout. With `history` (item ids, or one list per user), the feature and
        the folded-in embeddings are averaged and the history is excluded."""
        from keras import ops

        records = [features] if isinstance(features, dict) else list(features)
        encoder, model = self.bundle.user_encoder, self.bundle.model
        if encoder is None or not model.user_feature_dim:
            raise DataError(
                "this model has no user features: recommend from a history, or retrain with user features."
            )
        vectors = ops.convert_to_numpy(model.user_embedding_from_features(encoder.transform_records(records)))
        matrix = sp.csr_matrix((len(records), len(self.item_vectors)), dtype=np.float32)
        unknown: list[list] = [[] for _ in records]
        if history is not None:
            listed = _as_list(history)
            histories = [_as_list(h) for h in listed] if len(records) > 1 else [listed]
            if len(histories) != len(records):
                raise DataError(
                    f"{len(histories)} histories for {len(records)} feature records; expected one each."
                )
            matrix, unknown = self.histories_matrix(histories)
            has_history = np.diff(matrix.indptr) > 0
            vectors[has_history] = (vectors[has_history] + self.fold_in(matrix)[has_history]) / 2.0
        top, scores = self._rank(
            np.asarray(vectors, np.float32), n, matrix if exclude_history else None, None
        )
        answer = self._answer(list(range(len(records))), top, scores, np.zeros(len(records), dtype=bool))
        answer.unknown_items = unknown
        return answer

    def add_items(self, item_features: Any) -> int:
        """Add new items, described by their features, without retraining: `{item_id: {feature:
        value}}` or a DataFrame with an `id` column. Each is embedded through the item tower's
        feature path (its id embedding is zero, as for the cold items the model was trained to
        handle with id dropout) and can be recommended at once; `save` keeps them (the model's item
        tables grow by these rows). Returns the number of items added."""
        from recsys.model import EmbeddingModel

        ids, records = _feature_records(item_features)
        bundle, model = self.bundle, self.bundle.model
        if bundle.item_encoder is None or not model.item_feature_dim:
            raise DataError(
                "this model has no item features: new items cannot be embedded; retrain with them."
            )
        vocab = self.item_vocab
        new_ids = pl.Series("id", ids).cast(vocab.ids.dtype, strict=False)
        if new_ids.null_count() or new_ids.is_duplicated().any():
            raise DataError(
                f"new item ids must be unique and of the catalogue's id type ({vocab.ids.dtype})."
            )
        known = vocab.indices_of(new_ids) >= 0
        if known.any():
            raise DataError(
                f"item id(s) {new_ids.filter(pl.Series(known)).head(5).to_list()} are already in the "
                "catalogue."
            )
        table = bundle.item_encoder.transform_records(records, ignore=("id",))
        combined = pl.concat([vocab.ids, new_ids])
        order = combined.arg_sort().to_numpy()  # new index -> position in (old items, then new ones)
        spec = {**model.spec(), "num_items": len(combined), "row_multiple": 1}
        task_config = spec["task"].get("config", {})
        if "num_items" in task_config:  # the in-batch softmax's log-q table is per item too
            spec["task"] = {**spec["task"], "config": {**task_config, "num_items": len(combined)}}
        grown = EmbeddingModel(**spec)
        grown.build()
        padding = {
            id(model.item_encoder.id_embedding.embeddings): np.zeros(
                (len(ids), model.embedding_dim), np.float32
            ),
            id(model.item_encoder.features): table.astype(np.float32),
        }
        log_q = getattr(model.task, "item_log_q", None)
        if log_q is not None:  # new items were never sampled: the log-q of a single training positive
            padding[id(log_q)] = np.full(len(ids), float(np.min(ops_numpy(log_q))), np.float32)
        for old, new in zip(model.weights, grown.weights):
            value = ops_numpy(old)
            if id(old) in padding:  # (the id table may hold padding rows beyond num_items: dropped)
                value = np.concatenate([value[: model.num_items], padding[id(old)]])[order]
            new.assign(value)
        seen = sp.hstack(
            [bundle.seen, sp.csr_matrix((bundle.seen.shape[0], len(ids)), dtype=np.float32)]
        ).tocsr()
        self._use(
            ModelBundle(
                grown,
                bundle.config,
                bundle.user_vocab,
                Vocabulary(combined.gather(order), "item"),
                seen[:, order],
                bundle.user_encoder,
                bundle.item_encoder,
                bundle.metrics,
                bundle.history,
            )
        )
        return len(ids)

    def similar_items(self, items: Any, n: int = 10) -> Recommendations:
        """The n items closest (cosine of item embeddings) to each given item, itself excluded."""
        from recsys.recommend import similar_items

        queries = _as_list(items)
        top, scores = similar_items(self.item_vectors, n, item_indices=self._item_indices(queries))
        return self._answer(queries, top, scores, np.zeros(len(queries), dtype=bool))
