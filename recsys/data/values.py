"""Score and time columns checked and converted: finite scores within float32's range
(`check_scores`), and timestamps as Float64 seconds (`check_timestamps`). Dates are never
guessed: text timestamps are numbers, ISO-8601 dates, or parsed strictly with `timestamp_format`.
"""

from __future__ import annotations

import re
from typing import cast

import numpy as np
import polars as pl

from recsys.errors import DataError, first_index, first_rows, quoted
from recsys.log import warn

__all__ = ["FLOAT32_MAX", "check_scores", "check_timestamps"]

FLOAT32_MAX = float(np.finfo(np.float32).max)  # scores train as float32
# No clock counts past 2**63 (nanoseconds since 1970 reach it in 2262): beyond it a "time" is garbage.
MAX_TIMESTAMP = 2.0**63
# Magnitude classes of numeric timestamps (seconds, ms, µs, ns since 1970 for years 1973..5138).
TIME_UNITS = ((1e11, "seconds"), (1e14, "milliseconds"), (1e17, "microseconds"), (np.inf, "nanoseconds"))


def _reject_unparsed(
    text: pl.Series, parsed: pl.Series, column: str, source: str, expected: str, fix: str = ""
) -> None:
    """DataError naming the first text value that did not parse (and how many did not)."""
    bad = parsed.is_null() & text.is_not_null()
    if bad.any():
        first = first_index(bad)
        raise DataError(
            f"{source}: column {column!r} must hold {expected}; row {first + 1} has {quoted(text[first])} "
            f"({bad.sum():,} unreadable value(s), rows {first_rows(bad)}){fix}"
        )


def _extremes(series: pl.Series) -> tuple[float, float]:
    """(min, max) of a Float64 column without NaN or nulls: two passes that allocate nothing, so
    that a range check builds its 20-million-row masks only for the message of a value outside."""
    return float(cast(float, series.min())), float(cast(float, series.max()))


def check_scores(series: pl.Series, column: str, source: str) -> pl.Series:
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
            f"{first_rows(bad)}; every score must be a finite number (or set score_column = None)."
        )
    low, high = _extremes(series)
    if max(-low, high) > FLOAT32_MAX:
        huge = series.abs() > FLOAT32_MAX
        row = first_index(huge)
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
        row = first_index(bad)
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
        row = first_index(invalid)
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
        row = first_index(bad)
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


def check_timestamps(
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
            f"{source}: column {column!r} is missing or NaN on rows {first_rows(bad)}; "
            "every interaction needs a time when timestamp_column is set."
        )
    if numbers:
        _check_time_numbers(series, column, source)
    return series
