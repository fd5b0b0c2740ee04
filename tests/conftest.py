"""Shared fixtures: tiny data written to temporary files, and where the shared datasets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("KERAS_BACKEND", "jax")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
MOVIELENS = SHARED / "ml-latest-small"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def csv_file(tmp_path):
    """Write CSV text to a file in a temporary folder and return its path."""

    def make(text: str, name: str = "interactions.csv") -> Path:
        return write(tmp_path / name, text)

    return make


def needs_movielens():
    return pytest.mark.skipif(
        not (MOVIELENS / "ratings.csv").exists(),
        reason=f"MovieLens copy not found at {MOVIELENS} (../shared/datasets is absent)",
    )


# Property-based tests explore new examples locally; CI replays a fixed, derandomised set so a
# run's outcome depends on the code alone (a failure found locally is kept in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
