"""What the Python API answers: `Recommendations` (ranked item ids and scores per query), and the
small conversions between external ids and the index-level rankings (`as_list`,
`feature_records`, `rows_matrix`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.errors import DataError

__all__ = ["Recommendations", "as_list", "feature_records", "rows_matrix"]


@dataclass
class Recommendations:
    """Ranked items for a batch of queries, best first: `items[q]` and `scores[q]` answer
    `queries[q]` (the model's affinity, see `recsys.serve.recommender`; NaN throughout a fallback's
    list); `fallback[q]` is True where the most popular items stand in for the model;
    `unknown_items[q]` lists the query's history items the model does not know (if any);
    `names[q]` the display names of `items[q]` (`item_name_column`; None where unnamed), empty
    when the model has no names."""

    queries: list
    items: list[list]
    scores: list[list[float]]
    fallback: list[bool]
    unknown_items: list[list] = field(default_factory=list)
    names: list[list] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.queries)

    def to_dict(self) -> dict:
        """{query: [(item, score), ...]}, the shape of recommendations.json."""
        return {q: list(zip(i, s)) for q, i, s in zip(self.queries, self.items, self.scores)}


def as_list(ids: Any) -> list:
    """One id or a sequence of ids as a list (a string is one id, not a sequence of characters)."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray, pl.Series)):
        return [ids]
    return list(ids)


def feature_records(data: Any) -> tuple[list, list[dict]]:
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


def rows_matrix(rows: Sequence[Sequence[int]], n_items: int) -> sp.csr_matrix:
    """queries x items binary matrix whose row q holds the item indices `rows[q]` (repeats once)."""
    lengths = [len(row) for row in rows]
    columns = np.concatenate([np.asarray(row, dtype=np.int64) for row in rows]) if rows else np.zeros(0, int)
    matrix = sp.csr_matrix(
        (np.ones(len(columns), np.float32), columns, np.concatenate(([0], np.cumsum(lengths)))),
        shape=(len(rows), n_items),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix
