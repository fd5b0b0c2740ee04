"""MovieLens: download the public files (GroupLens) and turn them into the template's hook format.

`load_movielens(folder)` reads a folder in the `ml-latest-small` layout (`ratings.csv`:
userId,movieId,rating,timestamp; `movies.csv`: movieId,title,genres with '|'-separated genres)
and returns `(interactions, None, item_features)` as `get_raw_data()` in data.py returns it:

    from recsys.data.movielens import load_movielens

    def get_raw_data():
        return load_movielens("data/ml-latest-small")

Item features: `genres` (multi-valued) and `year` (from the title, numeric; missing when absent).
"""

from __future__ import annotations

import http.client
import urllib.request
import zipfile
from pathlib import Path

import polars as pl

from recsys.data.tables import read_table, require_columns
from recsys.errors import DataError
from recsys.log import say

__all__ = ["FEATURE_TYPES", "GROUPLENS_URL", "LAYOUT_FIX", "download_movielens", "load_movielens"]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"
FEATURE_TYPES = {"genres": "multi_categorical", "year": "numeric"}
LAYOUT_FIX = "Expected the MovieLens ml-latest-small layout (ratings.csv: userId,movieId,rating,timestamp)."


def download_movielens(
    name: str = "ml-latest-small", dest: str | Path = "data", url: str | None = None
) -> Path:
    """Download and unpack a MovieLens zip (once); returns the folder holding ratings.csv."""
    dest = Path(dest)
    folder = dest / name
    if (folder / "ratings.csv").exists():
        say(f"MovieLens {name} already present at {folder}")
        return folder
    dest.mkdir(parents=True, exist_ok=True)
    url = url or GROUPLENS_URL.format(name=name)
    archive = dest / f"{name}.zip"
    say(f"Downloading {url} -> {archive}")
    tmp = archive.with_suffix(".zip.part")
    try:
        urllib.request.urlretrieve(url, tmp)
        tmp.replace(archive)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc  # URLError wraps the socket error: show that
        raise DataError(
            f"could not download MovieLens from {url} ({reason}). "
            f"Download it by hand and unpack it into {dest}/."
        ) from None
    try:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(dest)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(
            f"{archive} is not a readable zip archive ({exc}); delete it and download again."
        ) from None
    if not (folder / "ratings.csv").exists():
        raise DataError(f"{archive} did not contain {name}/ratings.csv")
    return folder


def load_movielens(folder: str | Path, with_features: bool = True):
    """(interactions frame, None, item features frame) from a MovieLens folder, for get_raw_data()."""
    folder = Path(folder)
    ratings_path = folder / "ratings.csv"
    ratings = read_table(ratings_path, what="MovieLens ratings", id_columns=("userId", "movieId"))
    require_columns(
        ratings,
        {"user id": "userId", "item id": "movieId", "score": "rating", "timestamp": "timestamp"},
        f"MovieLens ratings file {ratings_path}",
        LAYOUT_FIX,
    )
    interactions = ratings.select(
        pl.col("userId").alias("user"),
        pl.col("movieId").alias("item"),
        pl.col("rating").alias("score"),
        pl.col("timestamp"),
    )
    item_features = None
    movies_path = folder / "movies.csv"
    if with_features and movies_path.exists():
        movies = read_table(movies_path, what="MovieLens movies", id_columns=("movieId",))
        require_columns(
            movies,
            {"item id": "movieId", "title": "title", "genres": "genres"},
            f"MovieLens movies file {movies_path}",
            LAYOUT_FIX,
        )
        item_features = movies.select(
            pl.col("movieId").alias("id"),
            pl.col("genres"),
            pl.col("title").str.extract(r"\((\d{4})\)\s*$", 1).cast(pl.Float64).alias("year"),
        )
    return interactions, None, item_features
