"""MovieLens: download the public files (GroupLens) and turn them into the template's hook format.

`load_movielens(folder)` reads either layout GroupLens publishes and returns
`(interactions, user_features, item_features)` as `get_raw_data()` in data.py returns it:

- `ml-latest-small` (and the other `ml-latest*`, `ml-25m`, `ml-20m`): `ratings.csv`
  (userId,movieId,rating,timestamp) and `movies.csv` (movieId,title,genres); no user table.
- `ml-1m`: `ratings.dat` (UserID::MovieID::Rating::Timestamp), `users.dat`
  (UserID::Gender::Age::Occupation::Zip-code) and `movies.dat` (MovieID::Title::Genres, Latin-1),
  each field separated by `::`, no header.

    from recsys.data.movielens import load_movielens

    def get_raw_data():
        return load_movielens("data/ml-1m")

Item features: `genres` (multi-valued, '|'-separated) and `year` (from the title, numeric; missing
when absent), and the `title` itself, each movie's display name (`item_name_column = "title"`;
left unset, the encoder skips it as near-unique text). User features (ml-1m): `gender`, `age` (the
published band, e.g. "25-34"), `occupation` (its name) and `zip_area` (the zip code's first digit,
a US region), all categorical.
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

__all__ = [
    "AGE_BANDS",
    "FEATURE_TYPES",
    "GROUPLENS_URL",
    "LAYOUT_FIX",
    "OCCUPATIONS",
    "download_movielens",
    "load_movielens",
    "read_dat",
]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"
FEATURE_TYPES = {
    "genres": "multi_categorical",
    "year": "numeric",
    "gender": "categorical",
    "age": "categorical",
    "occupation": "categorical",
    "zip_area": "categorical",
}
LAYOUT_FIX = "Expected the MovieLens ml-latest-small layout (ratings.csv: userId,movieId,rating,timestamp)."
RATINGS_FILES = ("ratings.csv", "ratings.dat")  # ml-latest* / ml-25m / ml-20m, and ml-1m
# ml-1m's README: the age bands and the occupations, by their codes in users.dat.
AGE_BANDS = {1: "under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+"}
OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
DAT_FIELDS = {
    "ratings.dat": ("UserID", "MovieID", "Rating", "Timestamp"),
    "users.dat": ("UserID", "Gender", "Age", "Occupation", "Zip-code"),
    "movies.dat": ("MovieID", "Title", "Genres"),
}


def download_movielens(
    name: str = "ml-latest-small", dest: str | Path = "data", url: str | None = None
) -> Path:
    """Download and unpack a MovieLens zip (once); returns the folder holding ratings.csv."""
    dest = Path(dest)
    folder = dest / name
    if any((folder / ratings).exists() for ratings in RATINGS_FILES):
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
    if not any((folder / ratings).exists() for ratings in RATINGS_FILES):
        raise DataError(f"{archive} did not contain {name}/ratings.csv or {name}/ratings.dat")
    return folder


def load_movielens(folder: str | Path, with_features: bool = True):
    """The hook's three tables from a MovieLens folder of either layout (see the module doc).

    Args:
        folder: The unpacked folder (holding ratings.csv, or ratings.dat for ml-1m).
        with_features: False returns the interactions only (no user or item table).

    Returns:
        (interactions: user, item, score, timestamp; user features or None; item features or None),
        as `get_raw_data()` returns them.

    Raises:
        DataError: the folder holds neither layout, or a file is malformed (the message names the
            file and the line).

    Example:
        >>> from pathlib import Path
        >>> folder = Path("ml-1m"); folder.mkdir()
        >>> _ = (folder / "ratings.dat").write_bytes(b"1::1193::5::978300760\\n1::661::3::978302109\\n")
        >>> interactions, users, items = load_movielens(folder)
        >>> interactions.row(0), users, items
        ((1, 1193, 5.0, 978300760), None, None)
    """
    folder = Path(folder)
    if not (folder / "ratings.csv").exists() and (folder / "ratings.dat").exists():
        return _load_1m(folder, with_features)
    ratings_path = folder / "ratings.csv"
    if not ratings_path.exists():
        raise DataError(
            f"{folder} holds no MovieLens ratings: expected ratings.csv (ml-latest-small layout) or "
            "ratings.dat (ml-1m layout)."
        )
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
            pl.col("title"),
            pl.col("genres"),
            pl.col("title").str.extract(r"\((\d{4})\)\s*$", 1).cast(pl.Float64).alias("year"),
        )
    return interactions, None, item_features


def read_dat(path: Path) -> pl.DataFrame:
    """A MovieLens `.dat` file (fields separated by `::`, no header, Latin-1) as text columns named
    as in ml-1m's README (`DAT_FIELDS`).

    Args:
        path: ratings.dat, users.dat or movies.dat.

    Returns:
        One string column per field, and `line`: each row's line number in the file.

    Raises:
        DataError: a line has another number of fields (the message names the file and the line).
    """
    fields = DAT_FIELDS[path.name]
    try:
        text = path.read_bytes().decode("latin-1")  # every byte is a Latin-1 character: never fails
    except OSError as exc:
        raise DataError(f"cannot read MovieLens file {path}: {exc.strerror or exc}") from None
    lines = pl.Series("text", text.splitlines())
    numbers = (lines.str.len_bytes() > 0).arg_true() + 1  # 1-based line numbers of the non-empty lines
    lines = lines.gather(numbers - 1)
    parts = lines.str.split("::")
    wrong = (parts.list.len() != len(fields)).arg_true()
    if len(wrong):
        at = int(wrong[0])
        raise DataError(
            f"{path} line {numbers[at]}: expected {len(fields)} fields separated by '::' "
            f"({'::'.join(fields)}), found {parts[at].len()}: {lines[at][:80]!r}."
        )
    columns = {name: parts.list.get(i) for i, name in enumerate(fields)}
    return pl.DataFrame({**columns, "line": numbers})


def _integers(frame: pl.DataFrame, columns: tuple[str, ...], path: Path) -> pl.DataFrame:
    """The columns as Int64; a field that is not a whole number names its line."""
    cast = frame.with_columns(pl.col(c).str.strip_chars().cast(pl.Int64, strict=False) for c in columns)
    for column in columns:
        bad = cast[column].is_null().arg_true()
        if len(bad):
            at = int(bad[0])
            raise DataError(
                f"{path} line {frame['line'][at]}: {column} must be a whole number, "
                f"found {frame[column][at]!r}."
            )
    return cast


def _load_1m(folder: Path, with_features: bool):
    """The hook's tables from the ml-1m layout (see the module doc)."""
    ratings_path = folder / "ratings.dat"
    ratings = _integers(read_dat(ratings_path), DAT_FIELDS["ratings.dat"], ratings_path)
    interactions = ratings.select(
        pl.col("UserID").alias("user"),
        pl.col("MovieID").alias("item"),
        pl.col("Rating").cast(pl.Float64).alias("score"),
        pl.col("Timestamp").alias("timestamp"),
    )
    user_features = item_features = None
    users_path, movies_path = folder / "users.dat", folder / "movies.dat"
    if with_features and users_path.exists():
        users = _integers(read_dat(users_path), ("UserID", "Age", "Occupation"), users_path)
        user_features = users.select(
            pl.col("UserID").alias("id"),
            pl.col("Gender").alias("gender"),
            pl.col("Age").replace_strict(AGE_BANDS, default=None, return_dtype=pl.String).alias("age"),
            pl.col("Occupation")
            .replace_strict(dict(enumerate(OCCUPATIONS)), default=None, return_dtype=pl.String)
            .alias("occupation"),
            pl.col("Zip-code").str.slice(0, 1).alias("zip_area"),
        )
    if with_features and movies_path.exists():
        movies = _integers(read_dat(movies_path), ("MovieID",), movies_path)
        item_features = movies.select(
            pl.col("MovieID").alias("id"),
            pl.col("Title").alias("title"),
            pl.col("Genres").alias("genres"),
            pl.col("Title").str.extract(r"\((\d{4})\)\s*$", 1).cast(pl.Float64).alias("year"),
        )
    return interactions, user_features, item_features
