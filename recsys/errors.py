"""The project's own exception types, one per kind of mistake a user can make and fix, and the
helpers that write their messages.

Messages are written for the user, not for a debugger: one line that names the file, row,
column, setting or id at fault and says what was expected. The command line prints them without
a traceback (exit 1; exit 2 for a usage error). Values from the user's input are quoted through
`quoted` (one line, at most `QUOTE_LIMIT` characters), so no message echoes a large input; a
library's message is cut to its first line (`first_line`, `one_line`).

Example:
    >>> quoted("x" * 200)[:12], len(quoted("x" * 200))
    ("'xxxxxxxxxxx", 80)
    >>> a_type(list), a_type(int)
    ('a list', 'an int')
    >>> first_rows([False, True, True])
    '2, 3'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "QUOTE_LIMIT",
    "ArtifactError",
    "ConfigError",
    "DataError",
    "RecsysError",
    "UsageError",
    "a_type",
    "closest_names",
    "first_index",
    "first_line",
    "first_rows",
    "one_line",
    "quoted",
    "shortened",
]

QUOTE_LIMIT = 80  # characters of a value quoted in a message


class RecsysError(Exception):
    """Base class: any error the user can fix by changing input, config or command line."""


class DataError(RecsysError):
    """Input data is missing, malformed or inconsistent (names the file, column, row or id)."""


class ConfigError(RecsysError):
    """A setting is unknown, of the wrong type, or out of range (names the setting and value)."""


class ArtifactError(RecsysError):
    """A saved artifact (model bundle, vocabulary, encoder) is missing or unreadable."""


class UsageError(RecsysError):
    """The command line asks for something that does not exist (an unknown action or option)."""


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


def closest_names(names: Iterable[str], known: Iterable[str], listing: str) -> str:
    """The end of an "unknown name" message: each name's closest known one ("did you mean
    'embedding_dim'?"), or, where none is close, where to find the list (`listing`).

    Args:
        names: The unknown names.
        known: The names that exist.
        listing: What lists them, for when nothing is close (e.g. "`recsys config` lists them").

    Returns:
        A sentence.

    Example:
        >>> closest_names(["embeding_dim"], ["embedding_dim", "top_n"], "`recsys config` lists them")
        "did you mean 'embedding_dim'?"
        >>> closest_names(["zzz"], ["embedding_dim"], "`recsys config` lists them")
        '`recsys config` lists them.'
    """
    known = sorted(known)
    guesses = [difflib.get_close_matches(name, known, n=1, cutoff=0.6) for name in names]
    if all(guesses):
        return "did you mean " + " and ".join(repr(guess[0]) for guess in guesses) + "?"
    return listing + "."


def a_type(kind: type) -> str:
    """'a list', 'an int': the type's name with its article."""
    name = kind.__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def shortened(text: str, limit: int) -> str:
    """`text` on one line (runs of white space as one space), cut to `limit` characters with an
    ellipsis marking the cut.

    Example:
        >>> shortened("a   b " + "c" * 20, 10)
        'a b ccc...'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_line(exc: BaseException, limit: int = 120) -> str:
    """The first line of a library's message, cut to `limit` characters (never its hints)."""
    lines = str(exc).strip().splitlines()
    return shortened(lines[0] if lines else type(exc).__name__, limit)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's whole message on one line, cut to `limit` characters (Keras and h5py
    messages span several lines)."""
    return shortened(str(exc), limit) or type(exc).__name__


def first_rows(mask: pl.Series | np.ndarray | list, limit: int = 5) -> str:
    """1-based data row numbers where mask is true, as text (the first few)."""
    rows = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" (and {len(rows) - limit:,} more)" if len(rows) > limit else "")


def first_index(mask: pl.Series | np.ndarray) -> int:
    """0-based index of the first true value of a boolean mask (nulls count as false)."""
    if isinstance(mask, pl.Series):
        mask = mask.fill_null(False).to_numpy()
    return int(np.flatnonzero(mask)[0])
