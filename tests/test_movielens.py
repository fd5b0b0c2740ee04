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


# MovieLens 1M, in its published format: '::'-separated, no header, Latin-1, LF line ends.
ML1M_RATINGS = (
    b"1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    b"2::3578::2::978299000\n3::661::4::978297039\n"
)
ML1M_USERS = b"1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117-1234\n"
ML1M_MOVIES = (
    b"661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
    b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
    b"3578::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n"
    b"73::Mis\xe9rables, Les (1995)::Drama|Musical\n"
)


def write_ml1m(folder, ratings=ML1M_RATINGS, users=ML1M_USERS, movies=ML1M_MOVIES):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (("ratings.dat", ratings), ("users.dat", users), ("movies.dat", movies)):
        (folder / name).write_bytes(content)
    return folder


def test_ml1m_layout_gives_interactions_user_features_and_latin1_titles(tmp_path):
    interactions, users, items = load_movielens(write_ml1m(tmp_path / "ml-1m"))
    assert interactions.columns == ["user", "item", "score", "timestamp"]
    assert interactions.row(3) == (2, 3578, 2.0, 978299000)
    assert users.to_dicts() == [
        {"id": 1, "gender": "F", "age": "under 18", "occupation": "K-12 student", "zip_area": "4"},
        {"id": 2, "gender": "M", "age": "56+", "occupation": "self-employed", "zip_area": "7"},
        {"id": 3, "gender": "M", "age": "25-34", "occupation": "scientist", "zip_area": "5"},
    ]
    assert items["year"].to_list() == [1996, 1975, 1977, 1995]
    assert items["genres"][2] == "Action|Adventure|Fantasy|Sci-Fi"  # the title's ':' is not a separator
    raw = load_from_hook((interactions, users, items))
    prepared = prepare(raw, Config(min_interactions_per_user=1, min_interactions_per_item=1))
    assert prepared.n_users == 3 and prepared.n_items == 3
    assert prepared.user_features is not None and prepared.item_features is not None
    assert load_movielens(tmp_path / "ml-1m", with_features=False)[1:] == (None, None)


def test_ml1m_titles_are_read_as_latin1(tmp_path):
    from recsys.data.movielens import read_dat

    movies = read_dat(write_ml1m(tmp_path / "ml-1m") / "movies.dat")
    assert movies["Title"][3] == "Misérables, Les (1995)"
    assert movies["line"].to_list() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "ratings, message",
    [
        (b"1::1193::5::978300760\n\n1::661::3\n", r"ratings.dat line 3: expected 4 fields .*found 3"),
        (
            b"1::1193::5::978300760\n1::abc::3::978302109\n",
            r"ratings.dat line 2: MovieID must be a whole number, found 'abc'",
        ),
    ],
)
def test_a_malformed_ml1m_line_is_named(tmp_path, ratings, message):
    with pytest.raises(DataError, match=message):
        load_movielens(write_ml1m(tmp_path / "ml-1m", ratings=ratings))


def test_a_folder_without_ratings_names_both_layouts(tmp_path):
    with pytest.raises(DataError, match="expected ratings.csv .* or ratings.dat"):
        load_movielens(tmp_path)


def test_ml1m_downloads_from_a_local_archive(tmp_path):
    source = write_ml1m(tmp_path / "src" / "ml-1m")
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("ratings.dat", "users.dat", "movies.dat"):
            zipped.write(source / name, f"ml-1m/{name}")
    folder = download_movielens("ml-1m", tmp_path / "data", url=archive.as_uri())
    assert load_movielens(folder)[0].height == 5
    assert download_movielens("ml-1m", tmp_path / "data", url="file:///nonexistent.zip") == folder  # cached
