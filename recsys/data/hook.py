"""The seed's `get_raw_data()` hook: what it returns (`(interaction_data, user_data, item_data)`:
lists of dicts, dicts of columns or DataFrames) checked on the Python values and made into
`RawData` (`load_from_hook`), and the call itself, whose exceptions name the line of the user's
file (`call_hook`).

A hook column that mixes integers and text is refused rather than turned into text, and booleans,
lists and dicts are not ids: polars would coerce them silently.
"""

from __future__ import annotations

import operator
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from recsys.data.ids import id_error
from recsys.data.loading import canonical_features, canonical_interactions
from recsys.data.raw import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.errors import DataError, RecsysError, a_type, first_line, quoted

__all__ = ["GET_RAW_DATA", "HOOK_COLUMNS_FIX", "HookSource", "RawDataHook", "call_hook", "load_from_hook"]

RawDataHook = Callable[[], Any]


class HookSource(NamedTuple):
    """What handed the data over, for messages: its `name` (errors say "<name> <part>: ..."), the
    log's "Reading interactions from <read_from>", and the names of its three parts."""

    name: str
    read_from: str
    parts: tuple[str, str, str] = ("interaction_data", "user_data", "item_data")


GET_RAW_DATA = HookSource("get_raw_data()", "get_raw_data() in data.py")
HOOK_COLUMNS_FIX = (
    "get_raw_data() must return interactions with the keys 'user' and 'item' "
    "(and optionally 'score' and 'timestamp')."
)


class _Numbering(dict):
    """type -> 0, 1, 2, ... in order of first appearance (the numbering grows on lookup)."""

    def __missing__(self, key: type) -> int:
        self[key] = number = len(self)
        return number


def type_codes(values: Sequence) -> tuple[np.ndarray, list[type]]:
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
    codes, types = type_codes(values)
    kinds = [_id_kind(kind) for kind in types]
    first_row = {code: int(np.argmax(codes == code)) for code in range(len(types))}
    for bad in ("other", "bool"):
        for code, kind in enumerate(kinds):
            if kind == bad:
                row = first_row[code]
                what = a_type(types[code])
                raise id_error(source, column, row, values[row], what)
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
        codes, types = type_codes(values)
        kinds = [kind for kind in types if kind is not type(None)]
        if len(kinds) > 1:
            rows = [int(np.argmax(codes == types.index(kind))) for kind in kinds[:2]]
            described = " and ".join(
                f"{kind.__name__} (row {row + 1}: {quoted(values[row])})" for kind, row in zip(kinds, rows)
            )
            return DataError(f"{source}: column {name!r} mixes {described}; expected one type per column.")
    return DataError(f"{source}: could not build a table: {first_line(exc)}")


def _frame_from_rows(rows: Sequence, source: str, id_columns: tuple[str, ...]) -> pl.DataFrame:
    """A list of dicts as a frame, its id columns checked on the Python values first."""
    codes, types = type_codes(rows)
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
            raise DataError(f"{what}: could not convert the pandas DataFrame: {first_line(exc)}") from None
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
        codes, types = type_codes(values)
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


def load_from_hook(
    result: Any, timestamp_format: str | None = None, origin: HookSource = GET_RAW_DATA
) -> RawData:
    """Accept what the seed's `get_raw_data()` returns: `(interaction_data, user_data, item_data)`;
    text timestamps are parsed with `timestamp_format` when given, else must be numbers or ISO-8601.
    `origin` names what handed the data over in messages (`Recommender.fit` passes its own)."""
    source = origin.name
    interactions_part, users_part, items_part = (f"{source} {part}" for part in origin.parts)
    if not isinstance(result, tuple) or len(result) != 3:
        raise DataError(
            f"{source} must return a tuple (interaction_data, user_data, item_data); "
            f"got {type(result).__name__}."
        )
    interaction_data, user_data, item_data = result
    frame = _to_polars(interaction_data, interactions_part)
    interactions = canonical_interactions(
        frame,
        USER,
        ITEM,
        SCORE if SCORE in frame.columns else None,
        TIMESTAMP if TIMESTAMP in frame.columns else None,
        interactions_part,
        fix=HOOK_COLUMNS_FIX,
        timestamp_format=timestamp_format,
        files=False,
    )
    return RawData(
        interactions,
        _features_from_hook(user_data, users_part),
        _features_from_hook(item_data, items_part),
        source=source,
        user_features_source=users_part,
        item_features_source=items_part,
    )


def call_hook(hook: RawDataHook) -> Any:
    """Call the user's `get_raw_data()`; an exception inside it becomes one DataError line naming
    the exception and the line of the hook's file where it happened (or where it called the code
    that raised), since the mistake is in the user's file, not in the engine."""
    try:
        return hook()
    except RecsysError:
        raise
    except Exception as exc:
        hook_file = getattr(getattr(hook, "__code__", None), "co_filename", "")
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == hook_file]
        where = f" ({Path(hook_file).name}, line {frames[-1].lineno})" if frames else ""
        lines = str(exc).strip().splitlines() or [""]
        text = lines[0][:300] + (" ..." if len(lines) > 1 or len(lines[0]) > 300 else "")
        raise DataError(f"get_raw_data() raised {type(exc).__name__}: {text}{where}") from None
