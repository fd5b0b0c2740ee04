"""Feature encoding: one-hot/multi-hot with unknown buckets, standardised numerics with missing
flags, type inference, persistence and the errors a user can run into."""

import json

import numpy as np
import polars as pl
import pytest

from recsys.config import Config
from recsys.data.features import FeatureEncoder, encode_tables, infer_type
from recsys.errors import ArtifactError, ConfigError, DataError


def column(encoder, matrix, name):
    return matrix[:, encoder.column_names.index(name)]


def test_categorical_one_hot_with_unknown_bucket():
    fit = pl.DataFrame({"country": ["US", "DE", "US", None, "FR"]})
    encoder = FeatureEncoder.fit(fit)
    assert sorted(encoder.column_names) == sorted(
        ["country=US", "country=DE", "country=FR", "country=<unknown>"]
    )
    matrix = encoder.transform(pl.DataFrame({"country": ["DE", "JP", None, "US", ""]}))
    assert matrix.sum(axis=1).tolist() == [1, 1, 1, 1, 1]  # exactly one bucket per row
    assert column(encoder, matrix, "country=DE").tolist() == [1, 0, 0, 0, 0]
    assert column(encoder, matrix, "country=US").tolist() == [0, 0, 0, 1, 0]
    # unseen value, missing and empty text all land in the unknown bucket
    assert column(encoder, matrix, "country=<unknown>").tolist() == [0, 1, 1, 0, 1]


def test_categorical_min_count_sends_rare_values_to_unknown():
    encoder = FeatureEncoder.fit(pl.DataFrame({"c": ["a", "a", "b", "a", "c", "c"]}), min_count=2)
    assert set(encoder.column_names) == {"c=a", "c=c", "c=<unknown>"}
    matrix = encoder.transform(pl.DataFrame({"c": ["b", "c"]}))
    assert column(encoder, matrix, "c=<unknown>").tolist() == [1, 0]


def test_integer_and_integral_float_categories_match():
    encoder = FeatureEncoder.fit(pl.DataFrame({"level": [1, 2, 3, 2]}), {"level": "categorical"})
    assert "level=2" in encoder.column_names
    matrix = encoder.transform(
        pl.DataFrame({"level": [2.0, 7.0, None]})
    )  # e.g. read as floats from a CSV with gaps
    assert column(encoder, matrix, "level=2").tolist() == [1, 0, 0]
    assert column(encoder, matrix, "level=<unknown>").tolist() == [0, 1, 1]


def test_numeric_standardised_with_missing_flag():
    fit = pl.DataFrame({"age": [10.0, 20.0, None, 30.0, float("nan")], "price": [1.0, 2.0, 3.0, 4.0, 5.0]})
    encoder = FeatureEncoder.fit(fit)
    assert encoder.column_names == ["age", "age:missing", "price"]  # price had no gaps: no flag column
    matrix = encoder.transform(fit)
    age, flag = matrix[:, 0], matrix[:, 1]
    present = flag == 0
    np.testing.assert_allclose(age[present], (np.array([10, 20, 30]) - 20) / np.std([10, 20, 30]), rtol=1e-6)
    assert flag.tolist() == [0, 0, 1, 0, 1]
    assert age[~present].tolist() == [0.0, 0.0]  # imputed with the mean -> 0 after standardising
    np.testing.assert_allclose(matrix[:, 2].mean(), 0.0, atol=1e-6)
    np.testing.assert_allclose(matrix[:, 2].std(), 1.0, rtol=1e-5)
    # new data: statistics come from the fit, not from the new frame
    new = encoder.transform(pl.DataFrame({"age": [40.0], "price": [None]}))
    np.testing.assert_allclose(new[0], [(40 - 20) / np.std([10, 20, 30]), 0.0, 0.0], rtol=1e-6)


def test_constant_numeric_column_does_not_divide_by_zero():
    encoder = FeatureEncoder.fit(pl.DataFrame({"x": [5, 5, 5]}))
    assert np.isfinite(encoder.transform(pl.DataFrame({"x": [5, 6]}))).all()


def test_multi_hot_from_separator():
    fit = pl.DataFrame({"genres": ["Action|Comedy", "Comedy", "(no genres listed)", None, "Drama| Action"]})
    encoder = FeatureEncoder.fit(fit)
    assert set(encoder.column_names) == {
        "genres=Action",
        "genres=Comedy",
        "genres=Drama",
        "genres=(no genres listed)",
        "genres=<unknown>",
    }
    matrix = encoder.transform(
        pl.DataFrame({"genres": ["Action|Comedy", "Horror", "Horror|Drama", None, "(no genres listed)"]})
    )
    get = lambda name: column(encoder, matrix, name).tolist()  # noqa: E731
    assert get("genres=Action") == [1, 0, 0, 0, 0]
    assert get("genres=Comedy") == [1, 0, 0, 0, 0]
    assert get("genres=Drama") == [0, 0, 1, 0, 0]
    assert get("genres=(no genres listed)") == [0, 0, 0, 0, 1]  # just another token
    assert get("genres=<unknown>") == [0, 1, 1, 1, 0]  # unseen token or nothing at all


def test_multi_hot_custom_separator_and_list_columns():
    encoder = FeatureEncoder.fit(pl.DataFrame({"tags": ["a;b", "b", "c"]}), separator=";")
    assert encoder.column_names.count("tags=b") == 1
    assert encoder.transform(pl.DataFrame({"tags": ["a;c"]}))[0].sum() == 2
    lists = FeatureEncoder.fit(pl.DataFrame({"tags": [["x", "y"], ["y"], None]}))
    assert lists.features[0]["type"] == "multi_categorical"
    matrix = lists.transform(pl.DataFrame({"tags": [["y", "x"], []]}))
    assert column(lists, matrix, "tags=x").tolist() == [1, 0]
    assert column(lists, matrix, "tags=<unknown>").tolist() == [0, 1]


def test_inference_rules_and_printed_summary(capsys):
    frame = pl.DataFrame(
        {
            "age": [20, 30, None],
            "score": [0.5, 1.5, 2.5],
            "genres": ["A|B", "A", "C"],
            "country": ["US", "DE", "US"],
            "premium": [True, False, True],
            "code": [1, 2, 3],
        }
    )
    assert [infer_type(frame[c]) for c in frame.columns] == [
        "numeric",
        "numeric",
        "multi_categorical",
        "categorical",
        "categorical",
        "numeric",
    ]
    encoder = FeatureEncoder.fit(frame, {"code": "categorical"}, name="user")
    out = capsys.readouterr().out
    assert "age: numeric (inferred) -> 2 columns" in out
    assert "genres: multi_categorical (inferred) -> 4 columns" in out  # A, B, C + unknown
    assert "country: categorical (inferred) -> 3 columns" in out
    assert "premium: categorical (inferred) -> 3 columns" in out
    assert "code: categorical (declared) -> 4 columns" in out
    assert f"user feature matrix: {encoder.output_dim} columns" in out
    assert encoder.output_dim == 2 + 1 + 4 + 3 + 3 + 4 == len(encoder.column_names)


def test_save_load_gives_identical_transform(tmp_path):
    frame = pl.DataFrame(
        {
            "genres": ["Action|RPG", "RPG", None, "Puzzle"],
            "difficulty": ["easy", "hard", "hard", None],
            "price": [0.0, 9.99, None, 19.99],
        }
    )
    encoder = FeatureEncoder.fit(frame, {"difficulty": "categorical"}, name="item")
    path = tmp_path / "enc" / "item_encoder.json"
    encoder.save(path)
    assert json.loads(path.read_text())["format"] == "recsys.FeatureEncoder"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left behind
    loaded = FeatureEncoder.load(path)
    new = pl.DataFrame(
        {"genres": ["RPG|Horror", "Puzzle"], "difficulty": ["medium", "easy"], "price": [5.0, None]}
    )
    for data in (frame, new):
        np.testing.assert_array_equal(loaded.transform(data), encoder.transform(data))
    assert loaded.column_names == encoder.column_names
    assert FeatureEncoder.from_dict(encoder.to_dict()).column_names == encoder.column_names


def test_load_errors_are_artifact_errors(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        FeatureEncoder.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ArtifactError, match="broken.json"):
        FeatureEncoder.load(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ArtifactError, match="not a saved FeatureEncoder"):
        FeatureEncoder.load(other)


def test_unknown_type_name_is_config_error():
    with pytest.raises(ConfigError, match=r"'age'.*'numerical'.*categorical, numeric, multi_categorical"):
        FeatureEncoder.fit(pl.DataFrame({"age": [1, 2]}), {"age": "numerical"})


def test_declared_numeric_with_text_names_column_and_value():
    frame = pl.DataFrame({"price": ["1.5", "2", "free", " 3 ", "n/a"]})
    with pytest.raises(DataError, match=r"column 'price'.*row 3 holds 'free'.*2 non-numeric values"):
        FeatureEncoder.fit(frame, {"price": "numeric"}, name="item")
    encoder = FeatureEncoder.fit(pl.DataFrame({"price": ["1.5", "2", None, " 3 "]}), {"price": "numeric"})
    assert encoder.features[0]["missing_flag"] is True
    with pytest.raises(DataError, match=r"'price'.*'cheap'"):
        encoder.transform(pl.DataFrame({"price": ["cheap"]}))


def test_output_aligned_with_rows_and_float32():
    frame = pl.DataFrame({"c": ["x", "y", "z", "x"], "v": [1.0, 2.0, 3.0, 4.0], "m": ["a|b", "b", "c", "a"]})
    encoder = FeatureEncoder.fit(frame)
    matrix = encoder.transform(frame)
    assert matrix.dtype == np.float32
    assert matrix.shape == (frame.height, encoder.output_dim)
    order = [2, 0, 3, 1]
    np.testing.assert_array_equal(encoder.transform(frame[order]), matrix[order])


def test_transform_missing_column_is_data_error():
    encoder = FeatureEncoder.fit(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    with pytest.raises(DataError, match=r"'b'"):
        encoder.transform(pl.DataFrame({"a": [1]}))


def test_encode_tables_routes_declared_types_and_checks_names():
    users = pl.DataFrame({"age": [20, None, 40], "country": ["US", "DE", "US"]})
    items = pl.DataFrame({"genres": ["A|B", "B", None], "level": [1, 2, 3]})
    config = Config(feature_types={"level": "categorical", "age": "numeric"})
    user_matrix, item_matrix, user_encoder, item_encoder = encode_tables(users, items, config)
    assert user_matrix.shape == (3, user_encoder.output_dim) and item_matrix.shape == (
        3,
        item_encoder.output_dim,
    )
    assert "level=2" in item_encoder.column_names  # declared categorical, not inferred numeric
    assert "age:missing" in user_encoder.column_names
    assert encode_tables(None, items, Config())[0] is None
    assert encode_tables(users, items, Config(use_user_features=False))[2] is None
    with pytest.raises(ConfigError, match=r"'colour'"):
        encode_tables(users, items, Config(feature_types={"colour": "categorical"}))


def test_near_unique_text_is_skipped_unless_declared(capsys):
    frame = pl.DataFrame({"title": [f"Movie {i}" for i in range(300)], "genres": ["A|B", "B", "C"] * 100})
    encoder = FeatureEncoder.fit(frame)
    assert encoder.skipped == ["title"] and encoder.input_columns == ["genres"]
    assert "title: skipped (300 distinct values" in capsys.readouterr().out
    assert encoder.transform(frame).shape == (300, 4)
    assert FeatureEncoder.from_dict(encoder.to_dict()).skipped == ["title"]
    declared = FeatureEncoder.fit(frame, {"title": "categorical"}, max_categories=50)
    assert "title=<unknown>" in declared.column_names and len(declared.column_names) == 51 + 4
    # a table with nothing usable gives no matrix at all
    assert encode_tables(None, frame.select("title"), Config()) == (None, None, None, None)


# --- raw records at serving time -----------------------------------------------------------------
def test_records_through_a_saved_encoder_give_the_training_rows():
    """The demo's items: records built from raw feature rows (missing values as absent keys),
    encoded by the encoder after a save round trip, are exactly the training matrix's rows."""
    from recsys.data.experiment import Experiment

    experiment = Experiment(Config(demo_num_users=300, verbosity=0))
    prepared, features = experiment.prepared, experiment.features
    saved = FeatureEncoder.from_dict(json.loads(json.dumps(features.item_encoder.to_dict())))
    raw = experiment.raw.item_features
    assert raw is not None and raw["price"].null_count() > 0  # missing values are exercised
    sample = np.random.default_rng(0).choice(prepared.n_items, size=40, replace=False)
    sample = np.union1d(sample, np.flatnonzero(prepared.item_features["price"].is_null().to_numpy())[:5])
    ids = prepared.item_vocab.to_python(sample)
    by_id = {row.pop("id"): row for row in raw.to_dicts()}
    records = [{key: value for key, value in by_id[i].items() if value is not None} for i in ids]
    np.testing.assert_array_equal(saved.transform_records(records), features.item_matrix[sample])
    # the raw rows with their id column (ignored by name), and as a DataFrame: the same matrix
    with_ids = [{"id": i, **by_id[i]} for i in ids]
    np.testing.assert_array_equal(
        saved.transform_records(with_ids, ignore=["id"]), features.item_matrix[sample]
    )
    frame = pl.DataFrame(with_ids).drop("id")
    np.testing.assert_array_equal(saved.transform_records(frame), features.item_matrix[sample])


def test_records_with_missing_keys_and_mixed_types_match_transform():
    fit = pl.DataFrame(
        {
            "age": [20.0, None, 40.0, 31.5],
            "level": [1, 2, 3, 2],
            "genres": ["A|B", "B", None, "C"],
            "premium": [True, False, True, None],
        }
    )
    encoder = FeatureEncoder.fit(fit, {"level": "categorical"})
    table = pl.DataFrame(
        {
            "age": [None, 25.0, 40.0, 31.5, None],
            "level": [2.0, None, 7.0, 3.0, 1.0],
            "genres": ["B|A", None, "Z", "C|", None],
            "premium": [True, None, False, None, True],
        }
    )
    records = [
        {"level": 2, "genres": ["B", "A"], "premium": True},  # no age: missing; a list for genres
        {"age": 25},  # an int where the table had floats
        {"age": "40", "level": "7", "genres": "Z", "premium": False},  # numeric text
        {"age": 31.5, "level": 3.0, "genres": "C|"},
        {"level": 1, "premium": True},
    ]
    np.testing.assert_array_equal(encoder.transform_records(records), encoder.transform(table))
    # nothing known at all: every feature missing (unknown buckets, mean with the missing flag)
    empty = encoder.transform_records([{}])
    assert empty.shape == (1, encoder.output_dim)
    assert column(encoder, empty, "age:missing").tolist() == [1.0]
    assert column(encoder, empty, "level=<unknown>").tolist() == [1.0]
    assert encoder.transform_records([]).shape == (0, encoder.output_dim)
    ints_and_floats = encoder.transform_records([{"age": 25}, {"age": 31.5}])  # one column, two types
    ages_only = pl.DataFrame({"age": [25.0, 31.5]}).with_columns(
        pl.lit(None).alias(name) for name in ("level", "genres", "premium")
    )
    np.testing.assert_array_equal(ints_and_floats, encoder.transform(ages_only))


def test_records_with_unknown_names_are_a_one_line_data_error():
    encoder = FeatureEncoder.fit(pl.DataFrame({"age": [20, 30], "country": ["US", "DE"]}), name="user")
    with pytest.raises(
        DataError, match=r"user features: record 2 has unknown feature name\(s\) 'colour'"
    ) as info:
        encoder.transform_records([{"age": 20}, {"colour": "red", "age": 3}])
    assert "\n" not in str(info.value) and "'age', 'country'" in str(info.value)
    with pytest.raises(DataError, match=r"unknown feature column\(s\) 'user_id'"):
        encoder.transform_records(pl.DataFrame({"user_id": [1], "age": [3]}))
    assert encoder.transform_records(pl.DataFrame({"user_id": [1], "age": [3]}), ignore="user_id").shape == (
        1,
        4,
    )
    with pytest.raises(DataError, match=r"record 1 is a list"):
        encoder.transform_records([["age", 20]])
    with pytest.raises(DataError, match=r"records must be a list"):
        encoder.transform_records({"age": 20})
    with pytest.raises(DataError, match=r"'age'.*'old'"):
        encoder.transform_records([{"age": "old"}])
