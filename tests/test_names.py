"""Item display names (`item_name_column`): in the JSON Lines and Parquet recommendations and in
similar_items.json, first among the report's item columns, never a model feature, and a one-line
error naming the setting when the column is not there."""

import json
import re

import numpy as np
import polars as pl
import pytest

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.errors import ConfigError
from recsys.pipeline import run_actions


def named_run(tmp_path, fmt: str, users_table: pl.DataFrame | None = None, **settings):
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 6)
    items = np.concatenate([rng.choice(20, 6, replace=False) for _ in range(40)])
    frame = pl.DataFrame({"user": users, "item": items + 100})
    titles = pl.DataFrame(
        {
            "id": np.arange(100, 120),
            "title": [f"Film {i} ({1990 + i})" for i in range(20)],
            "genre": ["a", "b"] * 10,
        }
    )
    config = Config(
        min_interactions_per_item=1, embedding_dim=8, production_epochs=2, top_n=5, similar_items_n=3,
        recommendations_format=fmt, verbosity=0,
        output_dir=str(tmp_path / "artifacts"), figures_dir=str(tmp_path / "figures"),
        recommendations_fpath=str(tmp_path / f"recommendations.{fmt}"),
        similar_items_fpath=str(tmp_path / "similar_items.json"), report_fpath=str(tmp_path / "report.html"),
        **{"item_name_column": "title", **settings},
    )  # fmt: skip
    experiment = Experiment(config, lambda: (frame, users_table, titles))
    run_actions(["train_production_model", "compute_predictions", "similar_items"], experiment)
    return config, experiment, dict(zip(titles["id"].to_list(), titles["title"].to_list()))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_recommendations_and_similar_items_carry_each_items_name(tmp_path, fmt):
    config, experiment, title_of = named_run(tmp_path, fmt)
    path = config.recommendations_fpath
    rows = pl.read_ndjson(path) if fmt == "jsonl" else pl.read_parquet(path)
    assert rows.columns == ["user", "rank", "item", "score", "name", "served_by"]
    assert rows.height == 40 * 5
    assert rows["name"].to_list() == [title_of[item] for item in rows["item"].to_list()]
    similar = json.loads((tmp_path / "similar_items.json").read_text())
    entries = [entry for lists in similar.values() for entry in lists]
    assert len(similar) == 20 and len(entries) == 60
    assert all(len(entry) == 3 and entry[2] == title_of[entry[0]] for entry in entries)
    encoder = experiment.features.item_encoder
    assert encoder is not None and "title" not in encoder.input_columns and "genre" in encoder.input_columns


def test_a_missing_name_column_is_one_line_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"item_name_column' is 'name', which is not a column .*'title'"):
        named_run(tmp_path, "jsonl", item_name_column="name")
    frame = pl.DataFrame({"user": [1, 1, 2], "item": [5, 6, 5]})
    experiment = Experiment(
        Config(item_name_column="title", min_interactions_per_item=1), lambda: (frame, None, None)
    )
    with pytest.raises(ConfigError, match="no item feature table to take names from"):
        _ = experiment.prepared


def test_the_bundle_keeps_the_names_for_the_api_and_the_service(tmp_path):
    from test_service import asgi_request, serving

    from recsys.model.bundle import load_bundle
    from recsys.serve.app import create_app
    from recsys.serve.recommender import Recommender

    config, _, title_of = named_run(tmp_path, "jsonl")
    path = tmp_path / "artifacts" / "production_model"
    bundle = load_bundle(path)
    assert "item_names.parquet" in bundle.manifest["files"]
    assert bundle.item_names.to_list() == [title_of[item] for item in bundle.item_vocab.ids.to_list()]

    model = Recommender.load(path)
    answer = model.recommend(model.user_vocab.ids.to_list()[:3], n=4)
    assert [len(names) for names in answer.names] == [4, 4, 4]
    for items, names in zip(answer.items, answer.names):
        assert names == [title_of[item] for item in items]
    similar = model.similar_items([105], n=3)
    assert similar.names[0] == [title_of[item] for item in similar.items[0]]

    # New items bring their names (null without one); the grown bundle saves and reloads them.
    model.add_items(pl.DataFrame({"id": [200, 201], "title": ["New film (2026)", None], "genre": ["a", "b"]}))
    model.save(tmp_path / "grown")
    grown = load_bundle(tmp_path / "grown")
    named = dict(zip(grown.item_vocab.ids.to_list(), grown.item_names.to_list()))
    assert named[200] == "New film (2026)" and named[201] is None and named[105] == title_of[105]

    with serving(path, tmp_path) as client:
        user = model.user_vocab.ids.to_list()[0]
        for status, _, body in (
            client.get(f"/recommend/{user}?n=3&fields=name"),
            client.get("/similar/105?n=3&fields=name"),
            client.call("POST", "/recommend?fields=name", body={"history": [101, 102], "n": 3}),
            client.get("/recommend/nobody?n=3&fields=name"),  # the popular fallback too
        ):
            assert status == 200 and len(body["items"]) == 3, body
            assert all(entry["name"] == title_of[entry["item"]] for entry in body["items"]), body
        status, _, body = client.get(f"/recommend/{user}?n=3")
        assert status == 200 and all(set(entry) == {"item", "score"} for entry in body["items"])
        status, _, body = client.get(f"/recommend/{user}?fields=title")
        assert status == 422 and "'fields': unknown field 'title'" in body["error"], body

    # A model without names answers the ask for them with a 400 that says how to get them.
    unnamed = Recommender(bundle.replace(item_names=None))
    status, body = asgi_request(create_app(unnamed), "GET", "/similar/105", query=b"fields=name")
    assert status == 400 and "no item names; set item_name_column" in body["error"], body
    assert unnamed.similar_items([105], n=2).names == []


def test_user_names_are_a_column_of_the_outputs_and_head_the_reports_users(tmp_path):
    from recsys.report.sections import users_section

    people = pl.DataFrame(
        {"id": np.arange(40), "name": [f"Person {u}" for u in range(40)], "group": ["x", "y"] * 20}
    )
    config, experiment, _ = named_run(tmp_path, "jsonl", users_table=people, user_name_column="name")
    rows = pl.read_ndjson(config.recommendations_fpath)
    assert rows.columns == ["user", "user_name", "rank", "item", "score", "name", "served_by"]
    assert rows["user_name"].to_list() == [f"Person {u}" for u in rows["user"].to_list()]
    encoder = experiment.features.user_encoder
    assert encoder is not None and "name" not in encoder.input_columns and "group" in encoder.input_columns
    html = users_section(config, experiment)
    headings = re.findall(r"<h3>User (\d+) \(Person \1\) — group [xy]</h3>", html)
    assert len(headings) >= 3 and len(headings) == html.count("<h3>User "), html[:2000]
    with pytest.raises(ConfigError, match=r"'user_name_column' is 'nick', which is not a column .*'name'"):
        named_run(tmp_path / "again", "jsonl", users_table=people, user_name_column="nick")
