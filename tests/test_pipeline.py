"""Actions on one experiment: the production run takes a validation result only from the same
data and model settings, and says why otherwise; stage headers; one error class per kind."""

import json
from pathlib import Path

import polars as pl
import pytest
from test_experiment import hook_returning, small_frame

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.errors import ConfigError, UsageError
from recsys.pipeline import production_epochs, run_action, run_actions, validation_epochs
from recsys.serve.recommender import Recommender

SMALL = dict(
    min_interactions_per_item=1,
    embedding_dim=8,
    max_epochs=3,
    early_stopping_patience=2,
    batch_size=64,
    metrics_k=[10],
    monitor_metric="Recall@10",
)


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = Config(
        output_dir=str(out / "artifacts"),
        figures_dir=str(out / "figures"),
        report_fpath=str(out / "report.html"),
        **SMALL,
    )
    experiment = Experiment(config, hook_returning(small_frame(), []))
    run_actions(["train_validation_model"], experiment)
    return config


def test_production_uses_the_best_epoch_of_a_matching_validation_run(validated, capsys):
    experiment = Experiment(
        validated.replace(top_n=5), hook_returning(small_frame(), [])
    )  # output-only change
    saved = json.loads((Path(validated.output_dir) / "validation_model" / "metrics.json").read_text())
    assert production_epochs(experiment) == saved["best_epoch"]
    assert "same data and settings" in capsys.readouterr().out


def test_validation_run_on_other_data_is_not_used(validated, capsys):
    experiment = Experiment(validated, hook_returning(small_frame(seed=1), []))
    epochs, reason = validation_epochs(experiment)
    assert epochs is None and "other data" in reason
    assert production_epochs(experiment) == validated.max_epochs
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "other data" in err and "max_epochs=3" in err


def test_validation_run_with_other_settings_is_not_used_and_the_change_is_named(validated):
    experiment = Experiment(validated.replace(embedding_dim=16), hook_returning(small_frame(), []))
    epochs, reason = validation_epochs(experiment)
    assert epochs is None and "embedding_dim 8 -> 16" in reason


def test_missing_validation_run_falls_back(tmp_path):
    experiment = Experiment(Config(output_dir=str(tmp_path), **SMALL), hook_returning(small_frame(), []))
    epochs, reason = validation_epochs(experiment)
    assert epochs is None and "no readable validation run" in reason


def test_stage_headers_and_unknown_action(tmp_path, capsys):
    config = Config(
        output_dir=str(tmp_path / "a"),
        figures_dir=str(tmp_path / "f"),
        report_fpath=str(tmp_path / "report.html"),
        **SMALL,
    )
    run_actions(["exploratory_data_analysis"], Experiment(config, hook_returning(small_frame(), [])))
    assert "[1/1] exploratory_data_analysis" in capsys.readouterr().out
    with pytest.raises(UsageError, match="unknown action 'fly'"):
        run_action("fly", Experiment(config))


def test_a_validation_run_builds_each_user_item_matrix_once(tmp_path, monkeypatch):
    from recsys.data.interactions import Interactions

    built = []
    original = Interactions.user_item_matrix

    def counting(self, *args, **kwargs):
        built.append(len(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Interactions, "user_item_matrix", counting)
    config = Config(
        output_dir=str(tmp_path / "a"),
        figures_dir=str(tmp_path / "f"),
        report_fpath=str(tmp_path / "report.html"),
        **SMALL,
    )
    experiment = Experiment(config, hook_returning(small_frame(), []))
    run_actions(["train_validation_model"], experiment)
    assert sorted(built) == sorted([len(experiment.split.train), len(experiment.split.validation)])


def test_compare_and_tune_do_not_import_the_pipeline():
    import subprocess
    import sys

    code = "import sys, recsys.eval.compare, recsys.eval.tuning; print('recsys.pipeline' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "False", completed.stderr[-2000:]


def test_a_diverging_run_stops_with_exit_1_and_keeps_the_good_bundle(validated, capsys):
    from recsys.cli import main

    bundle = Path(validated.output_dir) / "validation_model"
    before = {f.name: f.read_bytes() for f in bundle.iterdir() if f.is_file()}
    diverging = ["loss=mse", "normalize_embeddings=false", "learning_rate=1e9", "max_epochs=2"]
    settings = [f"output_dir={validated.output_dir}", f"figures_dir={validated.figures_dir}", *diverging]
    settings.append(f"report_fpath={validated.report_fpath}")
    settings += [f"{k}={v}" for k, v in SMALL.items() if k not in ("max_epochs",)]
    data = Path(validated.output_dir).parent / "interactions.csv"
    small_frame().write_csv(data)
    settings += [f"raw_data_fpath={data}", "timestamp_column=timestamp"]
    args = ["--data", "none.py", *sum((["--set", s.replace(" ", "")] for s in settings), []), "validate"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: training diverged") and "learning_rate" in err
    assert {f.name: f.read_bytes() for f in bundle.iterdir() if f.is_file()} == before


@pytest.mark.parametrize("setting", ["figures_dir", "output_dir", "recommendations_fpath"])
def test_unwritable_outputs_are_refused_before_any_work(tmp_path, setting):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    target = blocker / "x" if setting != "recommendations_fpath" else tmp_path
    calls: list = []
    config = Config(
        **{
            "output_dir": str(tmp_path / "a"),
            "figures_dir": str(tmp_path / "f"),
            "report_fpath": str(tmp_path / "report.html"),
            **SMALL,
            setting: str(target),
        }
    )
    actions = ["exploratory_data_analysis", "train_validation_model", "compute_predictions"]
    with pytest.raises(ConfigError, match=f"config '{setting}' is"):
        run_actions(actions, Experiment(config, hook_returning(small_frame(), calls)))
    assert calls == []  # refused before the data were even read


def test_a_user_outside_the_model_gets_no_disliked_item_back(tmp_path):
    """Users the minimum-count filter removed are served by fold-in from their raw interactions:
    their dislikes (negative scores) are not folded in as likes, and never come back."""
    frame = small_frame().with_columns(pl.lit(4.0).alias("score"))
    n_items = int(frame["item"].max()) + 1
    late = pl.DataFrame(  # user 999: 2 likes and 2 dislikes, under min_interactions_per_user=5
        {"user": [999] * 4, "item": [0, 1, 2, 3], "timestamp": [0.5] * 4, "score": [5.0, 5.0, -1.0, -2.0]}
    )
    config = Config(
        output_dir=str(tmp_path / "artifacts"),
        figures_dir=str(tmp_path / "figures"),
        report_fpath=str(tmp_path / "report.html"),
        recommendations_fpath=str(tmp_path / "recommendations.json"),
        top_n=n_items,  # every item that may be recommended
        production_epochs=1,
        **SMALL,
    )
    frame = pl.concat([frame, late.select(frame.columns)])
    run_actions(
        ["train_production_model", "compute_predictions"], Experiment(config, hook_returning(frame, []))
    )
    lists = json.loads((tmp_path / "recommendations.json").read_text())
    items = [item for item, _ in lists["999"]]
    assert items and not {0, 1, 2, 3} & set(items)  # likes: the history; dislikes: never back
    assert len(items) == n_items - 4
    model = Recommender.load(tmp_path / "artifacts" / "production_model")
    likes_only = model.recommend_from_history([0, 1], n=n_items).items[0]
    assert items == [item for item in likes_only if item not in (2, 3)]  # folded in from the likes
