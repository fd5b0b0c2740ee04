"""The MovieLens loader, on the shared copy of ml-latest-small, and its download path on a local zip."""

import zipfile

import polars as pl
import pytest

from conftest import MOVIELENS, needs_movielens
from recsys.config import Config
from recsys.data.hook import load_from_hook
from recsys.data.movielens import download_movielens, load_movielens
from recsys.data.preparation import prepare
from recsys.errors import DataError


@needs_movielens()
def test_load_movielens_gives_hook_data_with_genres_and_year():
    raw = load_from_hook(load_movielens(MOVIELENS))
    assert raw.interactions.height == 100_836 and raw.has_scores and raw.has_timestamps
    assert raw.interactions["item"].dtype == pl.Int64
    toy_story = raw.item_features.filter(pl.col("id") == 1)
    assert (
        toy_story["genres"][0] == "Adventure|Animation|Children|Comedy|Fantasy"
        and toy_story["year"][0] == 1995
    )
    prepared = prepare(raw, Config(min_interactions_per_item=1))
    assert prepared.item_features is not None and prepared.n_users == 610


def test_download_from_a_local_archive(tmp_path):
    source = tmp_path / "src" / "ml-tiny"
    source.mkdir(parents=True)
    (source / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,10,4.0,100\n2,10,3.5,200\n")
    (source / "movies.csv").write_text('movieId,title,genres\n10,"Heat, The (1995)",Action|Crime\n')
    archive = tmp_path / "ml-tiny.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("ratings.csv", "movies.csv"):
            zipped.write(source / name, f"ml-tiny/{name}")
    folder = download_movielens("ml-tiny", tmp_path / "data", url=archive.as_uri())
    interactions, _, items = load_movielens(folder)
    assert interactions.height == 2 and items["year"][0] == 1995
    assert download_movielens("ml-tiny", tmp_path / "data", url="file:///nonexistent.zip") == folder  # cached


def test_failed_download_is_one_clear_error_without_a_chained_traceback(tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DataError) as error:
        download_movielens("ml-tiny", tmp_path / "data", url=f"http://127.0.0.1:{port}/ml-tiny.zip")
    message = str(error.value)
    assert message.startswith("could not download MovieLens from http://127.0.0.1") and "by hand" in message
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert not list((tmp_path / "data").glob("*.part"))


def test_corrupt_archive_is_a_data_error(tmp_path):
    (tmp_path / "bad.zip").write_text("not a zip")
    with pytest.raises(DataError, match="not a readable zip archive"):
        download_movielens("ml-tiny", tmp_path / "data", url=(tmp_path / "bad.zip").as_uri())
