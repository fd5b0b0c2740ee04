"""The experiment unit: each stage computed once per run, shared by actions; the data fingerprint."""

import numpy as np
import polars as pl

from recsys.config import Config
from recsys.data.experiment import Experiment, data_fingerprint
from recsys.data.preparation import prepare
from recsys.eval.validation import most_popular_metrics


def hook_returning(frame: pl.DataFrame, calls: list):
    def get_raw_data():
        calls.append(1)
        return frame, None, None

    return get_raw_data


def small_frame(n_users=40, n_items=25, per_user=8, seed=0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    return pl.DataFrame({"user": users, "item": items, "timestamp": rng.random(len(users))})


def test_each_stage_is_computed_once_and_the_hook_runs_once():
    calls: list = []
    experiment = Experiment(Config(min_interactions_per_item=1), hook_returning(small_frame(), calls))
    first = (experiment.prepared, experiment.split, experiment.train_matrix, experiment.summary)
    second = (experiment.prepared, experiment.split, experiment.train_matrix, experiment.summary)
    assert all(a is b for a, b in zip(first, second))
    assert len(calls) == 1
    assert experiment.train_matrix.nnz == len(experiment.split.train)
    assert experiment.validation_matrix.nnz == len(experiment.split.validation)
    assert experiment.full_matrix.nnz == len(experiment.prepared.interactions)
    assert 0 < most_popular_metrics(experiment)["Recall@10"] <= 1


def test_a_prediction_only_run_reads_no_data():
    calls: list = []
    experiment = Experiment(Config(), hook_returning(small_frame(), calls))
    assert experiment.config.top_n == 50 and calls == []


def test_fingerprint_tells_same_from_different_data():
    config = Config(min_interactions_per_item=1)
    frame = small_frame()
    a = data_fingerprint(prepare(Experiment(config, hook_returning(frame, [])).raw, config))
    b = data_fingerprint(prepare(Experiment(config, hook_returning(frame, [])).raw, config))
    assert a == b and a["interactions"] == frame.height and a["users"] == 40
    moved = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.col("item") + 1).otherwise(pl.col("item")).alias("item")
    )
    c = data_fingerprint(prepare(Experiment(config, hook_returning(moved, [])).raw, config))
    assert c["sha256"] != a["sha256"]
    renamed = frame.with_columns(pl.col("user").cast(pl.String) + "x")
    d = data_fingerprint(prepare(Experiment(config, hook_returning(renamed, [])).raw, config))
    assert d["sha256"] != a["sha256"] and d["interactions"] == a["interactions"]


def test_a_list_feature_column_from_parquet_gets_a_fingerprint(tmp_path):
    """A multi-valued feature given as a Parquet list column (the documented way) is hashed like
    any other column: the run's identity never fails after training."""
    frame = small_frame()
    frame.write_csv(tmp_path / "interactions.csv")

    def fingerprint(genres: list) -> dict:
        items = pl.DataFrame({"item": list(range(len(genres))), "genres": genres})
        items.write_parquet(tmp_path / "items.parquet")
        config = Config(
            raw_data_fpath=str(tmp_path / "interactions.csv"),
            timestamp_column="timestamp",
            item_features_fpath=str(tmp_path / "items.parquet"),
            item_features_id_column="item",
            feature_types={"genres": "multi_categorical"},
            min_interactions_per_item=1,
        )
        return data_fingerprint(Experiment(config).prepared)

    n_items = int(frame["item"].max()) + 1
    genres = [["action", "rpg"] if i % 2 else ["puzzle"] for i in range(n_items)]
    first = fingerprint(genres)
    assert first == fingerprint(genres) and len(first["sha256"]) == 32
    assert fingerprint([*genres[:-1], ["action"]])["sha256"] != first["sha256"]
