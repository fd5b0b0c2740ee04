"""The id rules: ids keep their type, and anything that is not an id is refused by row.

Integers stay integers (Int64, or UInt64 for ids from 2**63 up), text stays text, held as a
Categorical: each distinct id stored once and a 32-bit code per row (20 million rows of
13-character ids take 80 MB so, 550 MB as String). Text ids lose surrounding whitespace (counted
in a warning), and a text column whose every value is a plain integer ('7', not '007' or '+7')
becomes Int64, since a CSV holds only text. Whole-number floats (7.0) become integers; any other
float, a boolean, a list or a dict is not an id.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import polars as pl

from recsys.data.arrays import gather_rows, numpy_chunks
from recsys.errors import DataError, first_index, first_rows, quoted
from recsys.log import plural, warn

__all__ = ["MAX_EXACT_FLOAT", "check_ids", "distinct_values", "id_error", "row_note"]

MAX_EXACT_FLOAT = 2.0**53  # floats beyond this are not exact integers


def row_note(source: str) -> str:
    """How rows are counted, for messages about files (a hook's rows are its list positions)."""
    return "" if source.startswith("get_raw_data()") else " (row 1 is the first line after the header)"


def distinct_values(ids: pl.Series) -> pl.Series:
    """The distinct values of a Categorical column, nulls left out: without nulls, one row of each,
    found by writing row numbers into a table indexed by code (no hashing of the rows)."""
    if ids.null_count():
        return ids.unique().drop_nulls()
    row_of = np.full(int(cast(int, ids.to_physical().max())) + 1 if len(ids) else 0, -1, dtype=np.int64)
    for start, chunk in numpy_chunks(ids):
        row_of[chunk] = np.arange(start, start + len(chunk))
    return ids.gather(row_of[row_of >= 0])


# --------------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------------
def id_error(source: str, column: str, row: int, value: Any, what: str) -> DataError:
    return DataError(
        f"{source}: column {column!r} holds {what} on row {row + 1}: {quoted(value)}; "
        "ids must be integers or text."
    )


def _float_ids(ids: pl.Series, column: str, source: str) -> pl.Series:
    """Whole-number floats (7.0, e.g. integers that passed through a float column) as Int64;
    any other float is an error naming its row."""
    nan = ids.is_nan().fill_null(False)
    if nan.any():
        raise DataError(
            f"{source}: column {column!r} is NaN on {nan.sum():,} row(s): rows {first_rows(nan)}; "
            "every interaction needs a user and an item id (integers or text)."
        )
    present = ids.fill_null(0.0)
    fractional = (present != present.floor()) | present.is_infinite()
    if fractional.any():
        row = first_index(fractional)
        raise id_error(source, column, row, ids[row], "a float that is not a whole number")
    huge = present.abs() > MAX_EXACT_FLOAT
    if huge.any():
        row = first_index(huge)
        raise DataError(
            f"{source}: column {column!r} holds the float {ids[row]!r} on row {row + 1}, too large to be an "
            "exact integer; ids must be integers or text (floats only up to 2**53)."
        )
    return ids.cast(pl.Int64)


def _integer_ids(ids: pl.Series, column: str, source: str) -> pl.Series:
    """Int64 when every id fits, else UInt64 (ids from 2**63 to 2**64 - 1 kept exactly)."""
    if ids.dtype in (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32):
        return ids.cast(pl.Int64)
    low, high = int(cast(int, ids.min())), int(cast(int, ids.max()))  # no nulls here
    if low >= -(2**63) and high < 2**63:
        return ids.cast(pl.Int64)
    if low >= 0 and high < 2**64:
        return ids.cast(pl.UInt64)
    # Neither fits: name the first id outside the range that the other ids suggest.
    outside = ((ids < -(2**63)) | (ids >= 2**63)) if low < 0 else (ids >= 2**64)
    row = first_index(outside)
    raise DataError(
        f"{source}: column {column!r} holds {ids[row]} on row {row + 1}: integer ids must fit in 64 bits "
        "(-2**63 up to 2**63 - 1, or 0 up to 2**64 - 1); give such ids as text."
    )


def _per_row(values: pl.Series, distinct: pl.Series, codes: pl.Series) -> pl.Series:
    """`values` (one per id of `distinct`, a Categorical) spread to the rows by their codes
    (`codes`: the column's physical codes; a null code gives null): one gather from a table
    indexed by code, no hashing. For masks in messages and the rare stripped ids."""
    physical = distinct.to_physical().to_numpy()
    position = np.zeros(int(physical.max()) + 1 if len(physical) else 1, dtype=np.uint32)
    position[physical] = np.arange(len(physical), dtype=np.uint32)
    return values.gather(position).gather(codes)  # the table is small, the rows are many


def _reject_missing(missing: pl.Series, column: str, source: str) -> None:
    """DataError naming the rows where `missing` (a mask of the rows without an id) is true."""
    if missing.any():
        raise DataError(
            f"{source}: column {column!r} is empty on {missing.sum():,} data row(s): "
            f"rows {first_rows(missing)}{row_note(source)}; every row needs an id there."
        )


def _text_ids(ids: pl.Series, column: str, source: str) -> pl.Series:
    """Text ids (a Categorical) present and without surrounding whitespace (stripped, and a
    warning says how many changed); a column of plain integers becomes Int64 when every value
    prints back exactly ('7', but not '007', '+7' or '-0').

    Each distinct id is checked once and the verdicts reach the rows through their codes: on 20
    million rows of 140,000 users that is 140,000 strings to look at, not 20 million."""
    codes = ids.to_physical()
    distinct = distinct_values(ids)
    text = distinct.cast(pl.String)
    stripped = text.str.strip_chars()
    blank = stripped == ""
    missing = ids.is_null()
    if blank.any():
        missing = missing | _per_row(blank, distinct, codes).fill_null(False)
    _reject_missing(missing, column, source)
    changed = stripped != text
    if changed.any():
        rows = _per_row(changed, distinct, codes)
        row = first_index(rows)
        warn(
            f"{source}: removed surrounding whitespace from {plural(int(rows.sum()), 'id')} in column "
            f"{column!r} (e.g. row {row + 1}: {quoted(ids[row])} is "
            f"{quoted(stripped.filter(distinct == ids[row])[0])})."
        )
    as_int = stripped.cast(pl.Int64, strict=False)
    # Only a sign '+', a zero before digits or '-0' would not print back the same (prefix tests).
    altered = (
        stripped.str.starts_with("+")
        | stripped.str.starts_with("-0")
        | (stripped.str.starts_with("0") & (stripped.str.len_bytes() > 1))
    )
    if as_int.null_count() == 0 and not altered.any():
        physical = distinct.to_physical().to_numpy()
        table = np.zeros(int(physical.max()) + 1, dtype=np.int64)
        table[physical] = as_int.to_numpy()
        return pl.Series(ids.name, gather_rows(table, ids))  # a view of the array, not a copy
    return _per_row(stripped, distinct, codes).cast(pl.Categorical) if changed.any() else ids


def check_ids(ids: pl.Series, column: str, source: str) -> pl.Series:
    """The id column `column` (values `ids`) as Int64, UInt64 or Categorical text (see the
    module doc); every id present."""
    dtype = ids.dtype
    if dtype == pl.String or isinstance(dtype, pl.Enum):
        ids = ids.cast(pl.Categorical)  # text is checked and kept once per distinct id
        dtype = ids.dtype
    if dtype == pl.Boolean:
        row = first_index(ids.is_not_null()) if ids.null_count() < ids.len() else 0
        raise id_error(source, column, row, ids[row], "booleans")
    if not (dtype.is_integer() or dtype.is_float() or isinstance(dtype, pl.Categorical) or dtype == pl.Null):
        row = first_index(ids.is_not_null()) if ids.null_count() < ids.len() else 0
        raise id_error(source, column, row, ids[row], f"{dtype} values")
    if isinstance(dtype, pl.Categorical):
        return _text_ids(ids, column, source)
    if dtype.is_float():
        ids = _float_ids(ids, column, source)
    _reject_missing(ids.is_null(), column, source)
    return _integer_ids(ids, column, source)
