"""Loaded data before any preparation: `RawData` (interactions plus optional feature tables) and
the canonical names of the interaction columns.

Canonical interaction columns: `user`, `item`, and optionally `score` (Float64) and `timestamp`
(Float64: seconds since the epoch for dates; numbers are kept as given). Feature tables get their
id column renamed to `id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = ["ITEM", "SCORE", "TIMESTAMP", "USER", "RawData"]

USER, ITEM, SCORE, TIMESTAMP = "user", "item", "score", "timestamp"


@dataclass
class RawData:
    """Interactions plus optional feature tables, as loaded (not yet filtered or indexed).

    `columns` maps a canonical interaction column to its name in the source (for messages), and
    `user_features_source` / `item_features_source` say where each feature table came from.
    """

    interactions: pl.DataFrame
    user_features: pl.DataFrame | None = None
    item_features: pl.DataFrame | None = None
    source: str = "interactions"
    columns: dict[str, str] = field(default_factory=dict)
    user_features_source: str = "user features"
    item_features_source: str = "item features"

    @property
    def has_scores(self) -> bool:
        return SCORE in self.interactions.columns

    @property
    def has_timestamps(self) -> bool:
        return TIMESTAMP in self.interactions.columns

    def column_name(self, canonical: str) -> str:
        """The source's name of a canonical column (e.g. 'rating' for 'score')."""
        return self.columns.get(canonical, canonical)
