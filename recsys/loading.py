"""Load interactions and optional feature tables into polars frames with canonical column names.

Sources: a CSV or Parquet file read by the column names in the config, or the seed's
`get_raw_data()` hook returning `(interaction_data, user_data, item_data)`. Every problem is a
`DataError` that names the file, the column or the row and says what was expected.

Canonical interaction columns: `user`, `item`, and optionally `score` (Float64) and `timestamp`
(Float64 seconds since the epoch). Feature tables get their id column renamed to `id`.
Ids keep their type: integer ids stay integers, string ids stay strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys.errors import DataError

USER, ITEM, SCORE, TIMESTAMP = "user", "item", "score", "timestamp"


@dataclass
class RawData:
    """Interactions plus optional feature tables, as loaded (not yet filtered or indexed)."""

    interactions: pl.DataFrame
    user_features: pl.DataFrame | None = None
    item_features: pl.DataFrame | None = None
    source: str = "interactions"

    @property
    def has_scores(self) -> bool:
        return SCORE in self.interactions.columns

    @property
    def has_timestamps(self) -> bool:
        return TIMESTAMP in self.interactions.columns


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def read_table(
    path: str | Path, separator: str = ",", what: str = "data", id_columns: tuple = ()
) -> pl.DataFrame:
    """Read a CSV or Parquet file. CSV id columns are read as text, so that '007' stays '007';
    `_restore_id_type` turns them into integers only where that loses nothing."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} file {path} does not exist (check the path in config.py).")
    if path.is_dir():
        raise DataError(f"{what} file {path} is a folder; expected a CSV or Parquet file.")
    if path.stat().st_size == 0:
        raise DataError(f"{what} file {path} is empty; expected a header row and at least one data row.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            header = pl.read_csv(path, separator=separator, n_rows=0).columns
            overrides = {c: pl.String for c in id_columns if c in header}
            frame = pl.read_csv(
                path, separator=separator, infer_schema_length=10_000, schema_overrides=overrides
            )
    except pl.exceptions.ComputeError as exc:
        # A column whose type changes after the inferred prefix: read everything as text and let
        # each column's own check say what is wrong.
        try:
            frame = pl.read_csv(path, separator=separator, infer_schema=False)
        except Exception as exc2:  # pragma: no cover - corrupt file
            raise DataError(f"could not parse {what} file {path}: {exc2}") from exc
    except (pl.exceptions.NoDataError, OSError) as exc:
        raise DataError(f"could not read {what} file {path}: {exc}") from exc
    if frame.height == 0:
        raise DataError(f"{what} file {path} has a header but no data rows.")
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
        raise DataError(
            f"{source}: missing column {', '.join(missing)}. "
            f"Columns found: {', '.join(map(repr, frame.columns))}. " + fix
        )


def _restore_id_type(series: pl.Series) -> pl.Series:
    """Integer-looking text ids become Int64 (only if that loses nothing, e.g. no '007'); else text."""
    if series.dtype.is_integer():
        return series.cast(pl.Int64)
    if series.dtype == pl.String:
        as_int = series.cast(pl.Int64, strict=False)
        if (
            as_int.null_count() == series.null_count()
            and not series.str.contains(r"^(?:\+|-?0\d|\s)|\s$").any()
        ):
            return as_int  # every id is a plain integer: nothing like '007', '+7' or ' 7' would change
        return series
    if series.dtype.is_float():
        if (series.drop_nulls() == series.drop_nulls().round(0)).all():
            return series.cast(pl.Int64)
        return series.cast(pl.String)
    return series.cast(pl.String)


def _first_rows(mask: pl.Series | np.ndarray, limit: int = 5) -> str:
    """1-based data row numbers where mask is true, as text (the first few)."""
    rows = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" (and {len(rows) - limit:,} more)" if len(rows) > limit else "")


def _check_ids(frame: pl.DataFrame, column: str, source: str) -> pl.Series:
    ids = frame[column]
    missing = ids.is_null()
    if ids.dtype == pl.String:
        missing = missing | (ids.str.strip_chars() == "")
    if missing.any():
        raise DataError(
            f"{source}: column {column!r} is empty on {missing.sum():,} data row(s): "
            f"rows {_first_rows(missing)} (row 1 is the first line after the header). "
            "Every interaction needs a user and an item."
        )
    return _restore_id_type(ids)


def _reject_unparsed(text: pl.Series, parsed: pl.Series, column: str, source: str, expected: str) -> None:
    """DataError naming the first text value that did not parse (and how many did not)."""
    bad = parsed.is_null() & text.is_not_null()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source}: column {column!r} must hold {expected}; row {first + 1} has {text[first]!r} "
            f"({bad.sum():,} unreadable value(s), rows {_first_rows(bad)})."
        )


def _check_scores(series: pl.Series, column: str, source: str) -> pl.Series:
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
    return series


def _check_timestamps(series: pl.Series, column: str, source: str) -> pl.Series:
    """Numbers are taken as given (e.g. Unix seconds); text or dates are parsed to epoch seconds."""
    if series.dtype == pl.String:
        numeric = series.cast(pl.Float64, strict=False)
        if numeric.null_count() == series.null_count():
            series = numeric
        else:
            parsed = series.str.to_datetime(strict=False, time_unit="us")
            _reject_unparsed(series, parsed, column, source, "numbers or dates")
            series = parsed
    if series.dtype in (pl.Date, pl.Datetime) or isinstance(series.dtype, pl.Datetime):
        series = series.cast(pl.Datetime("us")).dt.epoch("us").cast(pl.Float64) / 1e6
    if not series.dtype.is_numeric():
        raise DataError(f"{source}: column {column!r} must hold numbers or dates, found type {series.dtype}.")
    series = series.cast(pl.Float64)
    bad = series.is_null() | series.is_nan()
    if bad.any():
        raise DataError(
            f"{source}: column {column!r} is missing on rows {_first_rows(bad)}; "
            "every interaction needs a time when timestamp_column is set."
        )
    return series


def canonical_interactions(
    frame: pl.DataFrame,
    user_column: str,
    item_column: str,
    score_column: str | None,
    timestamp_column: str | None,
    source: str,
    fix: str = INTERACTION_COLUMNS_FIX,
) -> pl.DataFrame:
    """Validate a raw interactions frame and return it with canonical column names and types;
    `fix` says how to name the columns when one is missing."""
    roles = {"user id": user_column, "item id": item_column}
    if score_column:
        roles["score"] = score_column
    if timestamp_column:
        roles["timestamp"] = timestamp_column
    if frame.height == 0:
        raise DataError(f"{source}: no interactions (zero rows); expected at least one (user, item) pair.")
    require_columns(frame, roles, source, fix)
    columns = {
        USER: _check_ids(frame, user_column, source),
        ITEM: _check_ids(frame, item_column, source),
    }
    if score_column:
        columns[SCORE] = _check_scores(frame[score_column], score_column, source)
    if timestamp_column:
        columns[TIMESTAMP] = _check_timestamps(frame[timestamp_column], timestamp_column, source)
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
    ids = _check_ids(frame, id_column, source)
    duplicated = ids.is_duplicated()
    if duplicated.any():
        raise DataError(
            f"{source}: id column {id_column!r} repeats {ids.filter(duplicated).n_unique():,} id(s) "
            f"(rows {_first_rows(duplicated)}); expected one row per id."
        )
    features = frame.drop(id_column)
    if features.width == 0:
        raise DataError(f"{source}: no feature columns besides the id column {id_column!r}.")
    return pl.DataFrame([ids.alias("id")]).hstack(features)


def load_from_files(config) -> RawData:
    """Load interactions (and feature tables, if configured) from the files named in the config."""
    path = Path(config.raw_data_fpath)
    source = f"interactions file {path}"
    frame = read_table(
        path, config.csv_separator, what="interactions", id_columns=(config.user_column, config.item_column)
    )
    interactions = canonical_interactions(
        frame, config.user_column, config.item_column, config.score_column, config.timestamp_column, source
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
    return RawData(interactions, user_features, item_features, source=source)


# --------------------------------------------------------------------------------------------
# the seed's hook
# --------------------------------------------------------------------------------------------
def _to_polars(data: Any, what: str) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data)
    if (
        isinstance(data, dict)
        and data
        and all(isinstance(v, (list, np.ndarray, pl.Series)) for v in data.values())
    ):
        return pl.DataFrame(data)
    if isinstance(data, (list, tuple)):
        if not data:
            raise DataError(
                f"{what}: no interactions (an empty list); expected dicts like {{'user': ..., 'item': ...}}."
            )
        if not isinstance(data[0], dict):
            raise DataError(
                f"{what}: expected a list of dicts like {{'user': ..., 'item': ..., 'score': ...}}, "
                f"got a list of {type(data[0]).__name__}."
            )
        try:
            return pl.DataFrame(data, infer_schema_length=None)
        except Exception as exc:
            raise DataError(f"{what}: could not turn the list of dicts into a table: {exc}") from exc
    raise DataError(f"{what}: expected a list of dicts or a DataFrame, got {type(data).__name__}.")


HOOK_FEATURES_FIX = (
    "get_raw_data() must return features as {id: {feature: value}} or a table with an 'id' column."
)


def _features_from_hook(data: Any, what: str) -> pl.DataFrame | None:
    """`{id: {feature: value}}` (the seed's shape) or a DataFrame with an `id` column."""
    if data is None or (isinstance(data, dict) and not data):
        return None
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        ids = list(data.keys())
        rows = list(data.values())
        frame = pl.DataFrame(rows, infer_schema_length=None)
        frame = pl.DataFrame({"id": ids}).hstack(frame) if frame.width else pl.DataFrame({"id": ids})
        return canonical_features(frame, "id", source=what, fix=HOOK_FEATURES_FIX)
    frame = _to_polars(data, what)
    return canonical_features(frame, "id", source=what, fix=HOOK_FEATURES_FIX)


def load_from_hook(result: Any) -> RawData:
    """Accept what the seed's `get_raw_data()` returns: `(interaction_data, user_data, item_data)`."""
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
    )
    return RawData(
        interactions,
        _features_from_hook(user_data, f"{source} user_data"),
        _features_from_hook(item_data, f"{source} item_data"),
        source=source,
    )
