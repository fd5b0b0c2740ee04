"""What a run tells its user: one place that prints progress lines (so tests can capture them)."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Print a progress line to stdout, flushed at once (long runs stay readable in logs)."""
    print(message, file=sys.stdout, flush=True)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
