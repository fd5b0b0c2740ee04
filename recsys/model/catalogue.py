"""A trained model's catalogue grown without retraining: new items embedded from their features.

`with_new_items` returns a copy of the model whose item tables have rows for the new items: a zero
id embedding (as for the cold items the model was trained to handle with id dropout), their encoded
features in the feature table, and, for a task that keeps one, the log-q of a single training
positive (they were never sampled). The rows are put in the new vocabulary's order.

Example (an untrained model with 2 item feature columns, grown by one item; a trained one alike):
    >>> from recsys.model.towers import EmbeddingModel
    >>> model = EmbeddingModel(n_users=2, n_items=3, embedding_dim=8, item_feature_dim=2)
    >>> model.set_tables(item_features=np.eye(3, 2, dtype="float32"))
    >>> grown = with_new_items(model, np.ones((1, 2), "float32"), np.arange(4))
    >>> grown.n_items
    4
"""

from __future__ import annotations

import numpy as np
from keras import ops

from recsys.model.towers import EmbeddingModel

__all__ = ["with_new_items"]


def with_new_items(model: EmbeddingModel, features: np.ndarray, order: np.ndarray) -> EmbeddingModel:
    """A copy of `model` with `len(features)` more items, embedded by the item tower's feature path.

    Args:
        model: A trained model with item features.
        features: The new items' encoded features (new items x `item_feature_dim`).
        order: The new catalogue's order: row i of the grown tables is row `order[i]` of (the old
            items, then the new ones), e.g. the sort order of the combined ids.

    Returns:
        The grown model (built, unpadded id tables).
    """
    n_new = len(features)
    n_items = model.n_items + n_new
    spec = {**model.spec(), "n_items": n_items, "row_multiple": 1}
    task_config = spec["task"].get("config", {})
    if "n_items" in task_config:  # the in-batch softmax's log-q table is per item too
        spec["task"] = {**spec["task"], "config": {**task_config, "n_items": n_items}}
    grown = EmbeddingModel(**spec)
    grown.build()
    added = {
        id(model.item_encoder.id_embedding.embeddings): np.zeros((n_new, model.embedding_dim), np.float32),
        id(model.item_encoder.features): np.asarray(features, dtype=np.float32),
    }
    log_q = getattr(model.task, "item_log_q", None)
    if log_q is not None:  # never sampled: the log-q of a single training positive
        added[id(log_q)] = np.full(n_new, float(np.min(ops.convert_to_numpy(log_q))), np.float32)
    replaced = _history_tables(model, n_new, order) if model.user_tower == "history" else {}
    for old, new in zip(model.weights, grown.weights):
        value = np.asarray(ops.convert_to_numpy(old))
        if id(old) in replaced:
            value = replaced[id(old)]
        elif id(old) in added:  # (the id table may hold padding rows beyond n_items: dropped)
            value = np.concatenate([value[: model.n_items], added[id(old)]])[order]
        new.assign(value)
    return grown


def _history_tables(model: EmbeddingModel, n_new: int, order: np.ndarray) -> dict[int, np.ndarray]:
    """The history tower's item table and saved windows for the grown catalogue: new items get zero
    rows (no history holds them yet), the padding row stays last, and the windows' item indices
    (and padding) follow the new order."""
    encoder = model.user_encoder
    table = np.asarray(ops.convert_to_numpy(encoder.item_table.embeddings))
    n_old = model.n_items
    rows = np.concatenate([table[:n_old], np.zeros((n_new, table.shape[1]), table.dtype)])[order]
    new_index = np.empty(n_old + n_new + 1, dtype=np.int64)
    new_index[order] = np.arange(n_old + n_new)
    new_index[n_old] = n_old + n_new  # the old padding index -> the new one
    windows = np.asarray(ops.convert_to_numpy(encoder.histories))
    return {
        id(encoder.item_table.embeddings): np.concatenate([rows, table[n_old:]]),
        id(encoder.histories): new_index[windows].astype(np.int32),
    }
