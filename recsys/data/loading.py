"""Load interactions and optional feature tables into polars frames with canonical column names.

Sources: a CSV or Parquet file read by the column names in the config (`load_from_files`), or
the seed's `get_raw_data()` hook (`recsys.data.hook`). Every problem is a `DataError` of one line
that names the file (or `get_raw_data()`), the column, the row (1-based: row 1 is the first line
after the header, or the first element the hook returned) and says what was expected; a quoted
value is cut to about 80 characters. The rules per column are
`recsys.data.ids` and `recsys.data.values`; the hook's own checks `recsys.data.hook`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recsys.config import Config
from recsys.data.ids import check_ids
from recsys.data.raw import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.data.tables import read_table, require_columns
from recsys.data.values import check_scores, check_timestamps
from recsys.errors import ConfigError, DataError, first_index, first_rows, quoted

__all__ = [
    "canonical_features",
    "canonical_interactions",
    "load_feature_table",
    "load_from_files",
]

INTERACTION_COLUMNS_FIX = (
    "Set user_column, item_column, score_column and timestamp_column in config.py to its column names."
)


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
        USER: check_ids(raw.pop(USER), user_column, source),
        ITEM: check_ids(raw.pop(ITEM), item_column, source),
    }
    if score_column:
        columns[SCORE] = check_scores(raw.pop(SCORE), score_column, source)
    if timestamp_column:
        columns[TIMESTAMP] = check_timestamps(
            raw.pop(TIMESTAMP), timestamp_column, source, timestamp_format, files
        )
    return pl.DataFrame([s.alias(name) for name, s in columns.items()])


def load_feature_table(
    path: str | Path,
    id_column: str,
    separator: str,
    what: str,
    decimal_comma: bool = False,
    quote_char: str | None = '"',
) -> pl.DataFrame:
    """Read a feature table; its id column becomes `id` and must be present and unique."""
    frame = read_table(
        path,
        separator,
        what=what,
        id_columns=(id_column,),
        decimal_comma=decimal_comma,
        quote_char=quote_char,
    )
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
    ids = check_ids(frame[id_column], id_column, source)
    duplicated = ids.is_duplicated()
    if duplicated.any():
        row = first_index(duplicated)
        rows = (ids == ids[row]).to_numpy()
        raise DataError(
            f"{source}: id column {id_column!r} repeats {ids.filter(duplicated).n_unique():,} id(s), e.g. "
            f"{quoted(ids[row])} on rows {first_rows(rows)}; expected one row per id."
        )
    features = frame.drop(id_column)
    if features.width == 0:
        raise DataError(f"{source}: no feature columns besides the id column {id_column!r}.")
    return pl.DataFrame([ids.alias("id")]).hstack(features)


def load_from_files(config: Config) -> RawData:
    """Load interactions (and feature tables, if configured) from the files named in the config.

    Args:
        config: The settings; `raw_data_fpath` must name the interactions file (or folder).

    Returns:
        The raw interactions and feature tables, checked.

    Raises:
        ConfigError: `raw_data_fpath` is not set.
        DataError: a file, column or row is not as expected (named in the message).
    """
    if not config.raw_data_fpath:
        raise ConfigError("raw_data_fpath is not set: name the interactions file (CSV or Parquet).")
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
            decimal_comma=config.csv_decimal_comma,
            quote_char=config.csv_quote_char,
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
            config.user_features_fpath,
            config.user_features_id_column,
            config.csv_separator,
            "user features",
            config.csv_decimal_comma,
            config.csv_quote_char,
        )
    if config.item_features_fpath:
        item_features = load_feature_table(
            config.item_features_fpath,
            config.item_features_id_column,
            config.csv_separator,
            "item features",
            config.csv_decimal_comma,
            config.csv_quote_char,
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
