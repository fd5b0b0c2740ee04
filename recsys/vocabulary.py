"""Vocabularies: external ids <-> contiguous integer indices, both ways, vectorised.

Ids are stored sorted (integers or strings, kept as given), so the index of an id is its rank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from recsys.errors import ArtifactError


class Vocabulary:
    """Sorted unique ids; `indices_of` maps ids to indices (-1 for unknown), `ids_at` maps back."""

    def __init__(self, ids: pl.Series, name: str = "id"):
        self.ids = ids.alias("id")
        self.name = name

    def __len__(self) -> int:
        return self.ids.len()

    def __repr__(self) -> str:
        return f"Vocabulary({self.name}, {len(self):,} ids, {self.ids.dtype})"

    def indices_of(self, ids) -> np.ndarray:
        """Index of each id (int64); -1 where the id is not in the vocabulary."""
        query = (
            ids
            if isinstance(ids, pl.Series)
            else pl.Series(list(ids) if not isinstance(ids, np.ndarray) else ids)
        )
        if query.len() == 0:
            return np.zeros(0, dtype=np.int64)
        if isinstance(query.dtype, (pl.Categorical, pl.Enum)):  # each distinct id looked up once
            distinct = query.unique().drop_nulls()
            physical = distinct.to_physical().to_numpy()
            found = np.full(int(physical.max(initial=0)) + 1, -1, dtype=np.int64)
            found[physical] = self.indices_of(distinct.cast(pl.String))
            return pl.Series(found).gather(query.to_physical()).fill_null(-1).to_numpy()
        if query.dtype != self.ids.dtype:
            query = query.cast(self.ids.dtype, strict=False)
        position = self.ids.search_sorted(query, side="left").to_numpy().astype(np.int64)
        clipped = np.minimum(position, len(self) - 1)
        found = (self.ids.gather(clipped) == query).fill_null(False).to_numpy()
        return np.where(found, position, -1)

    def ids_at(self, indices: np.ndarray) -> pl.Series:
        return self.ids.gather(np.asarray(indices, dtype=np.int64))

    def to_python(self, indices: np.ndarray | None = None) -> list:
        """Ids as Python values (int or str), e.g. for JSON output."""
        series = self.ids if indices is None else self.ids_at(indices)
        return series.to_list()

    def save(self, path: str | Path) -> None:
        from recsys.io_utils import atomic_path

        with atomic_path(path) as tmp:
            pl.DataFrame([self.ids]).write_parquet(tmp)

    @classmethod
    def load(cls, path: str | Path, name: str = "id") -> Vocabulary:
        try:
            return cls(pl.read_parquet(path)["id"], name)
        except Exception as exc:
            raise ArtifactError(f"could not read vocabulary {path}: {exc}") from exc
