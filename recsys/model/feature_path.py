"""The feature path both user towers and the item tower share: a constant table of encoded
features aligned with the tower's rows, and an MLP (`hidden`, then `project`) that turns a row of
features into an embedding.

`FeaturePath` is a mixin for a Keras layer that sets `feature_dim`, `features` (its non-trainable
table), `hidden` and `project`; `recsys.model.towers.Encoder` and
`recsys.model.history.HistoryEncoder` use it, so loading a table and embedding features work the
same in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.errors import DataError

__all__ = ["FeaturePath"]


class FeaturePath:
    """`set_feature_table` and `feature_embedding` for a layer holding a feature table and MLP.

    Example:
        >>> from recsys.model.towers import Encoder
        >>> encoder = Encoder(n_ids=3, embedding_dim=4, feature_dim=2, hidden_dim=5)
        >>> encoder.build()
        >>> encoder.set_feature_table(np.ones((3, 2)))
        >>> tuple(encoder.feature_embedding(np.ones((1, 2), "float32")).shape)
        (1, 4)
    """

    feature_dim: int
    features: Any
    hidden: Any
    project: Any
    no_features = "this tower has no features."  # the error when asked to embed features

    def set_feature_table(self, table: np.ndarray) -> None:
        """Load the encoded features of the tower's rows (rows x feature_dim)."""
        expected = tuple(self.features.shape)
        if table.shape != expected:
            raise DataError(f"feature table must be {expected}, got {table.shape}")
        self.features.assign(np.asarray(table, dtype="float32"))

    def feature_embedding(self, features):
        """The feature path alone: `features` (rows x feature_dim, encoded like the feature table)
        through the MLP and projection."""
        if not self.feature_dim:
            raise DataError(self.no_features.format(self=self))
        return self.project(self.hidden(features))
