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


@pytest.fixture(scope="session", autouse=True)
def _the_session_outside_the_checkout(tmp_path_factory):
    """Module fixtures run before any test's own folder exists: they start in a folder of the
    session's, so nothing they write by a relative path lands in the checkout."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("session"))
        yield


@pytest.fixture(autouse=True)
def _each_test_in_a_folder_of_its_own(tmp_path_factory, monkeypatch):
    """Every test starts in an empty folder of its own: what it writes by a relative path (the
    default artifacts/, figures/, recommendations.json) never touches the checkout, nor a run
    going on there (its artifacts/.lock)."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
