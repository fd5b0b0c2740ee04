"""Vocabularies: external ids <-> contiguous integer indices, both ways, vectorised.

Ids are stored sorted (integers or strings, kept as given), so the index of an id is its rank.

Ids asked for (`indices_of` for a column or a list of many, `index_of` and `indices` for the
few ids of a request) follow one rule, whatever path they take:

- an integer vocabulary takes integers, whole-number floats (7.0 is 7) and text that is a plain
  integer ("42", "-7"); other text, other floats and booleans are ids it cannot hold;
- a text vocabulary takes text, and integers (or whole-number floats) as their decimal text
  (7 is "7"); booleans and other floats are ids it cannot hold.

An id the vocabulary cannot hold, or does not hold, has index -1.

Example:
    >>> vocab = Vocabulary(pl.Series([3, 7, 42]), "item")
    >>> vocab.indices_of([42, "7", 7.0, 7.5, True, "x"]).tolist()
    [2, 1, 1, -1, -1, -1]
    >>> vocab.index_of("42"), vocab.to_python([0, 2])
    (2, [3, 42])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys.errors import ArtifactError
from recsys.files import atomic_path

__all__ = ["Vocabulary"]

_PLAIN_INTEGER = re.compile(r"-?[0-9]+")
_INTEGER_TEXT = r"^-?[0-9]+$"


class Vocabulary:
    """Sorted unique ids; `indices_of` maps ids to indices (-1 for unknown), `ids_at` maps back.

    Args:
        ids: The ids, sorted and unique (as the preparation makes them).
        name: What they are, for messages ("user", "item").
    """

    def __init__(self, ids: pl.Series, name: str = "id"):
        self.ids = ids.alias("id")
        self.name = name

    def __len__(self) -> int:
        return self.ids.len()

    def __repr__(self) -> str:
        return f"Vocabulary({self.name}, {len(self):,} ids, {self.ids.dtype})"

    @property
    def integer(self) -> bool:
        """Whether the ids are integers (else text)."""
        return self.ids.dtype.is_integer()

    # --- many ids at once (polars) ----------------------------------------------------------
    def indices_of(self, ids: pl.Series | np.ndarray | Sequence) -> np.ndarray:
        """The index of each id (int64), -1 where the vocabulary does not hold it (module doc).

        Args:
            ids: A polars column or a numpy array (looked up by polars), or a sequence of Python
                values (each `coerce`d, as a request's ids are).

        Returns:
            One index per id.
        """
        if not isinstance(ids, (pl.Series, np.ndarray)) or ids.dtype == object:
            return np.asarray(self.indices(list(ids)), dtype=np.int64)
        query = ids if isinstance(ids, pl.Series) else pl.Series(ids)
        if query.len() == 0:
            return np.zeros(0, dtype=np.int64)
        if isinstance(query.dtype, (pl.Categorical, pl.Enum)):  # each distinct id looked up once
            distinct = query.unique().drop_nulls()
            physical = distinct.to_physical().to_numpy()
            found = np.full(int(physical.max(initial=0)) + 1, -1, dtype=np.int64)
            found[physical] = self.indices_of(distinct.cast(pl.String))
            return pl.Series(found).gather(query.to_physical()).fill_null(-1).to_numpy()
        query = self._coerced(query)
        position = self.ids.search_sorted(query, side="left").to_numpy().astype(np.int64)
        clipped = np.minimum(position, max(len(self) - 1, 0))
        if not len(self):
            return np.full(query.len(), -1, dtype=np.int64)
        found = (self.ids.gather(clipped) == query).fill_null(False).to_numpy()
        return np.where(found, position, -1)

    def _coerced(self, query: pl.Series) -> pl.Series:
        """`query` in the vocabulary's type by the module doc's rule; null where it cannot be."""
        dtype, target = query.dtype, self.ids.dtype
        if dtype == target:
            return query
        frame = query.alias("q").to_frame()
        value = pl.col("q")
        if dtype == pl.Boolean or dtype == pl.Null:
            return pl.Series("q", [None] * query.len(), dtype=target)
        if dtype.is_float():
            whole = value.is_finite() & (value == value.floor()) & (value.abs() < 2.0**63)
            value = pl.when(whole).then(value.cast(pl.Int64))
        elif dtype == pl.String and self.integer:
            value = pl.when(value.str.contains(_INTEGER_TEXT)).then(value.str.strip_prefix("+"))
        return frame.select(value.cast(target, strict=False)).to_series()

    # --- the few ids of a request (no polars set-up: ~0.5 ms a call) --------------------------
    def coerce(self, value: Any) -> int | str | None:
        """One id in the vocabulary's type by the module doc's rule, or None when it cannot be one.

        Args:
            value: An id as given (a path's text, a JSON number or string, a Python value).

        Returns:
            The id as the vocabulary holds it (int or str), or None.
        """
        if isinstance(value, (bool, np.bool_)) or value is None:
            return None
        if isinstance(value, (float, np.floating)):
            if not np.isfinite(value) or value != int(value):
                return None
            value = int(value)
        if isinstance(value, np.integer):
            value = int(value)
        if not self.integer:
            return value if isinstance(value, str) else str(value) if isinstance(value, int) else None
        if isinstance(value, str):
            if not _PLAIN_INTEGER.fullmatch(value):
                return None
            value = int(value)
        if not isinstance(value, int):
            return None
        low, high = (0, 2**64 - 1) if self.ids.dtype == pl.UInt64 else (-(2**63), 2**63 - 1)
        return value if low <= value <= high else None

    def index_of(self, value: Any) -> int:
        """The index of one id (`coerce`d), -1 when the vocabulary does not hold it."""
        return self.indices([value])[0]

    def indices(self, values: Sequence[Any]) -> list[int]:
        """The index of each of a request's ids (`coerce`d), -1 where the vocabulary lacks it; a
        binary search over all of them at once, without polars' per-call set-up."""
        coerced = [self.coerce(value) for value in values]
        if not coerced or not len(self):
            return [-1] * len(coerced)
        if not self.integer:
            positions = self._positions
            return [positions.get(str(value), -1) if value is not None else -1 for value in coerced]
        table = self._sorted
        numbers = np.array([0 if value is None else value for value in coerced], dtype=table.dtype)
        at = np.minimum(np.searchsorted(table, numbers), len(table) - 1)
        typed = np.array([value is not None for value in coerced], dtype=bool)
        return np.where((table[at] == numbers) & typed, at, -1).tolist()

    @cached_property
    def _sorted(self) -> np.ndarray:
        return self.ids.to_numpy().astype(np.uint64 if self.ids.dtype == pl.UInt64 else np.int64)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {value: position for position, value in enumerate(self.python_ids)}

    # --- indices back to ids -----------------------------------------------------------------
    def ids_at(self, indices: np.ndarray) -> pl.Series:
        """The ids at these indices, as a polars column."""
        return self.ids.gather(np.asarray(indices, dtype=np.int64))

    @cached_property
    def python_ids(self) -> list:
        """Every id as a Python value (int or str), index order; made once."""
        return self.ids.to_list()

    def to_python(self, indices: np.ndarray | Sequence[int] | None = None) -> list:
        """Ids as Python values (int or str), e.g. for JSON output."""
        series = self.ids if indices is None else self.ids_at(np.asarray(indices))
        return series.to_list()

    # --- files --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the ids as Parquet (atomically)."""
        with atomic_path(path) as tmp:
            pl.DataFrame([self.ids]).write_parquet(tmp)

    @classmethod
    def load(cls, path: str | Path, name: str = "id") -> Vocabulary:
        """The vocabulary saved at `path` (ArtifactError when unreadable)."""
        try:
            return cls(pl.read_parquet(path)["id"], name)
        except Exception as exc:
            raise ArtifactError(f"could not read vocabulary {path}: {exc}") from exc
