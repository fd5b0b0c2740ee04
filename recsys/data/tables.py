"""Reading tables: a CSV or Parquet file, or a folder of Parquet files, compacted as it streams in
(`read_table`), and the check that the columns the settings name are there (`require_columns`).

Parquet timestamps with a fixed UTC offset as their time zone (`+05:30`, what pandas writes for
parsed offsets) are read as the same instants in UTC: polars accepts only named zones.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.data.csv_scan import scan_csv
from recsys.errors import DataError, first_line, quoted
from recsys.log import warn

__all__ = ["read_table", "require_columns"]


def _csv_header(path: Path, separator: str, quote_char: str | None = '"') -> list[str]:
    """The header's column names exactly as written (polars renames a repeated name silently)."""
    first = pl.read_csv(
        path, separator=separator, has_header=False, n_rows=1, infer_schema=False, quote_char=quote_char
    )
    return [str(name) for name in first.row(0)]


def read_table(
    path: str | Path,
    separator: str = ",",
    what: str = "data",
    id_columns: tuple = (),
    text_columns: tuple = (),
    columns: tuple | None = None,
    number_columns: tuple = (),
    decimal_comma: bool = False,
    quote_char: str | None = '"',
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

    CSV values may be quoted with `quote_char` (None: the file quotes nothing).

    CSV numbers are read with a decimal comma when `decimal_comma` is set; otherwise a text column
    that looks like such numbers ('5,00') is read as text with a warning that names the setting.

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
            header = _csv_header(path, separator, quote_char)
            overrides = {c: pl.String for c in (*id_columns, *text_columns) if c in header}
            lazy = pl.scan_csv(
                path,
                separator=separator,
                infer_schema_length=10_000,
                schema_overrides=overrides,
                decimal_comma=decimal_comma,
                quote_char=quote_char,
            )
            if columns is not None and set(columns) <= set(header):
                lazy = lazy.select(list(dict.fromkeys(columns)))
            try:
                frame = _compact(lazy, id_columns, number_columns)
            except pl.exceptions.ComputeError:
                # A column whose type changes after the inferred prefix: read everything as text and
                # let each column's own check say what is wrong.
                frame = pl.read_csv(
                    path,
                    separator=separator,
                    infer_schema=False,
                    decimal_comma=decimal_comma,
                    quote_char=quote_char,
                )
    except (Exception, pl.exceptions.PanicException) as exc:
        problem = None if is_parquet or isinstance(exc, OSError) else scan_csv(path, separator, quote_char)
        raise DataError(f"could not read {what} file {path}: {problem or first_line(exc)}") from None
    repeated = [name for name in dict.fromkeys(header) if header.count(name) > 1]
    if repeated:
        positions = [i + 1 for i, name in enumerate(header) if name == repeated[0]]
        raise DataError(
            f"{what} file {path}: the header names the column {quoted(repeated[0])} "
            f"{len(positions)} times (columns {', '.join(map(str, positions))}); column names must be unique."
        )
    if frame.height == 0:
        raise DataError(f"{what} file {path} has a header but no data rows.")
    if not is_parquet and not decimal_comma:
        _warn_of_decimal_commas(frame, (*id_columns, *text_columns), f"{what} file {path}")
    return frame


_DECIMAL_COMMA = r"^\s*[+-]?\d+,\d+\s*$"  # a number written with a decimal comma, e.g. 5,00
_DECIMAL_SAMPLE = 10_000  # values of a text column looked at for decimal commas


def _warn_of_decimal_commas(frame: pl.DataFrame, skip: tuple, source: str) -> None:
    """A warning for each text column whose values (its first non-missing ones) all look like
    numbers with a decimal comma: read as text, they would become a categorical feature."""
    for name, dtype in frame.schema.items():
        if dtype != pl.String or name in skip:
            continue
        values = frame[name].drop_nulls().head(_DECIMAL_SAMPLE)
        if values.len() and values.str.contains(_DECIMAL_COMMA).all():
            warn(
                f"{source}: column {quoted(name)} looks like numbers written with a decimal comma (e.g. "
                f"{quoted(values[0])}) and is read as text; set csv_decimal_comma = True in config.py to "
                "read them as numbers."
            )


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


_FIXED_OFFSET = re.compile(r"^[+-]\d{2}:?\d{2}$")  # a time zone given as an offset, e.g. +05:30


def _offset_columns(file: Path) -> list[str]:
    """The file's timestamp columns whose time zone is a fixed offset (from its schema alone)."""
    return [
        field.name
        for field in pq.read_schema(file)
        if pa.types.is_timestamp(field.type) and field.type.tz and _FIXED_OFFSET.match(field.type.tz)
    ]


def _parquet_in_utc(file: Path, offsets: list[str], columns: tuple | None) -> pl.LazyFrame:
    """A file with fixed-offset timestamp columns (`offsets`), read through pyarrow (only `columns`
    when the file has them all) with those columns as the same instants in UTC (the values are UTC
    instants already: only the zone label changes)."""
    names = pq.read_schema(file).names
    wanted = list(dict.fromkeys(columns)) if columns and set(columns) <= set(names) else None
    table = pq.read_table(file, columns=wanted)
    for name in (name for name in offsets if name in table.column_names):
        index = table.schema.get_field_index(name)
        utc = pa.timestamp(table.schema.field(name).type.unit, tz="UTC")
        table = table.set_column(index, name, table.column(name).cast(utc))
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)  # a Table converts to a DataFrame
    return frame.lazy()


def _scan_parquet(files: list[Path], columns: tuple | None) -> pl.LazyFrame:
    """The files as one lazy table, projected on `columns` (None, or one of them missing: all
    columns, so that the missing-column error can list the columns the data has)."""
    offsets = [_offset_columns(file) for file in files]
    if any(offsets):
        parts = [_parquet_in_utc(f, o, columns) if o else pl.scan_parquet(f) for f, o in zip(files, offsets)]
        lazy = pl.concat(parts, how="vertical")
    else:
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
            f"could not read the {what} folder {path} ({len(files)} files): {first_line(exc)}"
        ) from None
    if frame.height == 0:
        raise DataError(f"{what} folder {path}: its {len(files)} Parquet files hold no rows.")
    return frame


def require_columns(frame: pl.DataFrame, columns: dict[str, str], source: str, fix: str) -> None:
    """Raise a DataError listing the missing columns, the ones that exist, and `fix`: the
    sentence that says which setting (or which part of data.py) names them."""
    missing = [f"{col!r} ({role})" for role, col in columns.items() if col not in frame.columns]
    if missing:
        found = ", ".join(map(repr, frame.columns[:20])) + (" ..." if frame.width > 20 else "")
        raise DataError(f"{source}: missing column {', '.join(missing)}. Columns found: {found}. " + fix)
