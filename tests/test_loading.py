"""Loading: every bad input gets a clear error naming the file, column or row."""

import polars as pl
import pytest

from recsys.config import Config
from recsys.data.hook import load_from_hook
from recsys.data.loading import load_from_files
from recsys.errors import ConfigError, DataError


def config_for(path, **changes):
    return Config().replace(raw_data_fpath=str(path), **changes)


def test_loads_csv_with_canonical_columns_and_id_types(csv_file):
    path = csv_file("u,i,r,t\nalice,10,4.5,100\nbob,11,3,200\n")
    raw = load_from_files(
        config_for(path, user_column="u", item_column="i", score_column="r", timestamp_column="t")
    )
    assert raw.interactions.columns == ["user", "item", "score", "timestamp"]
    assert raw.interactions["user"].dtype == pl.Categorical  # text ids: each distinct id stored once
    assert raw.interactions["item"].dtype == pl.Int64
    assert raw.interactions["score"].to_list() == [4.5, 3.0]


def test_leading_zero_ids_stay_text(csv_file):
    path = csv_file("user,item\n007,1\n008,2\n")
    raw = load_from_files(config_for(path))
    assert raw.interactions["user"].to_list() == ["007", "008"]


def test_parquet_is_read(tmp_path):
    path = tmp_path / "x.parquet"
    pl.DataFrame({"user": [1, 2], "item": ["a", "b"]}).write_parquet(path)
    raw = load_from_files(config_for(path))
    assert raw.interactions["item"].to_list() == ["a", "b"]


@pytest.mark.parametrize("shards", [1, 2])
def test_parquet_timestamps_with_a_fixed_offset_are_read_as_the_same_instants(tmp_path, shards):
    """pandas writes parsed offsets as the zone '+05:30', which polars alone cannot read: the
    times arrive as the same instants (seconds since 1970, UTC), in a file or a folder."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    times = [dt.datetime(2024, 1, 1, 12, 0, tzinfo=india), dt.datetime(2024, 1, 2, 0, 30, tzinfo=india)]
    table = pa.table(
        {"user": [1, 2], "item": [3, 4], "when": pa.array(times, type=pa.timestamp("us", tz="+05:30"))}
    )
    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(table, folder / "part-0.parquet")
    if shards == 2:  # a second shard in a named zone, read by polars as usual
        other = pa.table(
            {"user": [5], "item": [6], "when": pa.array([times[0]], type=pa.timestamp("us", tz="UTC"))}
        )
        pq.write_table(other, folder / "part-1.parquet")
    path = folder if shards == 2 else folder / "part-0.parquet"
    raw = load_from_files(config_for(path, timestamp_column="when"))
    expected = [t.timestamp() for t in times] + ([times[0].timestamp()] if shards == 2 else [])
    assert raw.interactions["timestamp"].to_list() == expected


def test_a_folder_of_parquet_files_is_one_table_in_file_name_order(tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    pl.DataFrame({"u": ["b", "c"], "i": [2, 3], "extra": ["x", "y"]}).write_parquet(folder / "part-1.parquet")
    pl.DataFrame({"u": ["a", "b"], "i": [1, 2], "extra": ["z", "w"]}).write_parquet(folder / "part-0.parquet")
    (folder / "README.txt").write_text("not data")
    raw = load_from_files(config_for(folder, user_column="u", item_column="i"))
    assert raw.interactions["user"].to_list() == ["a", "b", "b", "c"]  # part-0 first
    assert raw.interactions["item"].to_list() == [1, 2, 2, 3]
    with pytest.raises(DataError, match=r"missing column 'score' \(score\).*'extra'"):
        load_from_files(config_for(folder, user_column="u", item_column="i", score_column="score"))


def test_a_folder_without_parquet_files_or_with_mismatched_ones(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no .parquet files"):
        load_from_files(config_for(empty))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pl.DataFrame({"user": [1], "item": [2]}).write_parquet(mixed / "a.parquet")
    pl.DataFrame({"user": ["x"], "item": [2]}).write_parquet(mixed / "b.parquet")
    with pytest.raises(DataError, match=r"could not read the interactions folder .*mixed \(2 files\)"):
        load_from_files(config_for(mixed))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_from_files(config_for(tmp_path / "nope.csv"))


def test_empty_file(csv_file):
    with pytest.raises(DataError, match="is empty"):
        load_from_files(config_for(csv_file("")))


def test_header_only(csv_file):
    with pytest.raises(DataError, match="no data rows"):
        load_from_files(config_for(csv_file("user,item\n")))


def test_misnamed_column_lists_existing_columns(csv_file):
    path = csv_file("userId,movieId\n1,2\n")
    with pytest.raises(DataError) as info:
        load_from_files(config_for(path))
    message = str(info.value)
    assert "'user' (user id)" in message and "'userId'" in message and "'movieId'" in message


def test_non_numeric_score_names_row_and_value(csv_file):
    path = csv_file("user,item,score\n1,1,4\n1,2,five\n")
    with pytest.raises(DataError, match=r"'score'.*row 2 has 'five'"):
        load_from_files(config_for(path, score_column="score"))


def test_nan_score_is_an_error(csv_file):
    path = csv_file("user,item,score\n1,1,4\n1,2,NaN\n2,1,\n")
    with pytest.raises(DataError, match=r"2 missing, NaN or infinite value\(s\) at rows 2, 3"):
        load_from_files(config_for(path, score_column="score"))


def test_missing_user_names_rows(csv_file):
    path = csv_file("user,item\n1,1\n,2\n3,\n")
    with pytest.raises(DataError, match=r"'user' is empty on 1 data row\(s\): rows 2"):
        load_from_files(config_for(path))


def test_dates_become_epoch_seconds(csv_file):
    path = csv_file("user,item,t\n1,1,2024-01-01\n1,2,2024-01-02\n")
    raw = load_from_files(config_for(path, timestamp_column="t"))
    ts = raw.interactions["timestamp"].to_numpy()
    assert ts[1] - ts[0] == pytest.approx(86400.0)


def test_bad_timestamp_names_row(csv_file):
    path = csv_file("user,item,t\n1,1,2024-01-01\n1,2,yesterday\n")
    with pytest.raises(DataError, match="row 2 has 'yesterday'"):
        load_from_files(config_for(path, timestamp_column="t"))


def test_feature_file_with_duplicate_ids(csv_file):
    inter = csv_file("user,item\n1,1\n")
    users = csv_file("user,age\n1,30\n1,31\n", name="users.csv")
    with pytest.raises(DataError, match="repeats 1 id"):
        load_from_files(config_for(inter, user_features_fpath=str(users)))


def test_hook_list_of_dicts_keeps_id_types():
    raw = load_from_hook(
        (
            [{"user": "a", "item": 1, "score": 5}, {"user": "b", "item": 2, "score": 3}],
            {"a": {"age": 30}},
            {1: {"genre": "x"}, 2: {"genre": "y"}},
        )
    )
    assert raw.interactions["user"].dtype == pl.Categorical and raw.interactions["item"].dtype == pl.Int64
    assert raw.user_features["id"].to_list() == ["a"]
    assert raw.item_features.columns == ["id", "genre"]


def test_hook_accepts_dataframe():
    frame = pl.DataFrame({"user": [1, 2], "item": [3, 4]})
    raw = load_from_hook((frame, None, None))
    assert not raw.has_scores and raw.interactions.height == 2


def test_hook_wrong_shape():
    with pytest.raises(DataError, match="must return a tuple"):
        load_from_hook([{"user": 1, "item": 2}])
    with pytest.raises(DataError, match="missing column 'item'"):
        load_from_hook(([{"user": 1, "product": 2}], None, None))


def test_feature_table_without_its_id_column_names_the_setting(csv_file, tmp_path):
    interactions = csv_file("user,item\n1,10\n2,11\n")
    items = csv_file("movieId,genre\n10,a\n11,b\n", name="items.csv")
    with pytest.raises(DataError) as error:
        load_from_files(config_for(interactions, item_features_fpath=str(items)))
    message = str(error.value)
    assert "missing column 'item' (id)" in message and "item_features_id_column" in message
    assert "user_column" not in message


def test_empty_hook_data_says_no_interactions():
    with pytest.raises(DataError, match="no interactions \\(an empty list\\)"):
        load_from_hook(([], None, None))
    with pytest.raises(DataError, match="no interactions \\(zero rows\\)"):
        load_from_hook((pl.DataFrame({"user": [], "item": []}), None, None))


def test_hook_missing_column_points_at_the_hook_not_the_settings():
    with pytest.raises(DataError) as error:
        load_from_hook(([{"usr": 1, "item": 2}], None, None))
    assert "keys 'user' and 'item'" in str(error.value) and "user_column" not in str(error.value)


def test_decimal_commas_are_read_as_numbers_when_set_and_flagged_otherwise(tmp_path, capsys):
    data = tmp_path / "plays.csv"
    data.write_text("user;item;hours\nu1;1;2,5\nu2;2;10,25\n")
    items = tmp_path / "items.csv"
    items.write_text("item;price;genre\n1;5,00;puzzle\n2;12,50;action\n")
    settings = dict(csv_separator=";", score_column="hours", item_features_fpath=str(items))
    settings.update(item_features_id_column="item")

    raw = load_from_files(config_for(data, csv_decimal_comma=True, **settings))
    assert raw.item_features["price"].to_list() == [5.0, 12.5]
    assert raw.interactions["score"].to_list() == [2.5, 10.25]
    assert "decimal comma" not in capsys.readouterr().err

    settings.pop("score_column")  # hours not read: only the feature file's price is in question
    raw = load_from_files(config_for(data, **settings))
    warning = capsys.readouterr().err
    assert raw.item_features["price"].to_list() == ["5,00", "12,50"]  # text, as the warning says
    assert "column 'price' looks like numbers written with a decimal comma (e.g. '5,00')" in warning
    assert "csv_decimal_comma = True" in warning and warning.count("\n") == 1


def test_a_decimal_comma_with_a_comma_separator_is_a_config_error():
    with pytest.raises(ConfigError, match="csv_decimal_comma' is True with csv_separator ','"):
        Config(csv_decimal_comma=True)


def lastfm_files(tmp_path):
    """Last.fm (hetrec2011) in its own format: tab-separated, unquoted, a name holding quotes."""
    plays = tmp_path / "user_artists.dat"
    plays.write_text(
        "userID\tartistID\tweight\n"
        + "".join(
            f"{u}\t{51 + (u + k) % 6}\t{(u * 37 + k) % 900 + 1}\n" for u in range(2, 9) for k in range(3)
        )
    )
    artists = tmp_path / "artists.dat"
    artists.write_text(
        "id\tname\turl\tpictureURL\n"
        "51\tDuran Duran\thttp://www.last.fm/music/Duran+Duran\thttp://userserve-ak.last.fm/1.jpg\n"
        '52\t"Weird Al" Yankovic\thttp://www.last.fm/music/%22Weird+Al%22+Yankovic\t\n'
        "53\tMoby\thttp://www.last.fm/music/Moby\thttp://userserve-ak.last.fm/3.jpg\n"
        "54\tAir\thttp://www.last.fm/music/Air\thttp://userserve-ak.last.fm/4.jpg\n"
        "55\tBj\u00f6rk\thttp://www.last.fm/music/Bj%C3%B6rk\thttp://userserve-ak.last.fm/5.jpg\n"
        "56\tSigur R\u00f3s\thttp://www.last.fm/music/Sigur+R%C3%B3s\t\n"
    )
    return plays, artists


def test_a_file_that_quotes_nothing_needs_csv_quote_char_none_and_the_message_says_so(tmp_path):
    plays, artists = lastfm_files(tmp_path)
    config = Config(
        raw_data_fpath=str(plays), user_column="userID", item_column="artistID", score_column="weight",
        item_features_fpath=str(artists), item_features_id_column="id", csv_separator="\t",
    )  # fmt: skip
    with pytest.raises(DataError) as error:
        load_from_files(config)
    message = str(error.value)
    assert f"item features file {artists}" in message and "row 2 (line 3 of the file" in message
    assert "text after a quoted value's closing quote" in message and "csv_quote_char = None" in message
    assert "\n" not in message
    raw = load_from_files(config.replace(csv_quote_char=None))
    names = dict(zip(raw.item_features["id"].to_list(), raw.item_features["name"].to_list()))
    assert names[52] == '"Weird Al" Yankovic' and names[53] == "Moby"
    assert raw.interactions.height == 21


def test_csv_quote_char_is_checked():
    for bad in ("", "ab", "\n", ","):
        with pytest.raises(ConfigError, match="csv_quote_char"):
            Config(csv_quote_char=bad)
    assert Config(csv_quote_char="'").csv_quote_char == "'"
