"""The history user tower: a user's embedding computed from the items they interacted with, in order.

`HistoryEncoder` reads a window of the user's latest `history_length` item indices (right-aligned,
the most recent last, padded on the left with `n_items`; `recsys.data.sequences`), embeds each
item (through the item tower's id embeddings, or a table of its own) plus a learned embedding of
its position from the end and, with `time_gaps`, a learned embedding of its age (how long before
the window's most recent item it was taken, in `recsys.data.sequences.gap_buckets`' quantile
buckets; bucket 0, "unknown", for a history given without times), optionally runs
`num_blocks` causal self-attention blocks over the window (Keras' `MultiHeadAttention`, padding
masked, a feed-forward layer; residuals and layer normalisation), and then pools the window by
attention from its last position: a query made from the most recent item scores every item of
the window (per head, a dot product, padding masked), their softmax weights average the items,
and the average, added to the most recent item and passed through a feed-forward layer, is the
user's embedding; with user features, their MLP's output (as in the id tower) is added to it.
The pooling projects only the query (one d x d product per user, not one per window position as a
full attention block's keys and values need); `benchmarks/training.py --towers id history` times
it against the id tower, and `benchmarks/quality.py` measures whether the blocks add anything.

Training (`recsys.model.sampling.InteractionDataset` with sequences) pairs every training
interaction with the window of the items before it, so every position of every sequence predicts
the item that follows, with the model's retrieval task (in-batch softmax, log-q corrected, by
default). Nothing after an interaction enters its input.

Serving needs no retraining for new interactions: a known user's embedding is the encoder applied
to the user's window, kept in the layer as a constant table (`user_histories`, set from the
training interactions, saved with the weights), and any other history (a new user's, or a known
user's with newer interactions appended) goes through the same `encode`.

Keras 3 only (`keras.ops`), so the same code runs on JAX, TensorFlow and PyTorch.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from recsys.data.sequences import GAP_BUCKETS
from recsys.errors import DataError
from recsys.model.feature_path import FeaturePath

__all__ = ["HistoryEncoder"]


@keras.saving.register_keras_serializable(package="recsys")
class HistoryEncoder(FeaturePath, keras.layers.Layer):
    """The user tower as a self-attention encoder of the user's latest items (module doc).

    Args:
        n_users: Known users (rows of the `user_histories` table).
        n_items: Items; index `n_items` is the padding.
        embedding_dim: The output's (and the item and position embeddings') size.
        history_length: Items of history read (the window's length).
        num_blocks: Causal self-attention blocks before the pooling (0: the pooling alone).
        num_heads: Attention heads of the blocks and the pooling (`embedding_dim` must divide by it).
        dropout: In training, the share of each history's items hidden from the pooling (never
            the most recent), and the dropout of the attention and feed-forward outputs.
        seed: Seeds the initialisers and the dropout.
        item_table: The item tower's id embedding layer, to share (None: a table of its own, with
            a padding row).
        feature_dim: Columns of the user feature table (0: none). The features go through an MLP
            (`hidden_dim`, then `embedding_dim`), as in the id tower, and are added to the
            encoded history: a known user's come from the constant `feature_table`, others are
            given (`call(..., features=)`).
        hidden_dim: The feature MLP's hidden width.
        time_gaps: Add an embedding of each item's age bucket (`gaps` of `encode`, from the
            known users' `user_gaps` table, set with `set_user_histories`; the buckets' age
            boundaries are kept in `gap_boundaries`). In training a quarter of the histories are
            read without their gaps, so that histories given without times are read well.

    Example:
        >>> encoder = HistoryEncoder(n_users=2, n_items=5, embedding_dim=8, history_length=3)
        >>> encoder.set_user_histories(np.array([[5, 0, 1], [2, 3, 4]]))
        >>> users = ops.convert_to_numpy(encoder(np.array([0, 1])))
        >>> again = ops.convert_to_numpy(encoder.encode(np.array([[5, 0, 1], [2, 3, 4]])))
        >>> users.shape, bool(np.allclose(users, again))
        ((2, 8), True)
    """

    no_features = "the user tower has no features: it reads histories only."

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int,
        history_length: int = 50,
        num_blocks: int = 0,
        num_heads: int = 2,
        dropout: float = 0.1,
        seed: int = 0,
        item_table: keras.layers.Embedding | None = None,
        feature_dim: int = 0,
        hidden_dim: int = 128,
        time_gaps: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if embedding_dim % num_heads:
            raise DataError(f"embedding_dim {embedding_dim} must be a multiple of history_heads {num_heads}.")
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.embedding_dim = int(embedding_dim)
        self.history_length = int(history_length)
        self.num_blocks, self.num_heads = int(num_blocks), int(num_heads)
        self.dropout_rate = float(dropout)
        self.seed = int(seed)
        normal = lambda offset: keras.initializers.RandomNormal(stddev=0.1, seed=seed + offset)  # noqa: E731
        glorot = lambda offset: keras.initializers.GlorotUniform(seed=seed + offset)  # noqa: E731
        self.shares_items = item_table is not None
        self.item_table = item_table or keras.layers.Embedding(
            self.n_items + 1, self.embedding_dim, embeddings_initializer=normal(21), name="history_items"
        )
        self.position_table = keras.layers.Embedding(
            self.history_length,
            self.embedding_dim,
            embeddings_initializer=normal(22),
            name="history_positions",
        )
        self.attention, self.attention_norm, self.expand, self.contract, self.ffn_norm = [], [], [], [], []
        for block in range(self.num_blocks):
            self.attention.append(
                keras.layers.MultiHeadAttention(
                    self.num_heads,
                    self.embedding_dim // self.num_heads,
                    dropout=self.dropout_rate,
                    kernel_initializer=glorot(30 + block),
                    seed=seed + 40 + block,
                    name=f"attention_{block}",
                )
            )
            self.attention_norm.append(
                keras.layers.LayerNormalization(epsilon=1e-6, name=f"attention_norm_{block}")
            )
            self.expand.append(
                keras.layers.Dense(
                    self.embedding_dim,
                    activation="gelu",
                    kernel_initializer=glorot(50 + block),
                    name=f"ffn_in_{block}",
                )
            )
            self.contract.append(
                keras.layers.Dense(
                    self.embedding_dim, kernel_initializer=glorot(60 + block), name=f"ffn_out_{block}"
                )
            )
            self.ffn_norm.append(keras.layers.LayerNormalization(epsilon=1e-6, name=f"ffn_norm_{block}"))
        self.query = keras.layers.Dense(
            self.embedding_dim, use_bias=False, kernel_initializer=glorot(80), name="pool_query"
        )
        self.pool_output = keras.layers.Dense(
            self.embedding_dim, kernel_initializer=glorot(81), name="pool_output"
        )
        self.pool_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="pool_norm")
        self.out_expand = keras.layers.Dense(
            self.embedding_dim, activation="gelu", kernel_initializer=glorot(82), name="out_ffn_in"
        )
        self.out_contract = keras.layers.Dense(
            self.embedding_dim, kernel_initializer=glorot(83), name="out_ffn_out"
        )
        self.out_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="out_norm")
        self.drop = keras.layers.Dropout(self.dropout_rate, seed=seed + 70)
        self.seed_generator = keras.random.SeedGenerator(seed + 71)
        self.histories = self.add_weight(
            shape=(self.n_users, self.history_length),
            dtype="int32",
            initializer=keras.initializers.Constant(self.n_items),
            trainable=False,
            name="user_histories",
        )
        self.time_gaps = bool(time_gaps)
        if self.time_gaps:
            self.gap_table = keras.layers.Embedding(
                GAP_BUCKETS, self.embedding_dim, embeddings_initializer=normal(23), name="history_gaps"
            )
            self.gaps = self.add_weight(
                shape=(self.n_users, self.history_length),
                dtype="int32",
                initializer="zeros",
                trainable=False,
                name="user_gaps",
            )
            self.gap_boundaries = self.add_weight(
                shape=(GAP_BUCKETS - 2,), initializer="zeros", trainable=False, name="gap_boundaries"
            )
        self.feature_dim, self.hidden_dim = int(feature_dim), int(hidden_dim)
        if self.feature_dim:
            self.features = self.add_weight(
                shape=(self.n_users, self.feature_dim),
                initializer="zeros",
                trainable=False,
                name="feature_table",
            )
            self.hidden = keras.layers.Dense(
                self.hidden_dim, activation="relu", kernel_initializer=glorot(84), name="feature_hidden"
            )
            self.project = keras.layers.Dense(
                self.embedding_dim, kernel_initializer=glorot(85), name="feature_projection"
            )

    def build(self, input_shape=None):
        sequence = (None, self.history_length, self.embedding_dim)
        if not self.shares_items:
            self.item_table.build((None,))
        self.position_table.build((None,))
        if self.time_gaps:
            self.gap_table.build((None,))
        for block in range(self.num_blocks):
            self.attention[block].build(sequence, sequence)
            self.attention_norm[block].build(sequence)
            self.expand[block].build(sequence)
            self.contract[block].build(sequence)
            self.ffn_norm[block].build(sequence)
        row = (None, self.embedding_dim)
        for layer in (
            self.query,
            self.pool_output,
            self.pool_norm,
            self.out_expand,
            self.out_contract,
            self.out_norm,
        ):
            layer.build(row)
        if self.feature_dim:
            self.hidden.build((None, self.feature_dim))
            self.project.build((None, self.hidden_dim))
        self.built = True

    def set_user_histories(
        self, windows: np.ndarray, gaps: np.ndarray | None = None, boundaries: np.ndarray | None = None
    ) -> None:
        """Load the known users' windows (n_users x history_length item indices, padded with
        n_items); with `time_gaps`, their gap buckets (the same shape; None: unknown) and the age
        boundaries the buckets were cut at (`recsys.data.sequences.age_boundaries`)."""
        windows = np.asarray(windows)
        if windows.shape != (self.n_users, self.history_length):
            raise DataError(
                f"user histories must be {(self.n_users, self.history_length)} item indices, "
                f"got {windows.shape}"
            )
        self.histories.assign(windows.astype("int32"))
        if not self.time_gaps:
            return
        gaps = np.zeros(windows.shape, np.int32) if gaps is None else np.asarray(gaps)
        if gaps.shape != windows.shape:
            raise DataError(f"user gap buckets must be {windows.shape}, got {gaps.shape}")
        self.gaps.assign(gaps.astype("int32"))
        if boundaries is not None:
            self.gap_boundaries.assign(np.asarray(boundaries, "float32").reshape(GAP_BUCKETS - 2))

    def encode(self, history, training=False, gaps=None):
        """Embeddings of histories: (rows, history_length) item indices, padded with `n_items` on the
        left -> (rows, embedding_dim). A history of padding only gives the encoder's output for no
        items (the caller falls back to popularity for it). In training, `dropout` also hides that
        share of each history's items (never the most recent) from the pooling. `gaps`: with
        `time_gaps`, each item's gap bucket (rows, history_length); None: unknown."""
        history = ops.convert_to_tensor(history, dtype="int32")
        valid = ops.not_equal(history, self.n_items)
        if training and self.dropout_rate:
            keep = keras.random.uniform(ops.shape(history), seed=self.seed_generator) >= self.dropout_rate
            most_recent = ops.equal(ops.arange(self.history_length), self.history_length - 1)
            valid = ops.logical_and(valid, ops.logical_or(keep, ops.expand_dims(most_recent, 0)))
        positions = self.position_table(ops.arange(self.history_length, dtype="int32"))
        if not self.num_blocks:  # the positions enter the pooling's two products, not every state
            return self._pool(self._items(history, gaps, training), positions, valid, training)
        states, _ = self.states(history, training, gaps)
        return self._pool(states, None, valid, training)

    def states(self, history, training=False, gaps=None):
        """The window's per-position states before the pooling, (rows, L, d), and which positions
        hold an item (rows, L): the item and position embeddings through the causal blocks, so the
        state at a position depends on the items up to it only."""
        history = ops.convert_to_tensor(history, dtype="int32")
        valid = ops.not_equal(history, self.n_items)
        positions = self.position_table(ops.arange(self.history_length, dtype="int32"))
        x = (self._items(history, gaps, training) + ops.expand_dims(positions, 0)) * ops.expand_dims(
            ops.cast(valid, "float32"), -1
        )
        if self.num_blocks:
            causal = ops.tril(ops.ones((self.history_length, self.history_length), dtype="bool"))
            mask = ops.logical_and(ops.expand_dims(causal, 0), ops.expand_dims(valid, 1))
            for block in range(self.num_blocks):
                attended = self.attention[block](x, x, x, attention_mask=mask, training=training)
                h = self.attention_norm[block](x + attended)
                x = self.ffn_norm[block](
                    h + self.drop(self.contract[block](self.expand[block](h)), training=training)
                )
        return x, valid

    def _items(self, history, gaps=None, training=False):
        """The history's item embeddings, plus with `time_gaps` their gap buckets' (unknown where
        `gaps` is None; in training a quarter of the rows are read as unknown); with a table shared
        with the item tower (which has no padding row) the padding reads item 0, which every use
        masks out."""
        if self.shares_items:
            history = ops.minimum(history, self.n_items - 1)
        embedded = self.item_table(history)
        if not self.time_gaps:
            return embedded
        if gaps is None:
            gaps = ops.zeros(ops.shape(history), dtype="int32")
        gaps = ops.convert_to_tensor(gaps, dtype="int32")
        if training:
            rows = ops.shape(history)[0]
            known = keras.random.uniform((rows, 1), seed=self.seed_generator) >= 0.25
            gaps = ops.where(known, gaps, ops.zeros_like(gaps))
        return embedded + self.gap_table(gaps)

    def _pool(self, states, positions, valid, training):
        """Attention pooling from the last position (module doc): (rows, L, d) states -> (rows, d).
        `positions` (L, d), when given, are added to the states inside the two products (one (L, d)
        term each), which spares a pass over every (rows, L, d) state."""
        heads, width, length = self.num_heads, self.embedding_dim // self.num_heads, self.history_length
        last = states[:, -1, :] if positions is None else states[:, -1, :] + positions[-1]
        query = ops.reshape(self.query(last), (-1, heads, width))
        keys = ops.reshape(states, (-1, length, heads, width))
        scores = ops.einsum("blhw,bhw->blh", keys, query)
        if positions is not None:
            position_keys = ops.reshape(positions, (length, heads, width))
            scores = scores + ops.einsum("lhw,bhw->blh", position_keys, query)
        scores = ops.where(ops.expand_dims(valid, -1), scores / np.sqrt(width), -1e9)
        weights = ops.softmax(scores, axis=1)
        pooled = ops.einsum("blh,blhw->bhw", weights, keys)
        if positions is not None:
            pooled = pooled + ops.einsum("blh,lhw->bhw", weights, position_keys)
        pooled = ops.reshape(pooled, (-1, self.embedding_dim))
        h = self.pool_norm(last + self.drop(self.pool_output(pooled), training=training))
        return self.out_norm(h + self.drop(self.out_contract(self.out_expand(h)), training=training))

    def call(self, users, training=False, rows=None, history=None, features=None, gaps=None):
        """The users' embeddings: `history` (rows x history_length) and its `gaps` when given (no
        gaps: unknown), else each user's saved window and gaps; plus, with user features, the
        feature path of `features` when given, else of each user's row of the feature table.
        `rows` is accepted for the id tower's signature and unused."""
        users = ops.convert_to_tensor(users, dtype="int32")
        if history is None:
            history = ops.take(self.histories, users, axis=0)
            gaps = ops.take(self.gaps, users, axis=0) if self.time_gaps else None
        encoded = self.encode(history, training=training, gaps=gaps)
        if not self.feature_dim:
            return encoded
        if features is None:
            features = ops.take(self.features, users, axis=0)
        return encoded + self.feature_embedding(features)

    def get_config(self):
        return {
            **super().get_config(),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "embedding_dim": self.embedding_dim,
            "history_length": self.history_length,
            "num_blocks": self.num_blocks,
            "num_heads": self.num_heads,
            "dropout": self.dropout_rate,
            "seed": self.seed,
            "feature_dim": self.feature_dim,
            "hidden_dim": self.hidden_dim,
            "time_gaps": self.time_gaps,
        }
