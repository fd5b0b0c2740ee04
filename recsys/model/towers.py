"""The two-tower model: `Encoder` (one tower) used twice inside `EmbeddingModel`; affinity = dot product.

The model only embeds: its outputs are the two towers' embeddings, and everything about a loss
(logits, log-q, accidental hits, negatives, targets) belongs to its retrieval task
(`recsys.model.tasks`), which training reaches through Keras' `compute_loss` hook.

Encoded features are held inside each tower as a constant (non-trainable) table aligned with the
id indices, and gathered by index in the graph. Batches therefore carry only integer indices, the
sampler stays the same for every feature set, and a whole catalogue embeds in one call — and the
tables travel with the weights, so a reloaded bundle reproduces embeddings exactly.

Both classes are registered Keras serializables (package "recsys"), so a whole model saved with
`model.save("m.keras")` on any backend loads with `keras.saving.load_model("m.keras")` on any other
once this module is imported; see `EmbeddingModel` for what such a file holds.

Keras 3 only (`keras.ops`), so the same code runs on JAX, TensorFlow and PyTorch.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recsys.errors import DataError
from recsys.model import row_sparse
from recsys.model.feature_path import FeaturePath
from recsys.model.history import HistoryEncoder
from recsys.model.sampling import batch_item_ids
from recsys.model.spec import USER_TOWERS, resolve_task, task_spec, upgrade_spec
from recsys.model.tasks import RetrievalTask

__all__ = ["EmbeddingModel", "Encoder", "compute_embeddings", "padded_rows"]


@keras.saving.register_keras_serializable(package="recsys")
class Encoder(FeaturePath, keras.layers.Layer):
    """One tower: an id embedding, plus (optionally) features through a small MLP projected to
    `embedding_dim` and added to it — so a rarely seen id still gets a meaningful embedding.

    Its feature path (`set_feature_table`, `feature_embedding`: what `call` adds to the id
    embedding, and the whole output for an id whose id embedding is zero, i.e. a cold id; see
    `id_dropout`) is `recsys.model.feature_path.FeaturePath`'s.

    `get_config` holds every constructor argument, so `Encoder.from_config(encoder.get_config())`
    rebuilds the same architecture; the weights (including the constant feature table, which is a
    non-trainable weight, not config) travel with the model's weights.
    """

    no_features = "the {self.name} tower has no features: it embeds ids only."

    def __init__(
        self,
        n_ids: int,
        embedding_dim: int,
        feature_dim: int = 0,
        hidden_dim: int = 128,
        embedding_l2: float = 0.0,
        seed: int = 0,
        id_dropout: float = 0.0,
        row_multiple: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.id_dropout = float(id_dropout)
        self.seed_generator = keras.random.SeedGenerator(seed + 3)
        self.n_ids = int(n_ids)
        self.row_multiple = int(row_multiple)
        self.embedding_dim = int(embedding_dim)
        self.feature_dim = int(feature_dim)
        self.hidden_dim = int(hidden_dim)
        self.embedding_l2 = float(embedding_l2)
        self.seed = int(seed)
        self.id_embedding = keras.layers.Embedding(
            padded_rows(self.n_ids, self.row_multiple),
            self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed),
            embeddings_regularizer=keras.regularizers.L2(self.embedding_l2) if self.embedding_l2 else None,
            name="id_embedding",
        )
        if self.feature_dim:
            self.features = self.add_weight(
                shape=(self.n_ids, self.feature_dim),
                initializer="zeros",
                trainable=False,
                name="feature_table",
            )
            self.hidden = keras.layers.Dense(
                self.hidden_dim,
                activation="relu",
                name="feature_hidden",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
            )
            self.project = keras.layers.Dense(
                self.embedding_dim,
                name="feature_projection",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2),
            )

    def build(self, input_shape=None):
        self.id_embedding.build((None,))
        if self.feature_dim:
            self.hidden.build((None, self.feature_dim))
            self.project.build((None, self.hidden_dim))
        self.built = True

    def call(self, indices, training=False, rows=None):
        """The tower's embeddings of `indices`. `rows`, when given, are the id embeddings already
        looked up (the row-sparse training step's, `recsys.model.row_sparse`, which differentiates with
        respect to the looked-up rows instead of the whole table)."""
        embedding = self.id_embedding(indices) if rows is None else rows
        if self.feature_dim:
            if training and self.id_dropout:
                # Id dropout: some rows are trained from their features alone, as a cold id would be.
                keep = keras.random.uniform(ops.shape(indices), seed=self.seed_generator) >= self.id_dropout
                embedding = embedding * ops.expand_dims(ops.cast(keep, embedding.dtype), -1)
            rows = ops.take(self.features, indices, axis=0)
            embedding = embedding + self.feature_embedding(rows)
        return embedding

    def get_config(self):
        return {
            **super().get_config(),
            "n_ids": self.n_ids,
            "embedding_dim": self.embedding_dim,
            "feature_dim": self.feature_dim,
            "hidden_dim": self.hidden_dim,
            "embedding_l2": self.embedding_l2,
            "seed": self.seed,
            "id_dropout": self.id_dropout,
            "row_multiple": self.row_multiple,
        }


@keras.saving.register_keras_serializable(package="recsys")
class EmbeddingModel(keras.Model):
    """Two towers whose dot product is the affinity, and the retrieval task that trains them.

    `call` returns embeddings only: `{"user": (batch, dim), "item": (batch, dim)}`, or, when the
    batch carries drawn negatives, `"item"` of shape (batch, 1 + negatives, dim), the positive in
    column 0. `compute_loss` hands them to `task` (a `recsys.model.tasks.RetrievalTask`; default: the
    in-batch softmax with log-q correction), so `compile()` needs no `loss=`. `task` may also be
    its serialised form, as `spec()` writes it.

    Saving as a `.keras` file: `get_config` is `spec()` (every constructor argument, the task as
    its serialised config) plus Keras' name and dtype, and the weights include the constant tables
    (feature tables, the task's `item_log_q`), so the file alone rebuilds a model with identical
    embeddings, on any backend. Keras' `.keras` format has no `include_optimizer` switch: the file
    of a compiled, trained model also holds the optimizer (Adam's moments, about two thirds of the
    file), which lets `load_model(path)` resume training. For serving, save `without_optimizer()`
    instead (smaller, and loads without compiling), or load with `compile=False`.

    Example (an untrained model; a trained one, e.g. `bundle.model` of a loaded bundle, alike):
        >>> model = EmbeddingModel(n_users=5, n_items=7, embedding_dim=8)
        >>> model.without_optimizer().save("model.keras")  # importing this module registers the classes
        >>> loaded = keras.saving.load_model("model.keras")
        >>> bool(np.allclose(compute_embeddings(loaded, "user"), compute_embeddings(model, "user")))
        True
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int = 128,
        user_feature_dim: int = 0,
        item_feature_dim: int = 0,
        hidden_dim: int = 128,
        normalize: bool = True,
        temperature: float = 0.15,
        task: RetrievalTask | dict | None = None,
        embedding_l2: float = 0.0,
        seed: int = 0,
        id_dropout: float = 0.0,
        row_multiple: int = 1,
        user_tower: str = "id",
        history_length: int = 50,
        history_blocks: int = 0,
        history_heads: int = 2,
        history_dropout: float = 0.1,
        history_shares_items: bool = False,
        history_time_gaps: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if user_tower not in USER_TOWERS:
            raise DataError(f"user_tower must be one of {', '.join(USER_TOWERS)}; got {user_tower!r}.")
        self.user_tower = user_tower
        self.history_length, self.history_blocks = int(history_length), int(history_blocks)
        self.history_heads, self.history_dropout = int(history_heads), float(history_dropout)
        self.history_shares_items = bool(history_shares_items)
        self.history_time_gaps = bool(history_time_gaps)
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.row_multiple = int(row_multiple)
        self.embedding_dim = int(embedding_dim)
        self.user_feature_dim, self.item_feature_dim = int(user_feature_dim), int(item_feature_dim)
        self.hidden_dim = int(hidden_dim)
        self.normalize = bool(normalize)
        self.temperature = float(temperature)
        self.embedding_l2 = float(embedding_l2)
        self.seed = int(seed)
        self.id_dropout = float(id_dropout)
        # Made first (the history tower may share its table), set after the user tower: Keras tracks
        # layers in the order they are set, and saved weights keep the user tower's first.
        item_encoder = Encoder(
            n_items,
            embedding_dim,
            item_feature_dim,
            hidden_dim,
            embedding_l2,
            seed + 10,
            id_dropout,
            row_multiple,
            name="item_encoder",
        )
        self.user_encoder: Encoder | HistoryEncoder
        if user_tower == "history":
            self.user_encoder = HistoryEncoder(
                n_users,
                n_items,
                embedding_dim,
                history_length,
                history_blocks,
                history_heads,
                history_dropout,
                seed,
                item_table=item_encoder.id_embedding if history_shares_items else None,
                feature_dim=user_feature_dim,
                hidden_dim=hidden_dim,
                time_gaps=history_time_gaps,
                name="user_encoder",
            )
        else:
            self.user_encoder = Encoder(
                n_users,
                embedding_dim,
                user_feature_dim,
                hidden_dim,
                embedding_l2,
                seed,
                id_dropout,
                row_multiple,
                name="user_encoder",
            )
        self.item_encoder = item_encoder
        self.task: RetrievalTask = resolve_task(task, self.n_items)

    def build(self, input_shape=None):
        self.user_encoder.build()
        self.item_encoder.build()
        self.built = True

    # --- embeddings ---------------------------------------------------------------------------
    def _finish(self, embedding):
        if self.normalize:
            embedding = embedding / ops.sqrt(ops.sum(ops.square(embedding), axis=-1, keepdims=True) + 1e-12)
        return embedding

    def user_embedding(self, users, training=False, rows=None, history=None, features=None, gaps=None):
        """User tower output; with normalisation it is divided by sqrt(temperature), so that a dot
        product of the two towers is the training logit (cosine / temperature). `rows`: the id
        embeddings already looked up (see `Encoder.call`). `history` and `features` (history
        tower only): the users' windows (rows x history_length item indices,
        `recsys.data.sequences`) and encoded features, instead of the saved ones; `gaps`, with
        `history_time_gaps`, the windows' gap buckets (None with a window: unknown)."""
        if self.user_tower == "history":
            encoded = self.user_encoder(
                users, training=training, history=history, features=features, gaps=gaps
            )
        else:
            encoded = self.user_encoder(users, training=training, rows=rows)
        embedding = self._finish(encoded)
        return embedding / np.sqrt(self.temperature) if self.normalize else embedding

    def user_embedding_from_history(self, windows, features=None, gaps=None):
        """Embeddings of users given by their histories (history tower only): `windows` (rows x
        `history_length` item indices, oldest first, padded on the left with `n_items`; see
        `recsys.data.sequences.window_of`). A known user's embedding is this function of the user's
        saved window, so a history with newer interactions needs no retraining. With user
        features, `features` (rows x `user_feature_dim`, encoded like the feature table; None: all
        zeros, a user of whom nothing is known) join the history. With `history_time_gaps`,
        `gaps` are the windows' gap buckets (`recsys.data.sequences.gap_buckets`, the shape of
        `windows`; None: unknown, a history given without times). Returns a float32
        numpy matrix (rows x embedding_dim), computed compiled (`predict_on_batch`): callers with
        batches of many sizes pad them to a few (as `ItemRanking.encode_histories` does), since
        each new shape is compiled once.

        Example:
            >>> model = EmbeddingModel(n_users=2, n_items=5, embedding_dim=8, user_tower="history",
            ...                        history_length=3)
            >>> model.set_tables(user_histories=np.array([[5, 0, 1], [2, 3, 4]]))
            >>> known = ops.convert_to_numpy(model.user_embedding(np.array([1])))
            >>> same = ops.convert_to_numpy(model.user_embedding_from_history(np.array([[2, 3, 4]])))
            >>> bool(np.allclose(known, same))
            True
        """
        if self.user_tower != "history":
            raise DataError(
                "this model's user tower embeds ids: fold a history in instead (ItemRanking.fold_in)."
            )
        if not self.built:
            self.build()
        windows = np.asarray(windows)
        if windows.ndim != 2 or windows.shape[1] != self.history_length:
            raise DataError(
                f"histories must be a (rows, {self.history_length}) matrix of item indices, "
                f"got shape {windows.shape}."
            )
        inputs = {"history": windows.astype("int32")}
        if gaps is not None and self.history_time_gaps:
            inputs["history_gaps"] = np.asarray(gaps, "int32")
            if inputs["history_gaps"].shape != windows.shape:
                raise DataError(
                    f"gap buckets must have the histories' shape {windows.shape}, "
                    f"got {inputs['history_gaps'].shape}."
                )
        if self.user_feature_dim:
            inputs["features"] = (
                np.zeros((len(windows), self.user_feature_dim), "float32")
                if features is None
                else np.asarray(features, "float32")
            )
            if inputs["features"].shape != (len(windows), self.user_feature_dim):
                raise DataError(
                    f"user features must be a ({len(windows)}, {self.user_feature_dim}) matrix, one row "
                    f"per history, got shape {inputs['features'].shape}."
                )
        embedder = self.__dict__.get("_history_embedder")
        if embedder is None:  # made once, kept out of Keras' tracking (it is no part of the model)
            embedder = _HistoryEmbedder(self)
            object.__setattr__(self, "_history_embedder", embedder)
        return embedder.predict_on_batch(inputs)

    def gap_boundaries(self) -> np.ndarray | None:
        """The age edges of the history tower's time-gap buckets (`recsys.data.sequences`), the
        ones its saved gaps were cut at; None unless the model reads time gaps."""
        if not self.history_time_gaps:
            return None
        return np.asarray(ops.convert_to_numpy(self.user_encoder.gap_boundaries))

    def item_embedding(self, items, training=False, rows=None):
        """Item tower output, scaled like `user_embedding`."""
        embedding = self._finish(self.item_encoder(items, training=training, rows=rows))
        return embedding / np.sqrt(self.temperature) if self.normalize else embedding

    # --- cold start: embeddings from features alone -------------------------------------------
    def user_embedding_from_features(self, features):
        """Embeddings of users known only by their features (no id: new users, cold start).

        `features` is a float matrix (rows x `user_feature_dim`) encoded as the user feature table
        was, e.g. by the saved encoder's `FeatureEncoder.transform_records`. Each row gives exactly
        what `user_embedding` gives for an id whose id embedding is zero: the feature path, then the
        same normalisation and temperature. Training with `id_dropout` drops the id embedding of a
        share of rows, so this is the embedding the model learned for an id it knows nothing about.
        Returns a backend tensor (rows x embedding_dim), like `user_embedding`; DataError when the
        model has no user features or the matrix has the wrong shape.

        Example (a model with 3 user feature columns; with a bundle, its saved encoder makes the
        rows: `bundle.user_encoder.transform_records([{"age": 31, "country": "DE"}])`):
            >>> model = EmbeddingModel(n_users=5, n_items=7, embedding_dim=8, user_feature_dim=3)
            >>> model.set_tables(user_features=np.eye(5, 3, dtype="float32"))
            >>> users = ops.convert_to_numpy(model.user_embedding_from_features(np.ones((2, 3), "float32")))
            >>> users.shape
            (2, 8)
        """
        return self._from_features(self.user_encoder, features, "user", self.user_feature_dim)

    def item_embedding_from_features(self, features):
        """Embeddings of items known only by their features (new items, cold start): as
        `user_embedding_from_features`, for the item tower (rows x `item_feature_dim`)."""
        return self._from_features(self.item_encoder, features, "item", self.item_feature_dim)

    def _from_features(self, encoder: Encoder | HistoryEncoder, features, side: str, feature_dim: int):
        if not feature_dim:
            raise DataError(
                f"this model has no {side} features (its {side} tower embeds ids only), so it cannot "
                f"embed a {side} from features; train with {side} features (use_{side}_features)."
            )
        features = ops.convert_to_tensor(features, dtype="float32")
        shape = tuple(features.shape)
        if len(shape) != 2 or shape[1] != feature_dim:
            raise DataError(
                f"{side} features must be a (rows, {feature_dim}) matrix encoded like the model's "
                f"{side} feature table, got shape {shape}."
            )
        if not self.built:
            self.build()
        if side == "user" and self.user_tower == "history":  # a user with no items yet
            empty = np.full((shape[0], self.history_length), self.n_items, np.int32)
            return self.user_embedding_from_history(empty, ops.convert_to_numpy(features))
        embedding = self._finish(encoder.feature_embedding(features))
        return embedding / np.sqrt(self.temperature) if self.normalize else embedding

    # --- training ----------------------------------------------------------------------------
    def call(self, inputs, training=False):
        """Embeddings of a batch `{"user", "item"[, "negatives"]}`; drawn negatives join the item
        column after the positive; a task that scores the whole catalogue gets `"catalogue"` too.
        The row-sparse training step (`recsys.model.row_sparse`) adds
        `user_rows` / `item_rows`: the id embeddings it looked up, in the ids' shape plus `dim`."""
        outputs = {
            "user": self.user_embedding(
                inputs["user"],
                training,
                inputs.get("user_rows"),
                inputs.get("history"),
                gaps=inputs.get("history_gaps"),
            ),
            "item": self.item_embedding(batch_item_ids(inputs), training, inputs.get("item_rows")),
        }
        if self.task.scores_catalogue:
            outputs["catalogue"] = self.item_embedding(ops.arange(self.n_items, dtype="int32"), training)
        return outputs

    def train_step(self, *args):
        """Keras' training step, or on JAX, when compiled with `recsys.model.row_sparse.LazyAdam`, the
        row-sparse one (`recsys.model.row_sparse.applies`): Adam updates only the id-table rows each
        batch looks up, several times faster on large catalogues."""
        if row_sparse.applies(self):
            return row_sparse.train_step(self, *args)
        return super().train_step(*args)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' loss hook: the task's loss on the embeddings (`y` carries its per-positive
        targets), plus the additional losses (the embeddings' L2 regularisation), as Keras' own
        `compute_loss` adds them."""
        loss = self.task.compute_loss(x, y_pred, targets=y, sample_weight=sample_weight)
        for extra in self.losses:
            loss = loss + self._aggregate_additional_loss(extra)
        return loss

    def set_tables(
        self,
        user_features=None,
        item_features=None,
        item_log_q=None,
        user_histories=None,
        user_gaps=None,
        gap_boundaries=None,
    ) -> None:
        """Load the constant tables: encoded features, the log sampling probabilities of items
        for a task that keeps them (others ignore `item_log_q`; see `RetrievalTask.adapt`), and the
        history tower's windows of the known users (`user_histories`, n_users x history_length;
        the id tower ignores them), with `history_time_gaps` their gap buckets (`user_gaps`) and
        the age boundaries of the buckets (`gap_boundaries`)."""
        if not self.built:
            self.build()
        if user_histories is not None and isinstance(self.user_encoder, HistoryEncoder):
            self.user_encoder.set_user_histories(user_histories, user_gaps, gap_boundaries)
        if user_features is not None and self.user_feature_dim:
            self.user_encoder.set_feature_table(user_features)
        if item_features is not None and self.item_feature_dim:
            self.item_encoder.set_feature_table(item_features)
        if item_log_q is not None:
            self.task.set_item_log_q(item_log_q)

    def get_config(self):
        """Keras' config (name, trainable, dtype) and `spec()`: all `from_config` needs."""
        return {**super().get_config(), **self.spec()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model rebuilt from `get_config()` (the task from its serialised form), unbuilt:
        Keras then builds it and loads the weights. Configs saved before counts were named n_* load
        too (`upgrade_spec`)."""
        return cls(**upgrade_spec(config))

    def without_optimizer(self, spec: dict | None = None) -> EmbeddingModel:
        """A fresh, uncompiled copy with the same weights and constant tables: what to save for
        serving, since a `.keras` file of a compiled model also holds the optimizer's state.
        `spec` (default `self.spec()`) rebuilds it: a bundle passes the spec as written to disk,
        which proves that the saved spec rebuilds this model. Built outside any distribution
        scope, the copy lives on one device, whatever sharding the original was trained with.

        Example:
            >>> model = EmbeddingModel(n_users=5, n_items=7, embedding_dim=8)
            >>> copy = model.without_optimizer()
            >>> bool(np.array_equal(compute_embeddings(copy, "item"), compute_embeddings(model, "item")))
            True
        """
        if not self.built:
            self.build()
        clean = type(self)(**(spec or self.spec()), name=self.name)
        clean.build()
        # A spec with another row_multiple (a bundle saves a sharded model's tables unpadded)
        # keeps the leading rows: padding rows are never looked up.
        values = zip(self.get_weights(), clean.weights, strict=True)
        clean.set_weights([value[: target.shape[0]] if value.ndim else value for value, target in values])
        return clean

    def spec(self) -> dict:
        """Everything needed to rebuild this model before loading its weights."""
        return {
            "n_users": self.n_users,
            "n_items": self.n_items,
            "embedding_dim": self.embedding_dim,
            "user_feature_dim": self.user_feature_dim,
            "item_feature_dim": self.item_feature_dim,
            "hidden_dim": self.hidden_dim,
            "normalize": self.normalize,
            "temperature": self.temperature,
            "task": task_spec(self.task),
            "embedding_l2": self.embedding_l2,
            "seed": self.seed,
            "id_dropout": self.id_dropout,
            "row_multiple": self.row_multiple,
            "user_tower": self.user_tower,
            "history_length": self.history_length,
            "history_blocks": self.history_blocks,
            "history_heads": self.history_heads,
            "history_dropout": self.history_dropout,
            "history_shares_items": self.history_shares_items,
            "history_time_gaps": self.history_time_gaps,
        }


def padded_rows(n_ids: int, row_multiple: int) -> int:
    """Rows of an id table: `n_ids` rounded up to a multiple of `row_multiple` (the number of
    shards a model-parallel run splits the table into; the extra rows are never looked up)."""
    return -(-n_ids // row_multiple) * row_multiple


class _HistoryEmbedder(keras.Model):
    """`EmbeddingModel.user_embedding_from_history` as a Keras model of its own, so that
    `predict_on_batch` runs it compiled (jit on JAX, a tf.function on TensorFlow): an order of
    magnitude faster than calling the layers eagerly, one request at a time, in a service."""

    def __init__(self, model: EmbeddingModel, **kwargs):
        super().__init__(**{"name": "history_embedder", **kwargs})  # TensorFlow refuses a leading "_"
        self.embedding_model = model

    def call(self, inputs):
        windows = inputs["history"]
        users = ops.zeros((ops.shape(windows)[0],), dtype="int32")
        return self.embedding_model.user_embedding(
            users, history=windows, features=inputs.get("features"), gaps=inputs.get("history_gaps")
        )


def compute_embeddings(model: EmbeddingModel, which: str, batch_size: int = 65536) -> np.ndarray:
    """All user (or item) embeddings as a float32 numpy matrix, computed in batches."""
    count = model.n_users if which == "user" else model.n_items
    tower = model.user_embedding if which == "user" else model.item_embedding
    blocks = []
    for start in range(0, count, batch_size):
        indices = np.arange(start, min(start + batch_size, count), dtype="int32")
        blocks.append(ops.convert_to_numpy(tower(ops.convert_to_tensor(indices))))
    if not blocks:
        return np.zeros((0, model.embedding_dim), np.float32)
    return np.concatenate(blocks).astype(np.float32)
