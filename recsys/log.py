"""What a run tells its user, through the standard `logging` module under the name "recsys".

`say` is a progress line (shown at verbosity 1 and 2), `detail` an extra line (verbosity 2) and
`warn` a warning (always shown, on stderr). `set_verbosity` follows the `verbosity` setting and
the `--quiet` flag. Lines go to whatever `sys.stdout` / `sys.stderr` are at the moment of
writing (so tests and redirected runs capture them), flushed at once so long runs stay readable
in log files. `stdout_is_terminal` tells whether live, in-place progress makes sense.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

__all__ = [
    "LEVELS",
    "LOGGER",
    "detail",
    "duration",
    "messages_at",
    "plural",
    "say",
    "set_verbosity",
    "stdout_is_terminal",
    "verbosity",
    "warn",
]

LOGGER = logging.getLogger("recsys")
LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


class _ConsoleHandler(logging.Handler):
    """Info and debug lines to the current stdout; warnings and above to the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        prefix = "warning: " if record.levelno == logging.WARNING else ""
        try:
            stream.write(prefix + self.format(record) + "\n")
            stream.flush()
        except ValueError:  # a closed stream (e.g. at interpreter exit): nothing to tell
            pass


if not LOGGER.handlers:
    LOGGER.addHandler(_ConsoleHandler())
    LOGGER.propagate = False
    LOGGER.setLevel(logging.INFO)


def set_verbosity(verbosity: int) -> None:
    """0: warnings only; 1: progress lines; 2: progress and details."""
    LOGGER.setLevel(LEVELS[max(0, min(2, int(verbosity)))])


def verbosity() -> int:
    """The current verbosity (0, 1 or 2)."""
    return {level: v for v, level in LEVELS.items()}.get(LOGGER.level, 1)


@contextlib.contextmanager
def messages_at(level: int) -> Iterator[None]:
    """Verbosity `level` inside the block, the caller's verbosity restored after it: for library
    calls (`Recommender.fit`) that must not change what the rest of the program prints.

    Example:
        >>> with messages_at(0):
        ...     say("not shown")
    """
    before = verbosity()
    set_verbosity(level)
    try:
        yield
    finally:
        set_verbosity(before)


def say(message: str) -> None:
    """A progress line on stdout (hidden by --quiet)."""
    LOGGER.info(message)


def detail(message: str) -> None:
    """A detail line on stdout, shown at verbosity 2 only."""
    LOGGER.debug(message)


def warn(message: str) -> None:
    """A warning on stderr, shown at every verbosity."""
    LOGGER.warning(message)


def stdout_is_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def duration(seconds: float) -> str:
    """A rounded, readable span of time: "40 s", "3 min", "1.5 h".

    Args:
        seconds: The span.

    Returns:
        Its text.

    Example:
        >>> duration(42.4), duration(185), duration(5400)
        ('42 s', '3 min', '1.5 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
