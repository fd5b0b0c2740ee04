"""Load interactions and optional feature tables into polars frames with canonical column names.

Sources: a CSV or Parquet file read by the column names in the config, or the seed's
`get_raw_data()` hook returning `(interaction_data, user_data, item_data)`. Every problem is a
`DataError` of one line that names the file (or `get_raw_data()`), the column, the row (1-based:
row 1 is the first line after the header, or the first element the hook returned) and says what
was expected; a quoted value is cut to about 80 characters.

Canonical interaction columns: `user`, `item`, and optionally `score` (Float64) and `timestamp`
(Float64: seconds since the epoch for dates; numbers are kept as given). Feature tables get their
id column renamed to `id`.

Ids keep their type: integers stay integers (Int64, or UInt64 for ids from 2**63 up), text stays
text, held as a Categorical: each distinct id stored once and a 32-bit code per row (20 million
rows of 13-character ids take 80 MB so, 550 MB as String). Text ids lose surrounding whitespace
(counted in a warning), and a text column whose every value is a plain integer ('7', not '007'
or '+7') becomes Int64, since a CSV holds only text.
Whole-number floats (7.0) become integers; any other float, a boolean, a list or a dict is not an
id, and a hook column that mixes integers and text is refused rather than turned into text.
Dates are never guessed: text timestamps are numbers, ISO-8601 dates, or parsed strictly with
`timestamp_format`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from recsys.errors import DataError
from recsys.interactions import gather_rows, numpy_chunks
from recsys.log import plural, warn

USER, ITEM, SCORE, TIMESTAMP = "user", "item", "score", "timestamp"
QUOTE_LIMIT = 80  # characters of a value quoted in a message
MAX_EXACT_FLOAT = 2.0**53  # floats beyond this are not exact integers
FLOAT32_MAX = float(np.finfo(np.float32).max)  # scores train as float32
# No clock counts past 2**63 (nanoseconds since 1970 reach it in 2262): beyond it a "time" is garbage.
MAX_TIMESTAMP = 2.0**63
# Magnitude classes of numeric timestamps (seconds, ms, µs, ns since 1970 for years 1973..5138).
TIME_UNITS = ((1e11, "seconds"), (1e14, "milliseconds"), (1e17, "microseconds"), (np.inf, "nanoseconds"))


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


# --------------------------------------------------------------------------------------------
# message helpers
# --------------------------------------------------------------------------------------------
def quoted(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """repr of a value on one line, cut to `limit` characters, so that no message echoes a large
    input or breaks into several lines."""
    if isinstance(value, pl.Series):
        value = value.head(limit).to_list()
    text = repr(value[: limit + 1] if isinstance(value, (str, bytes)) else value)
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def a_type(kind: type) -> str:
    """'a list', 'an int': the type's name with its article."""
    name = kind.__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _first_line(exc: BaseException, limit: int = 120) -> str:
    """The first line of a library's message, cut to `limit` characters (never its hints)."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_rows(mask: pl.Series | np.ndarray, limit: int = 5) -> str:
    """1-based data row numbers where mask is true, as text (the first few)."""
    rows = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" (and {len(rows) - limit:,} more)" if len(rows) > limit else "")


def _row_note(source: str) -> str:
    """How rows are counted, for messages about files (a hook's rows are its list positions)."""
    return "" if source.startswith("get_raw_data()") else " (row 1 is the first line after the header)"


def _first(mask: pl.Series | np.ndarray) -> int:
    """0-based index of the first true value of a boolean mask (nulls count as false)."""
    if isinstance(mask, pl.Series):
        mask = mask.fill_null(False).to_numpy()
    return int(np.flatnonzero(mask)[0])


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
BLOCK_BYTES = 1 << 24  # the CSV scanner reads 16 MiB at a time


@dataclass
class _Record:
    """A CSV record (a row, possibly over several lines) as far as the scanner has read it."""

    number: int  # 0 for the header, then the data row number
    line: int  # 0-based line of the file where it starts
    text: str  # its first line, for the message
    separators: int = 0  # separators outside quotes so far
    multiline: bool = False  # holds a line break inside quotes


def _record_problem(record: _Record, header: int, at_end_inside_quotes: bool = False) -> str | None:
    """What is wrong with a finished record, given the header's separator count; None if nothing."""
    where = (
        "the header line"
        if record.number == 0
        else f"row {record.number} (line {record.line + 1} of the file: {quoted(record.text)})"
    )
    if at_end_inside_quotes or (record.multiline and record.separators != header):
        return f'{where} has an unbalanced quote ("); a quoted value must end with a closing quote.'
    if record.separators > header:
        return (
            f"{where} has {record.separators + 1} fields but the header has {header + 1}; every row needs "
            "one value per column (a value that contains the separator must be quoted)."
        )
    return None


class _CsvScanner:
    """Finds the first malformed record of a CSV file, block by block (whole lines per block).

    Vectorised per block: the positions of quotes, separators and line breaks come from numpy; a
    byte is inside quotes when an odd number of quotes precede it in the file; records end at line
    breaks outside quotes. A record is malformed when it has more fields than the header, when it
    spans lines inside quotes but has the wrong number of fields (a stray quote swallowed the
    following lines), or when the file ends inside quotes."""

    def __init__(self, separator: int):
        self.separator = separator
        self.parity = 0  # quotes so far, modulo 2
        self.line = 0  # lines before the current block
        self.records = 0  # records finished so far (the header is record 0)
        self.header: int | None = None  # separators of the header
        self.open: _Record | None = None  # the record that continues into the next block

    def block(self, block: bytes) -> str | None:
        """Scan one block of whole lines; the first problem found, or None."""
        data = np.frombuffer(block, dtype=np.uint8)
        quotes = np.flatnonzero(data == 34)
        breaks = np.flatnonzero(data == 10)
        separators = np.flatnonzero(data == self.separator)

        def inside(positions: np.ndarray) -> np.ndarray:
            return (self.parity + np.searchsorted(quotes, positions)) % 2 == 1

        break_inside = inside(breaks)
        ends = breaks[~break_inside]
        # Piece k runs up to ends[k]; the last piece (after the last end) continues in the next block.
        n_pieces = len(ends) + 1
        seps = np.bincount(np.searchsorted(ends, separators[~inside(separators)]), minlength=n_pieces)
        multiline = np.bincount(np.searchsorted(ends, breaks[break_inside]), minlength=n_pieces) > 0
        starts = np.concatenate(([0], ends + 1))
        lines = self.line + np.searchsorted(breaks, starts)
        if self.open is not None:  # the first piece finishes the record left open
            self.open.separators += int(seps[0])
            self.open.multiline |= bool(multiline[0])
            seps[0], multiline[0] = self.open.separators, self.open.multiline
        numbers = self.records + np.arange(n_pieces)  # a blank line is a row (of nulls) to polars too
        if self.header is None and n_pieces > 1:
            self.header = int(seps[0])
        header = self.header if self.header is not None else -1
        bad = (numbers[:-1] > 0) & ((seps[:-1] > header) | (multiline[:-1] & (seps[:-1] != header)))
        if header >= 0 and bad.any():
            first = int(np.flatnonzero(bad)[0])
            return _record_problem(
                self._record(block, first, starts, numbers, lines, seps, multiline), header
            )
        if n_pieces > 1:
            self.open = None
        if starts[-1] < len(data):
            last = n_pieces - 1
            if self.open is None:
                self.open = self._record(block, last, starts, numbers, lines, seps, multiline)
            else:  # the open record continues through this whole block
                self.open.separators, self.open.multiline = int(seps[last]), bool(multiline[last])
        self.records = int(numbers[-2]) + 1 if n_pieces > 1 else self.records
        self.parity = (self.parity + len(quotes)) % 2
        self.line += len(breaks)
        return None

    def _record(
        self,
        block: bytes,
        piece: int,
        starts: np.ndarray,
        numbers: np.ndarray,
        lines: np.ndarray,
        seps: np.ndarray,
        multiline: np.ndarray,
    ) -> _Record:
        """Piece `piece` of the block as a record (the open record, when the piece finishes it)."""
        if piece == 0 and self.open is not None:
            return self.open
        begin = int(starts[piece])
        stop = block.find(b"\n", begin)
        text = block[begin : stop if stop >= 0 else len(block)].rstrip(b"\r").decode("utf-8", "replace")
        return _Record(int(numbers[piece]), int(lines[piece]), text, int(seps[piece]), bool(multiline[piece]))

    def finish(self) -> str | None:
        """The verdict on the last record (the file may end without a line break, or inside quotes)."""
        if self.open is None or (self.header is None and self.parity == 0):
            return None
        header = self.header if self.header is not None else self.open.separators
        return _record_problem(self.open, header, at_end_inside_quotes=self.parity == 1)


def _scan_csv(path: Path, separator: str) -> str | None:
    """Where a CSV file that polars could not parse goes wrong: invalid UTF-8, an unbalanced quote,
    or a row with more fields than the header. None when nothing is found. Reads the file in blocks
    of whole lines, so memory stays bounded on large files."""
    encoded = separator.encode()
    if len(encoded) != 1:
        return None
    scanner = _CsvScanner(encoded[0])
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(BLOCK_BYTES)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if chunk and cut == 0:
                carry = data  # one line longer than a block: read on
                continue
            block, carry = data[:cut], data[cut:]
            if not block:
                return scanner.finish()
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = scanner.line + block.count(b"\n", 0, exc.start)
                where = "the header line" if line == 0 else f"line {line + 1} of the file"
                return (
                    f"{where} holds the byte 0x{block[exc.start]:02x}, which is not UTF-8 text; "
                    "save the file as UTF-8."
                )
            problem = scanner.block(block)
            if problem:
                return problem


def _csv_header(path: Path, separator: str) -> list[str]:
    """The header's column names exactly as written (polars renames a repeated name silently)."""
    first = pl.read_csv(path, separator=separator, has_header=False, n_rows=1, infer_schema=False)
    return [str(name) for name in first.row(0)]


def read_table(
    path: str | Path,
    separator: str = ",",
    what: str = "data",
    id_columns: tuple = (),
    text_columns: tuple = (),
    columns: tuple | None = None,
    number_columns: tuple = (),
) -> pl.DataFrame:
    """Read a CSV or Parquet file, or a folder of Parquet files. CSV id columns (and
    `text_columns`) are read as text, so that '007' stays '007'; `_check_ids` turns ids into
    integers only where that loses nothing. `columns`: read only these, so other columns never
    reach memory (all columns when one of them is missing, for the message that lists them).

    Compact as read (see `_compact`): text id columns become Categorical and numeric
    `number_columns` Float64 while the file streams in, so the full-width raw table (20 million
    13-character ids are 550 MB as String, 80 MB as Categorical) never exists.

    A folder is read lazily as one table: its `*.parquet` files in name order (which is the row
    order that `duplicate_policy = "last"` follows), only `columns` projected.

    Any parse failure is one DataError line: for a CSV, the row of the first invalid UTF-8 byte,
    unbalanced quote or extra field (found by a vectorised scan), else polars' first line, cut."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} file {path} does not exist (check the path in config.py).")
    if path.is_dir():
        return _read_parquet_folder(path, what, columns, id_columns, number_columns)
    if path.stat().st_size == 0:
        raise DataError(f"{what} file {path} is empty; expected a header row and at least one data row.")
    is_parquet = path.suffix.lower() in (".parquet", ".pq")
    header: list[str] = []
    try:
        if is_parquet:
            frame = _compact(_scan_parquet([path], columns), id_columns, number_columns)
        else:
            header = _csv_header(path, separator)
            overrides = {c: pl.String for c in (*id_columns, *text_columns) if c in header}
            lazy = pl.scan_csv(
                path, separator=separator, infer_schema_length=10_000, schema_overrides=overrides
            )
            if columns is not None and set(columns) <= set(header):
                lazy = lazy.select(list(dict.fromkeys(columns)))
            try:
                frame = _compact(lazy, id_columns, number_columns)
            except pl.exceptions.ComputeError:
                # A column whose type changes after the inferred prefix: read everything as text and
                # let each column's own check say what is wrong.
                frame = pl.read_csv(path, separator=separator, infer_schema=False)
    except (Exception, pl.exceptions.PanicException) as exc:
        problem = None if is_parquet or isinstance(exc, OSError) else _scan_csv(path, separator)
        raise DataError(f"could not read {what} file {path}: {problem or _first_line(exc)}") from None
    repeated = [name for name in dict.fromkeys(header) if header.count(name) > 1]
    if repeated:
        positions = [i + 1 for i, name in enumerate(header) if name == repeated[0]]
        raise DataError(
            f"{what} file {path}: the header names the column {quoted(repeated[0])} "
            f"{len(positions)} times (columns {', '.join(map(str, positions))}); column names must be unique."
        )
    if frame.height == 0:
        raise DataError(f"{what} file {path} has a header but no data rows.")
    return frame


def _compact(lazy: pl.LazyFrame, id_columns: tuple, number_columns: tuple) -> pl.DataFrame:
    """Collect `lazy` in a stream, each chunk made compact as it arrives: text `id_columns` as
    Categorical (each distinct id stored once, a 32-bit code per row) and numeric
    `number_columns` as Float64 (the type their checks give them anyway); other columns as read.

    Lossless: the Categorical holds the exact text (nulls stay null), and the checks read it per
    distinct value."""
    schema = lazy.collect_schema()
    compact = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if name in id_columns and dtype == pl.String:
            column = column.cast(pl.Categorical)
        elif name in number_columns and dtype.is_numeric():
            column = column.cast(pl.Float64)
        compact.append(column)
    return lazy.select(compact).collect(engine="streaming")


def _scan_parquet(files: list[Path], columns: tuple | None) -> pl.LazyFrame:
    """The files as one lazy table, projected on `columns` (None, or one of them missing: all
    columns, so that the missing-column error can list the columns the data has)."""
    lazy = pl.scan_parquet(files)
    if columns is None or not set(columns) <= set(lazy.collect_schema().names()):
        return lazy
    return lazy.select(list(dict.fromkeys(columns)))


def _read_parquet_folder(
    path: Path, what: str, columns: tuple | None, id_columns: tuple = (), number_columns: tuple = ()
) -> pl.DataFrame:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
    if not files:
        raise DataError(
            f"{what} folder {path} holds no .parquet files; expected a CSV or Parquet file, or a folder "
            "of Parquet files."
        )
    try:
        frame = _compact(_scan_parquet(files, columns), id_columns, number_columns)
    except (Exception, pl.exceptions.PanicException) as exc:
        raise DataError(
            f"could not read the {what} folder {path} ({len(files)} files): {_first_line(exc)}"
        ) from None
    if frame.height == 0:
        raise DataError(f"{what} folder {path}: its {len(files)} Parquet files hold no rows.")
    return frame


INTERACTION_COLUMNS_FIX = (
    "Set user_column, item_column, score_column and timestamp_column in config.py to its column names."
)
HOOK_COLUMNS_FIX = (
    "get_raw_data() must return interactions with the keys 'user' and 'item' "
    "(and optionally 'score' and 'timestamp')."
)


def require_columns(frame: pl.DataFrame, columns: dict[str, str], source: str, fix: str) -> None:
    """Raise a DataError listing the missing columns, the ones that exist, and `fix`: the
    sentence that says which setting (or which part of data.py) names them."""
    missing = [f"{col!r} ({role})" for role, col in columns.items() if col not in frame.columns]
    if missing:
        found = ", ".join(map(repr, frame.columns[:20])) + (" ..." if frame.width > 20 else "")
        raise DataError(f"{source}: missing column {', '.join(missing)}. Columns found: {found}. " + fix)


# --------------------------------------------------------------------------------------------
# text ids as codes
# --------------------------------------------------------------------------------------------
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
def _id_error(source: str, column: str, row: int, value: Any, what: str) -> DataError:
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
            f"{source}: column {column!r} is NaN on {nan.sum():,} row(s): rows {_first_rows(nan)}; "
            "every interaction needs a user and an item id (integers or text)."
        )
    present = ids.fill_null(0.0)
    fractional = (present != present.floor()) | present.is_infinite()
    if fractional.any():
        row = _first(fractional)
        raise _id_error(source, column, row, ids[row], "a float that is not a whole number")
    huge = present.abs() > MAX_EXACT_FLOAT
    if huge.any():
        row = _first(huge)
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
    row = _first(outside)
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
            f"rows {_first_rows(missing)}{_row_note(source)}; every row needs an id there."
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
        row = _first(rows)
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


def _check_ids(ids: pl.Series, column: str, source: str) -> pl.Series:
    """The id column `column` (values `ids`) as Int64, UInt64 or Categorical text (see the
    module doc); every id present."""
    dtype = ids.dtype
    if dtype == pl.String or isinstance(dtype, pl.Enum):
        ids = ids.cast(pl.Categorical)  # text is checked and kept once per distinct id
        dtype = ids.dtype
    if dtype == pl.Boolean:
        row = _first(ids.is_not_null()) if ids.null_count() < ids.len() else 0
        raise _id_error(source, column, row, ids[row], "booleans")
    if not (dtype.is_integer() or dtype.is_float() or isinstance(dtype, pl.Categorical) or dtype == pl.Null):
        row = _first(ids.is_not_null()) if ids.null_count() < ids.len() else 0
        raise _id_error(source, column, row, ids[row], f"{dtype} values")
    if isinstance(dtype, pl.Categorical):
        return _text_ids(ids, column, source)
    if dtype.is_float():
        ids = _float_ids(ids, column, source)
    _reject_missing(ids.is_null(), column, source)
    return _integer_ids(ids, column, source)


# --------------------------------------------------------------------------------------------
# scores and timestamps
# --------------------------------------------------------------------------------------------
def _reject_unparsed(
    text: pl.Series, parsed: pl.Series, column: str, source: str, expected: str, fix: str = ""
) -> None:
    """DataError naming the first text value that did not parse (and how many did not)."""
    bad = parsed.is_null() & text.is_not_null()
    if bad.any():
        first = _first(bad)
        raise DataError(
            f"{source}: column {column!r} must hold {expected}; row {first + 1} has {quoted(text[first])} "
            f"({bad.sum():,} unreadable value(s), rows {_first_rows(bad)}){fix}"
        )


def _extremes(series: pl.Series) -> tuple[float, float]:
    """(min, max) of a Float64 column without NaN or nulls: two passes that allocate nothing, so
    that a range check builds its 20-million-row masks only for the message of a value outside."""
    return float(cast(float, series.min())), float(cast(float, series.max()))


def _check_scores(series: pl.Series, column: str, source: str) -> pl.Series:
    """Finite Float64 scores within float32's range (training runs in float32)."""
    if series.dtype == pl.String:
        numeric = series.str.strip_chars().cast(pl.Float64, strict=False)
        _reject_unparsed(series, numeric, column, source, "numbers")
        series = numeric
    elif series.dtype == pl.Boolean:
        series = series.cast(pl.Float64)
    elif not series.dtype.is_numeric():
        raise DataError(f"{source}: column {column!r} must hold numbers, found type {series.dtype}.")
    series = series.cast(pl.Float64)
    bad = series.is_null() | series.is_nan() | series.is_infinite()
    if bad.any():
        raise DataError(
            f"{source}: column {column!r} has {bad.sum():,} missing, NaN or infinite value(s) at rows "
            f"{_first_rows(bad)}; every score must be a finite number (or set score_column = None)."
        )
    low, high = _extremes(series)
    if max(-low, high) > FLOAT32_MAX:
        huge = series.abs() > FLOAT32_MAX
        row = _first(huge)
        raise DataError(
            f"{source}: column {column!r} row {row + 1} has {series[row]:g}, beyond float32's range "
            f"(about ±3.4e38), in which training runs ({huge.sum():,} such score(s)); rescale the scores."
        )
    return series


# YYYY-MM-DD, optionally a time (T or space, HH:MM[:SS[.fraction]]) and a zone (Z, ±HH[:MM]).
# [0-9], not \\d: polars' regex engine counts other scripts' digits as \\d.
ISO_DATE = (
    r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?)?"
    r"\s*(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?$"
)
DAY_MONTH = re.compile(r"^\d{1,2}([/.-])\d{1,2}\1\d{2,4}")


def _format_fix(example: str, files: bool) -> str:
    """What to do about a text date that is neither a number nor ISO-8601: name the setting (and,
    for get_raw_data(), the alternative of returning datetime values)."""
    also = "" if files else ", or return datetime values from get_raw_data()"
    match = DAY_MONTH.match(example)
    if match:
        sep, year = match.group(1), "%Y" if re.search(r"\d{4}$", match.group(0)) else "%y"
        formats = f"'%m{sep}%d{sep}{year}' or '%d{sep}%m{sep}{year}'"
        return f"; dates are never guessed: set timestamp_format = {formats} in config.py{also}."
    return (
        "; dates are never guessed: set timestamp_format in config.py to their format, "
        f"e.g. '%b %d %Y'{also}."
    )


def _iso_seconds(text: pl.Series, column: str, source: str, files: bool) -> pl.Series:
    """Seconds since 1970 (UTC where a zone is given) of ISO-8601 dates/datetimes; any other text
    is an error that shows one value and says how to give its format."""
    bad = ~text.str.contains(ISO_DATE) & text.is_not_null()
    if bad.any():
        row = _first(bad)
        raise DataError(
            f"{source}: column {column!r} must hold numbers or ISO-8601 dates (YYYY-MM-DD, optionally "
            f"with a time); row {row + 1} has {quoted(text[row])} ({bad.sum():,} such value(s))"
            + _format_fix(str(text[row]), files)
        )
    parts = text.str.extract_groups(ISO_DATE).struct.unnest()
    number = lambda name: pl.col(name).cast(pl.Int64).fill_null(0)  # noqa: E731
    date = pl.concat_str(
        pl.col("y"), pl.col("mo").str.zfill(2), pl.col("d").str.zfill(2), separator="-"
    ).str.to_date("%Y-%m-%d", strict=False)
    fraction = pl.col("f").cast(pl.Float64) / pl.lit(10.0).pow(pl.col("f").str.len_chars())
    offset = (number("oh") * 3600 + number("om") * 60) * pl.when(pl.col("sign") == "-").then(-1).otherwise(1)
    out = parts.select(
        date.alias("date"),
        ((number("h") > 23) | (number("mi") > 59) | (number("s") > 60) | (number("oh") > 14)).alias(
            "bad_time"
        ),
        (
            date.cast(pl.Int64).cast(pl.Float64) * 86400.0
            + (number("h") * 3600 + number("mi") * 60 + number("s") - offset).cast(pl.Float64)
            + fraction.fill_null(0.0)
        ).alias("seconds"),
    )
    invalid = (out["date"].is_null() & text.is_not_null()) | out["bad_time"]
    if invalid.any():
        row = _first(invalid)
        raise DataError(
            f"{source}: column {column!r} row {row + 1} has {quoted(text[row])}, which is no calendar date "
            f"or time ({invalid.sum():,} such value(s))."
        )
    return out["seconds"]


def _unit(magnitude: float) -> int:
    """Index in TIME_UNITS of the magnitude class of a timestamp's absolute value."""
    return int(np.searchsorted([limit for limit, _ in TIME_UNITS], magnitude, side="right"))


def _check_time_numbers(series: pl.Series, column: str, source: str) -> None:
    """Refuse infinite and absurd timestamps; warn when the magnitudes mix units (values unchanged).
    Decided from the extremes: values between two of one class are of that class, so the masks
    are built only for a message."""
    low, high = _extremes(series)
    if low <= -MAX_TIMESTAMP or high >= MAX_TIMESTAMP:  # infinities included
        bad = series.is_infinite() | (series.abs() >= MAX_TIMESTAMP)
        row = _first(bad)
        raise DataError(
            f"{source}: column {column!r} row {row + 1} has {series[row]:g}, which is no time ({bad.sum():,} "
            "such value(s)); timestamps must be finite numbers since 1970 (in seconds, ms, µs or ns), below "
            "9.2e18, or dates."
        )
    if low >= 0 and _unit(low) == _unit(high):
        return  # one class: the common case, decided without a pass over the magnitudes
    magnitude = series.abs().to_numpy()
    unit = np.searchsorted([limit for limit, _ in TIME_UNITS], magnitude, side="right")
    counts = np.bincount(unit, minlength=len(TIME_UNITS))
    if (counts > 0).sum() > 1:
        parts = [
            f"{counts[i]:,} in {name} (e.g. row {int(np.flatnonzero(unit == i)[0]) + 1}: "
            f"{series[int(np.flatnonzero(unit == i)[0])]:g})"
            for i, (_, name) in enumerate(TIME_UNITS)
            if counts[i]
        ]
        warn(
            f"{source}: column {column!r} seems to mix time units by magnitude: {', '.join(parts)}; "
            "the values are used as given, so times in different units are misordered."
        )


def _stripped_text(series: pl.Series) -> pl.Series:
    """Text without surrounding whitespace; blank values become missing."""
    text = series.cast(pl.String).str.strip_chars()
    return text.to_frame("t").select(pl.when(pl.col("t") != "").then(pl.col("t"))).to_series()


def _check_timestamps(
    series: pl.Series, column: str, source: str, timestamp_format: str | None = None, files: bool = True
) -> pl.Series:
    """Timestamps as Float64. Dates (typed, ISO-8601 text, or text in `timestamp_format`) become
    seconds since 1970; numbers (typed or text) are kept as given (any one unit), after range checks.
    `files` says whether the data came from a file (messages then point at config.py)."""
    numbers = False  # True when the values are numbers as given, whose unit is unknown
    if series.dtype.is_temporal():
        if series.dtype == pl.Date:
            series = series.cast(pl.Datetime("us"))
        if not isinstance(series.dtype, pl.Datetime):
            raise DataError(
                f"{source}: column {column!r} must hold numbers or dates, found type {series.dtype}."
            )
        series = series.dt.epoch("us").cast(pl.Float64) / 1e6
    elif series.dtype == pl.Null:
        series = series.cast(pl.Float64)
    elif timestamp_format is not None:
        text = _stripped_text(series)
        parsed = text.str.to_datetime(timestamp_format, strict=False, time_unit="us")
        _reject_unparsed(text, parsed, column, source, f"times in timestamp_format {timestamp_format!r}", ".")
        series = parsed.dt.epoch("us").cast(pl.Float64) / 1e6
    elif series.dtype == pl.String:
        text = _stripped_text(series)
        numeric = text.cast(pl.Float64, strict=False)
        numbers = numeric.null_count() == text.null_count()
        series = numeric if numbers else _iso_seconds(text, column, source, files)
    elif series.dtype.is_numeric():
        numbers = True
    else:
        raise DataError(f"{source}: column {column!r} must hold numbers or dates, found type {series.dtype}.")
    series = series.cast(pl.Float64)
    bad = series.is_null() | series.is_nan()
    if bad.any():
        raise DataError(
            f"{source}: column {column!r} is missing or NaN on rows {_first_rows(bad)}; "
            "every interaction needs a time when timestamp_column is set."
        )
    if numbers:
        _check_time_numbers(series, column, source)
    return series


def canonical_interactions(
    frame: pl.DataFrame,
    user_column: str,
    item_column: str,
    score_column: str | None,
    timestamp_column: str | None,
    source: str,
    fix: str = INTERACTION_COLUMNS_FIX,
    timestamp_format: str | None = None,
    files: bool = True,
) -> pl.DataFrame:
    """Validate a raw interactions frame and return it with canonical column names and types;
    `fix` says how to name the columns when one is missing, `files` whether the data came from a
    file (so that messages point at config.py) or from get_raw_data()."""
    roles = {"user id": user_column, "item id": item_column}
    if score_column:
        roles["score"] = score_column
    if timestamp_column:
        roles["timestamp"] = timestamp_column
    if frame.height == 0:
        raise DataError(f"{source}: no interactions (zero rows); expected at least one (user, item) pair.")
    require_columns(frame, roles, source, fix)
    # One column at a time, each raw column released once its checked version exists: with the
    # frame passed on (load_from_files keeps no reference), the peak memory is the raw table plus
    # one column's work, not the raw and the checked tables side by side.
    raw = {USER: frame[user_column], ITEM: frame[item_column]}
    raw.update({SCORE: frame[score_column]} if score_column else {})
    raw.update({TIMESTAMP: frame[timestamp_column]} if timestamp_column else {})
    del frame
    columns = {
        USER: _check_ids(raw.pop(USER), user_column, source),
        ITEM: _check_ids(raw.pop(ITEM), item_column, source),
    }
    if score_column:
        columns[SCORE] = _check_scores(raw.pop(SCORE), score_column, source)
    if timestamp_column:
        columns[TIMESTAMP] = _check_timestamps(
            raw.pop(TIMESTAMP), timestamp_column, source, timestamp_format, files
        )
    return pl.DataFrame([s.alias(name) for name, s in columns.items()])


def load_feature_table(path: str | Path, id_column: str, separator: str, what: str) -> pl.DataFrame:
    """Read a feature table; its id column becomes `id` and must be present and unique."""
    frame = read_table(path, separator, what=what, id_columns=(id_column,))
    setting = what.replace(" ", "_") + "_id_column"  # e.g. item_features_id_column
    return canonical_features(
        frame,
        id_column,
        source=f"{what} file {path}",
        fix=f"Set {setting} in config.py to the name of its id column.",
    )


def canonical_features(frame: pl.DataFrame, id_column: str, source: str, fix: str) -> pl.DataFrame:
    """A feature table with its ids checked (present, unique) and its id column renamed to `id`."""
    require_columns(frame, {"id": id_column}, source, fix)
    if frame.height == 0:
        raise DataError(f"{source}: the feature table has no rows; expected one row per id (or None).")
    if id_column != "id" and "id" in frame.columns:
        raise DataError(
            f"{source}: a feature column is named 'id' besides the id column {id_column!r}; 'id' is "
            "reserved for the ids, so rename that column."
        )
    ids = _check_ids(frame[id_column], id_column, source)
    duplicated = ids.is_duplicated()
    if duplicated.any():
        row = _first(duplicated)
        rows = (ids == ids[row]).to_numpy()
        raise DataError(
            f"{source}: id column {id_column!r} repeats {ids.filter(duplicated).n_unique():,} id(s), e.g. "
            f"{quoted(ids[row])} on rows {_first_rows(rows)}; expected one row per id."
        )
    features = frame.drop(id_column)
    if features.width == 0:
        raise DataError(f"{source}: no feature columns besides the id column {id_column!r}.")
    return pl.DataFrame([ids.alias("id")]).hstack(features)


def load_from_files(config) -> RawData:
    """Load interactions (and feature tables, if configured) from the files named in the config."""
    path = Path(config.raw_data_fpath)
    source = f"interactions file {path}"
    timestamp_format = getattr(config, "timestamp_format", None)
    text_columns = (config.timestamp_column,) if timestamp_format and config.timestamp_column else ()
    columns = (config.user_column, config.item_column, config.score_column, config.timestamp_column)
    interactions = canonical_interactions(
        # passed on, not kept: canonical_interactions frees each raw column once it is checked
        read_table(
            path,
            config.csv_separator,
            what="interactions",
            id_columns=(config.user_column, config.item_column),
            text_columns=text_columns,
            columns=tuple(c for c in columns if c),
            number_columns=tuple(c for c in (config.score_column, config.timestamp_column) if c),
        ),
        config.user_column,
        config.item_column,
        config.score_column,
        config.timestamp_column,
        source,
        timestamp_format=timestamp_format,
    )
    user_features = item_features = None
    if config.user_features_fpath:
        user_features = load_feature_table(
            config.user_features_fpath, config.user_features_id_column, config.csv_separator, "user features"
        )
    if config.item_features_fpath:
        item_features = load_feature_table(
            config.item_features_fpath, config.item_features_id_column, config.csv_separator, "item features"
        )
    names = {USER: config.user_column, ITEM: config.item_column}
    names.update({SCORE: config.score_column} if config.score_column else {})
    names.update({TIMESTAMP: config.timestamp_column} if config.timestamp_column else {})
    return RawData(
        interactions,
        user_features,
        item_features,
        source=source,
        columns=names,
        user_features_source=f"user features file {config.user_features_fpath}",
        item_features_source=f"item features file {config.item_features_fpath}",
    )


# --------------------------------------------------------------------------------------------
# the seed's hook
# --------------------------------------------------------------------------------------------
class _Numbering(dict):
    """type -> 0, 1, 2, ... in order of first appearance (the numbering grows on lookup)."""

    def __missing__(self, key: type) -> int:
        self[key] = number = len(self)
        return number


def _type_codes(values: Sequence) -> tuple[np.ndarray, list[type]]:
    """For Python values: the index of each value's type in the returned list of distinct types.

    One pass through C-level `map` (a dict lookup per value; Python code runs once per new type),
    so a column of millions of hook values costs well under a second."""
    numbering = _Numbering()
    codes = np.fromiter(map(numbering.__getitem__, map(type, values)), dtype=np.int64, count=len(values))
    return codes, list(numbering)


def _id_kind(kind: type) -> str:
    """The role of a Python type among ids: none, bool, int, float, str or other."""
    if kind is type(None) or kind.__name__ in ("NAType", "NaTType"):
        return "none"
    if issubclass(kind, (bool, np.bool_)):
        return "bool"
    if issubclass(kind, (int, np.integer)):
        return "int"
    if issubclass(kind, (float, np.floating)):
        return "float"
    if issubclass(kind, str):
        return "str"
    return "other"


KIND_WORDS = {"int": "integers", "float": "floats", "str": "text"}


def _check_python_ids(values: Sequence, column: str, source: str) -> None:
    """Refuse hook ids that polars would silently coerce: booleans (to 1/0 or 'true'), lists,
    dicts and other objects, and integers mixed with text (7 would become '7')."""
    codes, types = _type_codes(values)
    kinds = [_id_kind(kind) for kind in types]
    first_row = {code: int(np.argmax(codes == code)) for code in range(len(types))}
    for bad in ("other", "bool"):
        for code, kind in enumerate(kinds):
            if kind == bad:
                row = first_row[code]
                what = a_type(types[code])
                raise _id_error(source, column, row, values[row], what)
    if "str" in kinds and ("int" in kinds or "float" in kinds):
        text = min(first_row[code] for code, kind in enumerate(kinds) if kind == "str")
        number = min(first_row[code] for code, kind in enumerate(kinds) if kind in ("int", "float"))
        shown = [
            f"{KIND_WORDS[kinds[int(codes[row])]]} (row {row + 1}: {quoted(values[row])})"
            for row in sorted((text, number))
        ]
        raise DataError(
            f"{source}: column {column!r} mixes {' and '.join(shown)}; ids must be all integers or "
            "all text, so that 7 and '7' are never confused."
        )


def _unbuildable(columns: Mapping[Any, Sequence], source: str, exc: BaseException) -> DataError:
    """A DataError for data polars could not turn into a table: the first column whose values mix
    incompatible types, with a row of each; else polars' first line."""
    for name, values in columns.items():
        codes, types = _type_codes(values)
        kinds = [kind for kind in types if kind is not type(None)]
        if len(kinds) > 1:
            rows = [int(np.argmax(codes == types.index(kind))) for kind in kinds[:2]]
            described = " and ".join(
                f"{kind.__name__} (row {row + 1}: {quoted(values[row])})" for kind, row in zip(kinds, rows)
            )
            return DataError(f"{source}: column {name!r} mixes {described}; expected one type per column.")
    return DataError(f"{source}: could not build a table: {_first_line(exc)}")


def _frame_from_rows(rows: Sequence, source: str, id_columns: tuple[str, ...]) -> pl.DataFrame:
    """A list of dicts as a frame, its id columns checked on the Python values first."""
    codes, types = _type_codes(rows)
    for code, kind in enumerate(types):
        if not issubclass(kind, Mapping):
            row = int(np.argmax(codes == code))
            raise DataError(
                f"{source}: row {row + 1} is {a_type(kind)} ({quoted(rows[row])}); expected a list of "
                "dicts like {'user': ..., 'item': ..., 'score': ...}."
            )
    for column in id_columns:
        _check_python_ids(list(map(operator.methodcaller("get", column), rows)), column, source)
    try:
        return pl.DataFrame(rows, infer_schema_length=None)
    except (Exception, pl.exceptions.PanicException) as exc:
        names = sorted(set().union(*rows), key=str)
        columns = {name: list(map(operator.methodcaller("get", name), rows)) for name in names}
        raise _unbuildable(columns, source, exc) from None


def _frame_from_columns(data: dict, source: str, id_columns: tuple[str, ...]) -> pl.DataFrame:
    """A dict of equally long lists/arrays/Series as a frame, its id columns checked first."""
    lengths = {name: len(values) for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name!r} {length:,}" for name, length in list(lengths.items())[:6])
        raise DataError(
            f"{source}: the columns have different lengths ({shown}); every column needs one value per row."
        )
    for column in id_columns:
        values = data.get(column)
        if isinstance(values, (list, tuple)) or (isinstance(values, np.ndarray) and values.dtype == object):
            _check_python_ids(list(values), column, source)
    try:
        return pl.DataFrame(data, strict=False)
    except (Exception, pl.exceptions.PanicException) as exc:
        columns = {k: list(v) for k, v in data.items() if isinstance(v, (list, tuple, np.ndarray))}
        raise _unbuildable(columns, source, exc) from None


def _to_polars(data: Any, what: str, id_columns: tuple[str, ...] = (USER, ITEM)) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if type(data).__module__.startswith("pandas"):
        try:
            return pl.from_pandas(data)
        except (Exception, pl.exceptions.PanicException) as exc:
            raise DataError(f"{what}: could not convert the pandas DataFrame: {_first_line(exc)}") from None
    if (
        isinstance(data, dict)
        and data
        and all(isinstance(v, (list, tuple, np.ndarray, pl.Series)) for v in data.values())
    ):
        return _frame_from_columns(data, what, id_columns)
    if isinstance(data, (list, tuple)):
        if not data:
            raise DataError(
                f"{what}: no interactions (an empty list); expected dicts like {{'user': ..., 'item': ...}}."
            )
        return _frame_from_rows(data, what, id_columns)
    raise DataError(f"{what}: expected a list of dicts or a DataFrame, got {type(data).__name__}.")


HOOK_FEATURES_FIX = (
    "get_raw_data() must return features as {id: {feature: value}} or a table with an 'id' column."
)


def _features_from_hook(data: Any, what: str) -> pl.DataFrame | None:
    """`{id: {feature: value}}` (the seed's shape) or a DataFrame with an `id` column."""
    if data is None or (isinstance(data, dict) and not data):
        return None
    if isinstance(data, dict):
        values = list(data.values())
        codes, types = _type_codes(values)
        rows_form = [issubclass(kind, Mapping) for kind in types]
        columns_form = [issubclass(kind, (list, tuple, np.ndarray, pl.Series)) for kind in types]
        if not (all(rows_form) or all(columns_form)):
            code = next(i for i, kind in enumerate(types) if not issubclass(kind, Mapping))
            row = int(np.argmax(codes == code))
            raise DataError(
                f"{what}: the value for id {quoted(list(data)[row])} (row {row + 1}) is "
                f"{a_type(types[code])}, not a dict of features; " + HOOK_FEATURES_FIX
            )
        if all(rows_form):
            ids = list(data.keys())
            _check_python_ids(ids, "id", what)
            frame = _frame_from_rows(values, what, ())
            if "id" in frame.columns:
                raise DataError(
                    f"{what}: a feature is named 'id', which is reserved for the ids (the dict keys); "
                    "rename that feature."
                )
            ids_frame = pl.DataFrame({"id": ids}, strict=False)
            frame = ids_frame.hstack(frame) if frame.width else ids_frame
            return canonical_features(frame, "id", source=what, fix=HOOK_FEATURES_FIX)
    frame = _to_polars(data, what, ("id",))
    return canonical_features(frame, "id", source=what, fix=HOOK_FEATURES_FIX)


def load_from_hook(result: Any, timestamp_format: str | None = None) -> RawData:
    """Accept what the seed's `get_raw_data()` returns: `(interaction_data, user_data, item_data)`;
    text timestamps are parsed with `timestamp_format` when given, else must be numbers or ISO-8601."""
    source = "get_raw_data()"
    if not isinstance(result, tuple) or len(result) != 3:
        raise DataError(
            f"{source} must return a tuple (interaction_data, user_data, item_data); "
            f"got {type(result).__name__}."
        )
    interaction_data, user_data, item_data = result
    frame = _to_polars(interaction_data, f"{source} interaction_data")
    interactions = canonical_interactions(
        frame,
        USER,
        ITEM,
        SCORE if SCORE in frame.columns else None,
        TIMESTAMP if TIMESTAMP in frame.columns else None,
        f"{source} interaction_data",
        fix=HOOK_COLUMNS_FIX,
        timestamp_format=timestamp_format,
        files=False,
    )
    return RawData(
        interactions,
        _features_from_hook(user_data, f"{source} user_data"),
        _features_from_hook(item_data, f"{source} item_data"),
        source=source,
        user_features_source=f"{source} user_data",
        item_features_source=f"{source} item_data",
    )
