"""`compare` and `tune` on one experiment: the data are read once, the table, chart and tuned
config file are written, and what they hold is consistent with the models they report."""

import polars as pl
import pytest
from test_experiment import hook_returning, small_frame
from test_pipeline import SMALL

from recsys.config import Config
from recsys.config_loading import load_config
from recsys.data.experiment import Experiment


def test_compare_writes_a_row_per_model_from_one_read_of_the_data(tmp_path, capsys):
    from recsys.pipeline import compare_models

    calls: list = []
    config = Config(output_dir=str(tmp_path / "a"), figures_dir=str(tmp_path / "f"), **SMALL)
    rows = compare_models(Experiment(config, hook_returning(small_frame(), calls)))
    assert calls == [1]
    out = capsys.readouterr().out  # progress: each tuned peer's time, each two-tower epoch's line
    assert "  EASE tuned in " in out and "  epoch 1/" in out
    # the demo frame has timestamps, so recency-weighted EASE is among the peers
    assert [row["model"] for row in rows] == [
        "most popular",
        "EASE",
        "EASE, recency-weighted",
        "iALS",
        "two-tower",
    ]
    recency = rows[2]["settings"]
    assert recency.startswith("l2=") and ", s=" in recency, recency
    table = pl.read_csv(tmp_path / "a" / "comparison.csv")
    assert table["model"].to_list() == [row["model"] for row in rows]
    assert table["Recall@20"].to_list() == [row["Recall@20"] for row in rows]
    assert all(0 <= value <= 1 for value in table["NDCG@10"].to_list())
    assert (tmp_path / "a" / "comparison.md").read_text().count("\n| ") == len(rows)
    assert (tmp_path / "f" / "model_comparison.png").stat().st_size > 5000
    # The two-tower row: its difference to the best baseline by NDCG@20, with a paired interval.
    from recsys.eval.compare import VERSUS
    from recsys.eval.intervals import paired_bootstrap

    best = max(rows[:-1], key=lambda row: row["NDCG@20"])
    tower = rows[-1]
    assert tower["reference"] == best["model"]
    for metric in ("Recall@20", "NDCG@20"):
        expected = paired_bootstrap(tower["per_user"][metric], best["per_user"][metric], seed=config.seed)
        assert tower["intervals"][metric] == expected
        assert expected.change == pytest.approx(100 * (tower[metric] / best[metric] - 1))
        assert table[f"{metric} vs best %"].to_list()[:-1] == [None] * (len(rows) - 1)
        low, change, high = (table[f"{metric} vs best{part} %"][-1] for part in (" low", "", " high"))
        assert low <= change <= high and (low, change, high) == (expected.low, expected.change, expected.high)
    assert table[VERSUS].to_list()[:-1] == [None] * (len(rows) - 1)
    assert table[VERSUS][-1].startswith(f"{best['model']}: R@20 {tower['intervals']['Recall@20']}, N@20 ")
    assert table[VERSUS][-1] in (tmp_path / "a" / "comparison.md").read_text()
    assert len(best["per_user"]["NDCG@20"]) == len(tower["per_user"]["NDCG@20"]) == tower["users"]


def test_tune_writes_a_loadable_config_with_the_best_trial(tmp_path, capsys):
    from recsys.eval.tuning import tune

    config = Config(output_dir=str(tmp_path / "a"), figures_dir=str(tmp_path / "f"), **SMALL)
    output = tmp_path / "config_tuned.py"
    experiment = Experiment(config, hook_returning(small_frame(), []))
    best, leaderboard = tune(experiment, trials=2, output=str(output))
    assert leaderboard[0].value == max(trial.value for trial in leaderboard)
    tuned = load_config(output)
    assert tuned == best and tuned.embedding_dim == leaderboard[0].params["embedding_dim"]
    assert "# tuned" in output.read_text()
    out = capsys.readouterr().out  # each trial is numbered and says how much of the search is left
    assert "Trial 1/2: " in out and "Trial 2/2: " in out and "1 trial left, ~" in out


def test_recency_weighted_ease_is_offered_only_with_timestamps(monkeypatch):
    import numpy as np

    from recsys.data.interactions import Interactions
    from recsys.eval import tuners
    from recsys.eval.baselines import TuningData
    from recsys.eval.compare import baseline_rows

    # iALS is not what this test is about: one small trial instead of the default grid
    tune_ials = tuners.tune_ials
    one_trial = {"factors": [4], "regularization": [1.0], "alpha": [1.0]}
    monkeypatch.setattr(tuners, "tune_ials", lambda *a, **k: tune_ials(*a, grid=one_trial, **k))

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(30), 6).astype(np.int32)
    items = np.concatenate([rng.choice(20, 6, replace=False) for _ in range(30)]).astype(np.int32)
    is_validation = np.tile(np.arange(6) >= 5, 30)
    timed = Interactions(users, items, 30, 20, timestamps=np.tile(np.arange(6.0), 30))
    train, validation = timed.subset(~is_validation), timed.subset(is_validation)
    untimed = Interactions(train.users, train.items, 30, 20)
    matrices = (train.user_item_matrix(), validation.user_item_matrix())
    names = lambda rows: [row["model"] for row in rows]  # noqa: E731
    assert "EASE, recency-weighted" in names(baseline_rows(TuningData(*matrices, [10], 0, train)))
    assert "EASE, recency-weighted" not in names(baseline_rows(TuningData(*matrices, [10], 0, untimed)))
    assert "EASE, recency-weighted" not in names(baseline_rows(TuningData(*matrices, [10], 0)))
