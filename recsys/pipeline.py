"""The actions of a run, shared by `main.py` and the `recsys` command:

    exploratory_data_analysis  summary and figures of the interaction data
    train_validation_model     train on the training split, rank-evaluate on the validation split
    train_production_model     train on all data for the epochs the validation run found best
    compute_predictions        top-N unseen items for every user -> recommendations file
    similar_items              nearest items of every item -> similar items file
    compare_models             two-tower vs most-popular, EASE and iALS on the validation split

Every action takes the run's `Experiment`, so the data are loaded and prepared once however many
actions run. Each action prints what it read, what it wrote and where; `run_actions` puts a
`[2/4] train_validation_model` header before each, and after the last writes the run's report
(`report_fpath`, see `recsys.report.page`).

Example (a short validation run on a small demo, in a fresh folder):
    >>> import os, tempfile
    >>> from recsys.config import Config
    >>> os.chdir(tempfile.mkdtemp())
    >>> config = Config(demo_num_users=300, max_epochs=2, verbosity=0)
    >>> results = run_actions(["train_validation_model"], Experiment(config))
    >>> sorted(os.listdir("artifacts/validation_model"))[:3]
    ['config.json', 'history.csv', 'item_features.json']
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys.actions import ACTION_NAMES, DEFAULT_SEQUENCE
from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.data.names import check_name_column, display_names
from recsys.data.raw import SCORE, TIMESTAMP
from recsys.errors import ConfigError, UsageError
from recsys.eval.compare import compare_models as compare
from recsys.eval.tuning import tune
from recsys.eval.validation import fit_choosing_tower, most_popular_metrics
from recsys.layout import (
    COMPARISON_FIGURE,
    PRODUCTION_HISTORY_FIGURE,
    VALIDATION_HISTORY_FIGURE,
    BundleFiles,
    RunLayout,
)
from recsys.log import plural, say, warn
from recsys.metric_names import metric_names
from recsys.model.bundle import ModelBundle, load_bundle
from recsys.model.training import TrainingResult, fit_on_all
from recsys.report.eda import run_eda
from recsys.report.figures import comparison_figure, plot_history, save_figure
from recsys.report.page import write_report
from recsys.serve.outputs import write_recommendations, write_similar_items
from recsys.serve.recommender import Recommender
from recsys.serve.server import serve

__all__ = [
    "ACTIONS",
    "DEFAULT_SEQUENCE",
    "Experiment",
    "check_outputs",
    "compare_models",
    "compute_predictions",
    "exploratory_data_analysis",
    "production_config",
    "production_epochs",
    "run_action",
    "run_actions",
    "serve",
    "similar_items",
    "train_production_model",
    "train_validation_model",
    "tune",
    "validation_epochs",
    "validation_run",
]


def print_comparison(model_metrics: dict, baseline: dict, ks: list[int]) -> None:
    """A small table: the model beside the most-popular baseline, so a failure to learn is obvious."""
    names = metric_names(ks)
    say(f"  {'metric':<14}{'two-tower':>12}{'most-popular':>14}")
    for name in names:
        if name in model_metrics and name in baseline:
            say(f"  {name:<14}{model_metrics[name]:>12.4f}{baseline[name]:>14.4f}")
    say(f"  (averaged over {plural(int(baseline.get('users', 0)), 'validation user')})")


def save_bundle(experiment: Experiment, result: TrainingResult, seen: Any, metrics: dict, path: Any) -> None:
    """Save a trained model with this run's vocabularies, encoders, the users x items matrix it
    must not recommend again (`seen`), its metrics and the run's data report and identity."""
    ModelBundle.from_run(experiment, result.model, seen, metrics, result.history).save(path)


def exploratory_data_analysis(experiment: Experiment) -> dict:
    """The summary of the data, printed, and the EDA figures, written (`recsys.report.eda`)."""
    config = experiment.config
    say(f"Exploratory data analysis -> figures in {config.figures_dir}/")
    return run_eda(
        experiment.raw,
        config.figures_dir,
        prepared=experiment.prepared,
        min_per_user=config.min_interactions_per_user,
        min_per_item=config.min_interactions_per_item,
        summary=experiment.summary,
    )


def train_validation_model(experiment: Experiment) -> tuple[Any, dict]:
    """Train on the training split; per-epoch ranking metrics on validation beside most-popular."""
    config, split, layout = experiment.config, experiment.split, RunLayout.of(experiment.config)
    baseline = most_popular_metrics(experiment)
    path = layout.validation_bundle
    say(
        f"Training the validation model (up to {config.max_epochs} epochs, early stopping on "
        f"{config.monitor_metric})."
    )
    result, chosen = fit_choosing_tower(experiment, checkpoint_path=layout.checkpoint, baseline=baseline)
    best_value = result.best_metrics.get(config.monitor_metric, float("nan"))
    say(
        f"Best epoch {result.best_epoch} ({config.monitor_metric} {best_value:.4f}); trained in "
        f"{result.seconds:.1f} s. Validation metrics (best epoch's weights restored):"
    )
    print_comparison(result.best_metrics, baseline, config.metrics_k)
    metrics = {
        "validation": result.best_metrics,
        "most_popular": baseline,
        "best_epoch": result.best_epoch,
        "user_tower": chosen.user_tower,
        "epochs_run": len(result.history.get("loss", [])),
        "training_seconds": result.seconds,
        "split": split.description,
    }
    save_bundle(experiment, result, experiment.train_matrix, metrics, path)
    figure = plot_history(
        result.history,
        layout.figure(VALIDATION_HISTORY_FIGURE),
        config.monitor_metric,
        best_epoch=result.best_epoch,
        baseline=baseline,
    )
    say(f"Wrote the validation model bundle to {path}/ and the training curves to {figure}.")
    return result, metrics


def validation_run(experiment: Experiment) -> tuple[dict | None, str]:
    """The metrics of the saved validation run if it was made on this run's data with this run's
    model settings and records its best epoch, else None; and a sentence saying which, and why."""
    config = experiment.config
    path = RunLayout.of(config).validation_bundle
    try:
        metrics = json.loads((path / BundleFiles.METRICS).read_text())
        saved_settings = json.loads((path / BundleFiles.CONFIG).read_text())
    except (OSError, ValueError):
        return None, f"no readable validation run at {path}/"
    best, identity = metrics.get("best_epoch"), metrics.get("identity") or {}
    if not best:
        return None, f"the validation run at {path}/ records no best epoch"
    if identity.get("data") != experiment.fingerprint:
        saved = identity.get("data") or {}
        counts = ", ".join(f"{saved.get(k, '?')} {k}" for k in ("interactions", "users", "items"))
        now = ", ".join(f"{experiment.fingerprint[k]} {k}" for k in ("interactions", "users", "items"))
        return None, f"the validation run at {path}/ was made on other data ({counts}; now {now})"
    if identity.get("config") != config.fingerprint():
        current = config.model_settings()
        changed = sorted(k for k, v in current.items() if saved_settings.get(k) != v)
        shown = (
            ", ".join(f"{k} {saved_settings.get(k)!r} -> {current[k]!r}" for k in changed[:4]) or "unknown"
        )
        return None, f"the validation run at {path}/ used other settings ({shown})"
    return metrics, f"the validation run at {path}/ (same data and settings)"


def validation_epochs(experiment: Experiment) -> tuple[int | None, str]:
    """The best epoch of the saved validation run if it matches this run (`validation_run`), else
    None; and a sentence saying which, and why."""
    metrics, reason = validation_run(experiment)
    return (None if metrics is None else int(metrics["best_epoch"])), reason


def production_epochs(experiment: Experiment) -> int:
    """Configured production epochs, else a matching validation run's best epoch, else max_epochs."""
    config = experiment.config
    if config.production_epochs:
        say(f"Training for production_epochs={config.production_epochs} (set in the config).")
        return config.production_epochs
    epochs, reason = validation_epochs(experiment)
    if epochs is not None:
        say(f"Using the best epoch of {reason}: {epochs}.")
        return epochs
    warn(
        f"{reason}: training the production model for max_epochs={config.max_epochs}. "
        "Run train_validation_model first (or set production_epochs)."
    )
    return config.max_epochs


def production_config(experiment: Experiment) -> Config:
    """The config the production model is built with: the experiment's, with `user_tower = 'auto'`
    resolved to the tower a matching validation run kept (else the id tower, said so)."""
    config = experiment.config
    if config.user_tower != "auto":
        return config
    metrics, reason = validation_run(experiment)
    tower = (metrics or {}).get("user_tower")
    if tower in ("id", "history"):
        say(f"user_tower 'auto': the {tower} tower, as kept by {reason}.")
        return config.replace(user_tower=tower)
    warn(
        f"user_tower 'auto': {reason} to choose by; the id tower (the default). "
        "Run train_validation_model first."
    )
    return config.replace(user_tower="id")


def train_production_model(experiment: Experiment) -> tuple[Any, dict]:
    """Train on every interaction for the chosen number of epochs and save the production bundle."""
    config, prepared = experiment.config, experiment.prepared
    epochs = production_epochs(experiment)
    say(
        f"Training the production model on all {plural(len(prepared.interactions), 'interaction')} "
        f"for {epochs} epochs."
    )
    result = fit_on_all(experiment, epochs, production_config(experiment))
    layout = RunLayout.of(config)
    path = layout.production_bundle
    metrics = {
        "epochs": epochs,
        "training_seconds": result.seconds,
        "final_loss": result.history.get("loss", [None])[-1],
    }
    save_bundle(experiment, result, experiment.full_matrix, metrics, path)
    figure = plot_history(result.history, layout.figure(PRODUCTION_HISTORY_FIGURE), None)
    say(f"Wrote the production model bundle to {path}/ and its loss curve to {figure}.")
    return result, metrics


def _load_production(config: Config) -> Recommender:
    path = RunLayout.of(config).production_bundle
    say(f"Loading the production model from {path}/")
    return Recommender(load_bundle(path))


def compute_predictions(experiment: Experiment) -> dict:
    """Top-N unseen items for every user of the input data, through the `Recommender`: users the
    production model was trained on by their embeddings; users the minimum-interaction filter
    removed by fold-in from their interactions (or, when none of their items is known, the most
    popular items). The log counts each group; JSON Lines and Parquet carry a `served_by` column."""
    config = experiment.config
    recommender = _load_production(config)
    known_top, known_scores = recommender.rank_users(np.arange(len(recommender.user_vocab)), config.top_n)
    served = np.full(len(known_top), "model", dtype=object)
    other_ids, other_top, other_scores, other_served = _users_outside_the_model(experiment, recommender)
    user_ids = pl.concat([recommender.user_vocab.ids, other_ids.cast(recommender.user_vocab.ids.dtype)])
    summary = write_recommendations(
        config.recommendations_fpath,
        user_ids,
        np.concatenate([known_top, other_top]),
        np.concatenate([known_scores, other_scores]),
        recommender.item_vocab,
        fmt=config.recommendations_format,
        served_by=np.concatenate([served, other_served]),
        item_names=_names(experiment, "item", recommender.item_vocab.ids),
        user_names=_names(experiment, "user", user_ids),
    )
    empty = summary.get("users_with_empty_lists")
    say(
        f"Wrote top-{config.top_n} recommendations for {plural(summary['users'], 'user')} to "
        f"{config.recommendations_fpath}"
        + (f" ({plural(empty, 'user')} had nothing left to recommend)." if empty else ".")
    )
    way = "history" if recommender.reads_history else "fold_in"
    counts = {served_by: int((other_served == served_by).sum()) for served_by in (way, "popular")}
    if len(other_ids):
        how = "the history tower" if recommender.reads_history else "fold-in"
        say(
            f"  {plural(len(known_top), 'user')} served by the model; {plural(len(other_ids), 'user')} "
            f"removed by the minimum-interaction filter served by {how} from their interactions "
            f"({counts[way]:,}) or the most popular items ({counts['popular']:,})."
        )
    return {**summary, "served_by_model": len(known_top), **{f"served_by_{k}": v for k, v in counts.items()}}


def _users_outside_the_model(
    experiment: Experiment, recommender: Recommender
) -> tuple[pl.Series, np.ndarray, np.ndarray, np.ndarray]:
    """The input's users that the model does not know (removed by the filter), with their top-N by
    fold-in from their interactions, or the most popular items when none of their items is known.
    Their dislikes (negative scores) are not folded in as likes, and never recommended back."""
    interactions = experiment.raw.interactions
    vocab = recommender.user_vocab
    outside = interactions.filter(pl.Series(vocab.indices_of(interactions["user"]) < 0))
    n = experiment.config.top_n
    if outside.height == 0:
        empty = np.zeros((0, n))
        return pl.Series("id", [], dtype=vocab.ids.dtype), empty.astype(np.int32), empty, np.zeros(0, object)
    users = outside["user"].unique().sort()
    rows = users.search_sorted(outside["user"]).to_numpy()
    disliked = np.zeros(len(rows), dtype=bool)
    if SCORE in outside.columns:
        disliked = (outside[SCORE] < 0).fill_null(False).to_numpy()
    items = outside["item"]
    liked = pl.Series(~disliked)
    histories, _ = recommender.history_rows(rows[~disliked], items.filter(liked), len(users))
    excluded = None
    if disliked.any():
        excluded, _ = recommender.history_rows(rows[disliked], items.filter(pl.Series(disliked)), len(users))
    windows = None
    if recommender.reads_history:  # the history tower reads the likes in time order
        index = recommender.item_vocab.indices_of(items.filter(liked))
        known = index >= 0
        times = None
        if TIMESTAMP in outside.columns:
            times = outside[TIMESTAMP].filter(liked).to_physical().to_numpy()[known]
        windows = recommender.windows(rows[~disliked][known], index[known], len(users), times)
    top, scores, fallback = recommender.rank_histories(histories, n, exclude=excluded, windows=windows)
    kind = "history" if recommender.reads_history else "fold_in"
    return users, top, scores, np.where(fallback, "popular", kind).astype(object)


def _names(experiment: Experiment, side: str, ids: pl.Series) -> pl.Series | None:
    """The display names (`item_name_column` / `user_name_column`) of `ids`, in their order, or None."""
    column = getattr(experiment.config, f"{side}_name_column")
    if column is None:
        return None
    raw = experiment.raw
    table = getattr(raw, f"{side}_features")
    check_name_column(table, column, getattr(raw, f"{side}_features_source"), side=side)
    return display_names(table, ids, column)


def similar_items(experiment: Experiment) -> dict:
    """The most similar items of every item (cosine of item embeddings), written as JSON."""
    config = experiment.config
    recommender = _load_production(config)
    n_items = len(recommender.item_vocab)
    top_items, top_scores = recommender.rank_similar(np.arange(n_items), config.similar_items_n)
    write_similar_items(
        config.similar_items_fpath,
        recommender.item_vocab,
        top_items,
        top_scores,
        item_names=_names(experiment, "item", recommender.item_vocab.ids),
    )
    say(
        f"Wrote the {config.similar_items_n} most similar items of {plural(n_items, 'item')} "
        f"to {config.similar_items_fpath}."
    )
    return {"items": n_items, "path": config.similar_items_fpath}


def compare_models(experiment: Experiment) -> list[dict]:
    """Every model on the validation split (`recsys.eval.compare`): the table, and its chart."""
    rows = compare(experiment)
    figure = save_figure(comparison_figure(rows), RunLayout.of(experiment.config).figure(COMPARISON_FIGURE))
    say(f"Wrote the chart to {figure}.")
    return rows


Action = Callable[[Experiment], Any]
ACTIONS: dict[str, Action] = {
    "exploratory_data_analysis": exploratory_data_analysis,
    "train_validation_model": train_validation_model,
    "train_production_model": train_production_model,
    "compute_predictions": compute_predictions,
    "similar_items": similar_items,
    "compare_models": compare_models,
}
assert tuple(ACTIONS) == ACTION_NAMES, "recsys.actions names every action of ACTIONS, in order"


def run_action(name: str, experiment: Experiment) -> Any:
    if name not in ACTIONS:
        raise UsageError(f"unknown action {name!r}; valid actions: {', '.join(ACTIONS)}.")
    return ACTIONS[name](experiment)


# Action -> the settings naming where it writes (folders, or files whose folder must be writable).
OUTPUT_SETTINGS = {
    "exploratory_data_analysis": ("figures_dir",),
    "train_validation_model": ("output_dir", "figures_dir"),
    "train_production_model": ("output_dir", "figures_dir"),
    "compute_predictions": ("recommendations_fpath",),
    "similar_items": ("similar_items_fpath",),
    "compare_models": ("output_dir", "figures_dir"),
}
FILE_SETTINGS = ("recommendations_fpath", "similar_items_fpath", "report_fpath")
# Written by every run, whatever its actions (recsys.report.page).
RUN_SETTINGS = ("report_fpath",)


def check_outputs(names: list[str], config: Config) -> None:
    """Before any work, make sure every place the actions write to can be written: a folder setting
    must be (or become) a writable folder, a file setting must not be a folder and its folder must
    be writable. A ConfigError names the setting, so no hour of training ends in a failed write."""
    for setting in sorted({s for name in names for s in OUTPUT_SETTINGS.get(name, ())} | set(RUN_SETTINGS)):
        path = Path(getattr(config, setting))
        if setting in FILE_SETTINGS:
            if path.is_dir():
                raise ConfigError(
                    f"config {setting!r} is {str(path)!r}, which is a folder; expected a file path."
                )
            folder = path.parent
        else:
            folder = path
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(
                f"config {setting!r} is {str(path)!r}, but {str(folder)!r} cannot be written ({reason}); "
                "choose a writable folder."
            ) from None


def run_actions(names: list[str], experiment: Experiment) -> list[Any]:
    """Run actions in order on one experiment, each under a `[i/n] name` header, after checking
    that everything they will write can be written; then write the run's report (recsys.report.page)."""
    check_outputs(names, experiment.config)
    results = []
    for number, name in enumerate(names, 1):
        say(("\n" if number > 1 else "") + f"[{number}/{len(names)}] {name}")
        results.append(run_action(name, experiment))
    path = write_report(experiment.config, experiment, names)
    say(f"\nWrote the report to {path}.")
    return results
