"""Feature columns read one way everywhere: as text (categorical), as numbers, as tokens
(multi-valued), and the rules that infer a column's type; the helpers of `FeatureEncoder`
(`recsys.data.features`), which fits on a table and encodes tables and single records alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import polars as pl

from recsys.config import FEATURE_TYPES
from recsys.errors import DataError
from recsys.log import plural

__all__ = [
    "CATEGORICAL",
    "MULTI",
    "NUMERIC",
    "UNKNOWN",
    "as_numbers",
    "as_text",
    "frequent_values",
    "index_of",
    "infer_type",
    "names_text",
    "record_column",
    "tokens",
    "width",
]


CATEGORICAL, NUMERIC, MULTI = FEATURE_TYPES  # the config's FeatureType choices, in that order
UNKNOWN = "<unknown>"
FORMAT = "recsys.FeatureEncoder"
VERSION = 1


# --------------------------------------------------------------------------------------------
# column helpers (vectorised: whole columns through polars/numpy)
# --------------------------------------------------------------------------------------------
def first_bad(bad: pl.Series | np.ndarray, series: pl.Series) -> tuple[int, object, int]:
    """(0-based row, value, count) of the first flagged row."""
    mask = np.asarray(bad.to_numpy() if isinstance(bad, pl.Series) else bad, dtype=bool)
    row = int(np.flatnonzero(mask)[0])
    return row, series[row], int(mask.sum())


def as_text(series: pl.Series, column: str, source: str) -> pl.Series:
    """Values of a categorical column as stripped text; missing/empty -> null.

    Integral floats print as integers, so 3 and 3.0 are the same category whichever way a file
    was read.
    """
    dtype = series.dtype
    if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
        raise DataError(
            f"{source}: column {column!r} holds {dtype} values, which a categorical feature cannot use; "
            "declare it 'multi_categorical' in config feature_types (lists of values) or remove it."
        )
    if dtype == pl.Null:
        return pl.Series(column, [None] * series.len(), dtype=pl.String)
    value = pl.col(column)
    if dtype.is_float():
        value = value.fill_nan(None)
        integral = (value == value.floor()) & (value.abs() < 2.0**62)
        text = pl.when(integral).then(value.cast(pl.Int64).cast(pl.String)).otherwise(value.cast(pl.String))
    else:
        text = value.cast(pl.String)
    text = text.str.strip_chars()
    return (
        series.alias(column)
        .to_frame()
        .select(pl.when(text == "").then(None).otherwise(text).alias(column))
        .to_series()
    )


def as_numbers(series: pl.Series, column: str, source: str) -> np.ndarray:
    """Float64 values of a numeric column, NaN where missing; DataError on non-numbers."""
    dtype = series.dtype
    if dtype == pl.Null:
        return np.full(series.len(), np.nan)
    if dtype == pl.Boolean or dtype.is_numeric():
        values = series.cast(pl.Float64)
    elif dtype.is_temporal():
        values = series.to_physical().cast(pl.Float64)
    elif dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
        text = series.cast(pl.String).str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
        bad = values.is_null() & text.is_not_null() & (text != "")
        if bad.any():
            row, value, count = first_bad(bad, series)
            raise DataError(
                f"{source}: column {column!r} is numeric but row {row + 1} holds {value!r} "
                f"({plural(count, 'non-numeric value')}); expected numbers (or declare {column!r} "
                "'categorical' in config feature_types)."
            )
    else:
        raise DataError(f"{source}: column {column!r} is numeric but holds {dtype} values; expected numbers.")
    array = values.to_numpy().astype(np.float64)  # nulls become NaN
    infinite = np.isinf(array)
    if infinite.any():
        row, value, count = first_bad(infinite, series)
        raise DataError(
            f"{source}: column {column!r} has {plural(count, 'infinite value')} "
            f"(first at row {row + 1}: {value!r}); expected finite numbers or missing values."
        )
    return array


def tokens(series: pl.Series, separator: str, column: str, source: str) -> pl.DataFrame:
    """Long frame (row, token) of a multi-valued column; missing/empty tokens dropped."""
    dtype = series.dtype
    if isinstance(dtype, (pl.List, pl.Array)):
        lists = series.cast(pl.List(dtype.inner)) if isinstance(dtype, pl.Array) else series
    else:
        lists = as_text(series, column, source).str.split(separator)
    long = pl.DataFrame({"row": np.arange(series.len(), dtype=np.int64), "token": lists}).explode("token")
    token = as_text(long["token"], column, source)
    return long.with_columns(token.alias("token")).filter(pl.col("token").is_not_null())


def frequent_values(values: pl.Series, min_count: int, max_categories: int | None) -> tuple[list[str], int]:
    """Values with at least `min_count` occurrences, most frequent first (ties by value), capped.

    Returns (vocabulary, number of distinct values seen).
    """
    counts = (
        values.drop_nulls()
        .alias("value")
        .to_frame()
        .group_by("value")
        .len()
        .sort(["len", "value"], descending=[True, False])
    )
    distinct = counts.height
    counts = counts.filter(pl.col("len") >= min_count)
    if max_categories is not None:
        counts = counts.head(max_categories)
    return counts["value"].to_list(), distinct


def index_of(values: pl.Series, vocabulary: list[str]) -> np.ndarray:
    """Vocabulary position of each value; len(vocabulary) (the unknown bucket) when absent/null."""
    if not vocabulary:
        return np.zeros(values.len(), dtype=np.int64)
    return (
        values.replace_strict(
            vocabulary, list(range(len(vocabulary))), default=len(vocabulary), return_dtype=pl.Int64
        )
        .fill_null(len(vocabulary))
        .to_numpy()
    )


def infer_type(series: pl.Series, separator: str = "|") -> str:
    """The type a column gets when undeclared: numeric dtypes -> numeric; text with the separator
    in some row (or list values) -> multi_categorical; anything else -> categorical."""
    dtype = series.dtype
    if isinstance(dtype, (pl.List, pl.Array)):
        return MULTI
    if dtype.is_numeric():
        return NUMERIC
    if dtype == pl.String and series.str.contains(separator, literal=True).any():
        return MULTI
    return CATEGORICAL


def names_text(names: Sequence, limit: int = 10) -> str:
    """Names quoted for a one-line message, at most `limit` of them."""
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def scalar_text(value: Any, column: str, source: str) -> str | None:
    """One value as `_as_text` reads it in a column of its own type (3.0 -> "3", True -> "true")."""
    if value is None:
        return None
    try:
        series = pl.Series(column, [value])
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        raise DataError(
            f"{source}: feature {column!r} has a value of type {type(value).__name__} ({value!r:.80}), "
            "which is not a number, text or boolean."
        ) from None
    return as_text(series, column, source)[0]


def record_column(values: list, spec: dict, separator: str, source: str) -> pl.Series:
    """One feature's values from records as a column that `transform` reads as it read the training
    table. Values of one Python type make the column a table of that type would have had (as polars
    would read it); a mix (ints and floats, numbers and text, lists and text) is normalised first:
    numbers to float, otherwise everything to the text (or token lists) `_as_text` would make."""
    column, kind = spec["name"], spec["type"]
    try:
        return pl.Series(column, values)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        pass  # mixed types in one column
    present = [value for value in values if value is not None]
    if all(isinstance(value, Real) and not isinstance(value, bool) for value in present):
        return pl.Series(column, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    if kind == NUMERIC:  # numbers (booleans as 0/1) and numeric text: text, parsed by `_as_numbers`
        texts = [scalar_text(float(v) if isinstance(v, bool) else v, column, source) for v in values]
        return pl.Series(column, texts, dtype=pl.String)
    if kind == CATEGORICAL:
        return pl.Series(column, [scalar_text(value, column, source) for value in values], dtype=pl.String)
    lists: list[list[str | None] | None] = []
    for value in values:
        if value is None:
            lists.append(None)
        elif isinstance(value, (list, tuple)):
            lists.append([scalar_text(token, column, source) for token in value])
        else:
            text = scalar_text(value, column, source)
            lists.append(None if text is None else list(text.split(separator)))
    return pl.Series(column, lists, dtype=pl.List(pl.String))


def width(spec: dict) -> int:
    if spec["type"] == NUMERIC:
        return 1 + int(spec["missing_flag"])
    return len(spec["vocabulary"]) + 1
