"""`compare` and `tune` on one experiment: the data are read once, the table, chart and tuned
config file are written, and what they hold is consistent with the models they report."""

import polars as pl
from test_experiment import hook_returning, small_frame
from test_pipeline import SMALL

from recsys.config import Config, load_config
from recsys.experiment import Experiment


def test_compare_writes_a_row_per_model_from_one_read_of_the_data(tmp_path):
    from recsys.compare import compare_models

    calls: list = []
    config = Config(output_dir=str(tmp_path / "a"), figures_dir=str(tmp_path / "f"), **SMALL)
    rows = compare_models(Experiment(config, hook_returning(small_frame(), calls)))
    assert calls == [1]
    assert [row["model"] for row in rows] == ["most popular", "EASE", "iALS", "two-tower"]
    table = pl.read_csv(tmp_path / "a" / "comparison.csv")
    assert table["model"].to_list() == [row["model"] for row in rows]
    assert table["Recall@20"].to_list() == [row["Recall@20"] for row in rows]
    assert all(0 <= value <= 1 for value in table["NDCG@10"].to_list())
    assert (tmp_path / "a" / "comparison.md").read_text().count("\n| ") == len(rows)
    assert (tmp_path / "f" / "model_comparison.png").stat().st_size > 5000


def test_tune_writes_a_loadable_config_with_the_best_trial(tmp_path):
    from recsys.tuning import tune

    config = Config(output_dir=str(tmp_path / "a"), figures_dir=str(tmp_path / "f"), **SMALL)
    output = tmp_path / "config_tuned.py"
    experiment = Experiment(config, hook_returning(small_frame(), []))
    best, leaderboard = tune(experiment, trials=2, output=str(output))
    assert leaderboard[0].value == max(trial.value for trial in leaderboard)
    tuned = load_config(output)
    assert tuned == best and tuned.embedding_dim == leaderboard[0].params["embedding_dim"]
    assert "# tuned" in output.read_text()
