"""The two-tower model: `Encoder` (one tower) used twice inside `EmbeddingModel`; affinity = dot product.

Encoded features are held inside each tower as a constant (non-trainable) table aligned with the
id indices, and gathered by index in the graph. Batches therefore carry only integer indices, the
sampler stays the same for every feature set, and a whole catalogue embeds in one call — and the
tables travel with the weights, so a reloaded bundle reproduces embeddings exactly.

Keras 3 only (`keras.ops`), so the same code runs on JAX, TensorFlow and PyTorch.
"""

from __future__ import annotations

import numpy as np
import keras
from keras import ops


class Encoder(keras.layers.Layer):
    """One tower: an id embedding, plus (optionally) features through a small MLP projected to
    `embedding_dim` and added to it — so a rarely seen id still gets a meaningful embedding."""

    def __init__(self, num_ids: int, embedding_dim: int, feature_dim: int = 0, hidden_dim: int = 128,
                 embedding_l2: float = 0.0, seed: int = 0, id_dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.id_dropout = float(id_dropout)
        self.seed_generator = keras.random.SeedGenerator(seed + 3)
        self.num_ids = int(num_ids)
        self.embedding_dim = int(embedding_dim)
        self.feature_dim = int(feature_dim)
        self.hidden_dim = int(hidden_dim)
        self.embedding_l2 = float(embedding_l2)
        self.seed = int(seed)
        self.id_embedding = keras.layers.Embedding(
            self.num_ids, self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed),
            embeddings_regularizer=keras.regularizers.L2(self.embedding_l2) if self.embedding_l2 else None,
            name="id_embedding",
        )
        if self.feature_dim:
            self.features = self.add_weight(
                shape=(self.num_ids, self.feature_dim), initializer="zeros", trainable=False, name="feature_table",
            )
            self.hidden = keras.layers.Dense(self.hidden_dim, activation="relu", name="feature_hidden",
                                             kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1))
            self.project = keras.layers.Dense(self.embedding_dim, name="feature_projection",
                                              kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2))

    def build(self, input_shape=None):
        self.id_embedding.build((None,))
        if self.feature_dim:
            self.hidden.build((None, self.feature_dim))
            self.project.build((None, self.hidden_dim))
        self.built = True

    def set_feature_table(self, table: np.ndarray) -> None:
        if table.shape != (self.num_ids, self.feature_dim):
            raise ValueError(f"feature table must be {(self.num_ids, self.feature_dim)}, got {table.shape}")
        self.features.assign(np.asarray(table, dtype="float32"))

    def call(self, indices, training=False):
        embedding = self.id_embedding(indices)
        if self.feature_dim:
            if training and self.id_dropout:
                # Id dropout: some rows are trained from their features alone, as a cold id would be.
                keep = keras.random.uniform(ops.shape(indices), seed=self.seed_generator) >= self.id_dropout
                embedding = embedding * ops.expand_dims(ops.cast(keep, embedding.dtype), -1)
            rows = ops.take(self.features, indices, axis=0)
            embedding = embedding + self.project(self.hidden(rows))
        return embedding

    def get_config(self):
        return {**super().get_config(), "num_ids": self.num_ids, "embedding_dim": self.embedding_dim,
                "feature_dim": self.feature_dim, "hidden_dim": self.hidden_dim,
                "embedding_l2": self.embedding_l2, "seed": self.seed, "id_dropout": self.id_dropout}


class EmbeddingModel(keras.Model):
    """Two towers and their affinity. Training outputs depend on the loss:

    - 'softmax': a (batch x batch) logit matrix, row i = user i against every item of the batch
      (its own positive on the diagonal), with log-q correction and accidental hits masked;
    - 'bce' / 'bpr' / 'mse': (batch x (1 + negatives)) affinities, the positive in column 0.
    """

    def __init__(self, num_users: int, num_items: int, embedding_dim: int = 128, user_feature_dim: int = 0,
                 item_feature_dim: int = 0, hidden_dim: int = 128, normalize: bool = True, temperature: float = 0.15,
                 loss: str = "softmax", logq_correction: bool = True, embedding_l2: float = 0.0, seed: int = 0,
                 id_dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.embedding_dim = int(embedding_dim)
        self.user_feature_dim, self.item_feature_dim = int(user_feature_dim), int(item_feature_dim)
        self.hidden_dim = int(hidden_dim)
        self.normalize = bool(normalize)
        self.temperature = float(temperature)
        self.loss_name = loss
        self.logq_correction = bool(logq_correction)
        self.embedding_l2 = float(embedding_l2)
        self.seed = int(seed)
        self.id_dropout = float(id_dropout)
        self.user_encoder = Encoder(num_users, embedding_dim, user_feature_dim, hidden_dim, embedding_l2, seed, id_dropout, name="user_encoder")
        self.item_encoder = Encoder(num_items, embedding_dim, item_feature_dim, hidden_dim, embedding_l2, seed + 10, id_dropout, name="item_encoder")
        self.item_log_q = self.add_weight(shape=(self.num_items,), initializer="zeros", trainable=False, name="item_log_q")

    def build(self, input_shape=None):
        self.user_encoder.build()
        self.item_encoder.build()
        self.built = True

    # --- embeddings ---------------------------------------------------------------------------
    def _finish(self, embedding):
        if self.normalize:
            embedding = embedding / ops.sqrt(ops.sum(ops.square(embedding), axis=-1, keepdims=True) + 1e-12)
        return embedding

    def user_embedding(self, users, training=False):
        """User tower output; with normalisation it is divided by sqrt(temperature), so that a dot
        product of the two towers is the training logit (cosine / temperature)."""
        embedding = self._finish(self.user_encoder(users, training=training))
        return embedding / np.sqrt(self.temperature) if self.normalize else embedding

    def item_embedding(self, items, training=False):
        embedding = self._finish(self.item_encoder(items, training=training))
        return embedding / np.sqrt(self.temperature) if self.normalize else embedding

    # --- training outputs ---------------------------------------------------------------------
    def call(self, inputs, training=False):
        users, items = inputs["user"], inputs["item"]
        user_vectors = self.user_embedding(users, training)
        if self.loss_name == "softmax":
            item_vectors = self.item_embedding(items, training)
            logits = ops.matmul(user_vectors, ops.transpose(item_vectors))
            if self.logq_correction:
                logits = logits - ops.expand_dims(ops.take(self.item_log_q, items, axis=0), 0)
            # The same item twice in a batch: its other columns are not negatives (accidental hits).
            same_item = ops.equal(ops.expand_dims(items, 1), ops.expand_dims(items, 0))
            diagonal = ops.eye(ops.shape(items)[0], dtype="bool")
            accidental = ops.logical_and(same_item, ops.logical_not(diagonal))
            return ops.where(accidental, ops.full_like(logits, -1e9), logits)
        candidates = ops.concatenate([ops.expand_dims(items, 1), inputs["negatives"]], axis=1)
        item_vectors = self.item_embedding(candidates, training)  # (batch, 1 + negatives, dim)
        return ops.sum(ops.expand_dims(user_vectors, 1) * item_vectors, axis=-1)

    def set_tables(self, user_features=None, item_features=None, item_log_q=None) -> None:
        """Load the constant tables: encoded features and log sampling probabilities of items."""
        if not self.built:
            self.build()
        if user_features is not None and self.user_feature_dim:
            self.user_encoder.set_feature_table(user_features)
        if item_features is not None and self.item_feature_dim:
            self.item_encoder.set_feature_table(item_features)
        if item_log_q is not None:
            self.item_log_q.assign(np.asarray(item_log_q, dtype="float32"))

    def get_config(self):
        return {**super().get_config(), **self.spec()}

    def spec(self) -> dict:
        """Everything needed to rebuild this model before loading its weights."""
        return {
            "num_users": self.num_users, "num_items": self.num_items, "embedding_dim": self.embedding_dim,
            "user_feature_dim": self.user_feature_dim, "item_feature_dim": self.item_feature_dim,
            "hidden_dim": self.hidden_dim, "normalize": self.normalize, "temperature": self.temperature,
            "loss": self.loss_name, "logq_correction": self.logq_correction, "embedding_l2": self.embedding_l2,
            "seed": self.seed, "id_dropout": self.id_dropout,
        }


def compute_embeddings(model: EmbeddingModel, which: str, batch_size: int = 65536) -> np.ndarray:
    """All user (or item) embeddings as a float32 numpy matrix, computed in batches."""
    count = model.num_users if which == "user" else model.num_items
    tower = model.user_embedding if which == "user" else model.item_embedding
    blocks = []
    for start in range(0, count, batch_size):
        indices = np.arange(start, min(start + batch_size, count), dtype="int32")
        blocks.append(ops.convert_to_numpy(tower(ops.convert_to_tensor(indices))))
    return np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, model.embedding_dim), np.float32)
