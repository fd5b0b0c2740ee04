"""The actions of a run, shared by `main.py` and the `recsys` command:

    exploratory_data_analysis  summary and figures of the interaction data
    train_validation_model     train on the training split, rank-evaluate on the validation split
    train_production_model     train on all data for the epochs the validation run found best
    compute_predictions        top-N unseen items for every user -> recommendations file
    similar_items              nearest items of every item -> similar items file
    compare_models             two-tower vs most-popular, EASE and iALS on the validation split

Each action prints what it read, what it wrote and where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from recsys.config import Config
from recsys.errors import DataError
from recsys.interactions import Interactions
from recsys.loading import RawData, load_from_files, load_from_hook
from recsys.log import plural, say
from recsys.preparation import PreparedData, prepare

RawDataHook = Callable[[], object]

VALIDATION_BUNDLE = "validation_model"
PRODUCTION_BUNDLE = "production_model"


@dataclass
class EncodedFeatures:
    user_matrix: np.ndarray | None
    item_matrix: np.ndarray | None
    user_encoder: object | None
    item_encoder: object | None


def load_raw_data(config: Config, hook: RawDataHook | None = None) -> RawData:
    """The configured file, else the hook's data (the template's `get_raw_data()`), else the demo."""
    if config.raw_data_fpath:
        say(f"Reading interactions from {config.raw_data_fpath}")
        return load_from_files(config)
    if hook is not None:
        result = hook()
        if result is not None:
            say("Reading interactions from get_raw_data() in data.py")
            return load_from_hook(result)
    from recsys.demo_data import generate_demo

    say(f"No raw_data_fpath configured: using the built-in demo dataset ({config.demo_num_users:,} players).")
    return generate_demo(num_users=config.demo_num_users, seed=0)  # the same data whatever the training seed


def load_and_prepare(config: Config, hook: RawDataHook | None = None) -> tuple[RawData, PreparedData]:
    raw = load_raw_data(config, hook)
    return raw, prepare(raw, config)


def encode_features(prepared: PreparedData, config: Config) -> EncodedFeatures:
    """Fit the feature encoders on the aligned feature tables (features are inputs, not labels)."""
    if prepared.user_features is None and prepared.item_features is None:
        return EncodedFeatures(None, None, None, None)
    from recsys.features import encode_tables

    return EncodedFeatures(*encode_tables(prepared.user_features, prepared.item_features, config))


def _bundle_path(config: Config, name: str) -> Path:
    return Path(config.output_dir) / name


def most_popular_metrics(train: Interactions, validation: Interactions, ks: list[int]) -> dict:
    from recsys.baselines import MostPopular
    from recsys.evaluation import evaluate

    train_matrix = train.user_item_matrix()
    return evaluate(MostPopular().fit(train_matrix).scorer(), train_matrix, validation.user_item_matrix(), ks)


def print_comparison(model_metrics: dict, baseline: dict, ks: list[int]) -> None:
    """A small table: the model beside the most-popular baseline, so a failure to learn is obvious."""
    names = [f"{m}@{k}" for k in ks for m in ("Recall", "NDCG", "HitRate", "Precision", "MAP")] + ["MRR"] + [f"Coverage@{k}" for k in ks]
    say(f"  {'metric':<14}{'two-tower':>12}{'most-popular':>14}")
    for name in names:
        if name in model_metrics and name in baseline:
            say(f"  {name:<14}{model_metrics[name]:>12.4f}{baseline[name]:>14.4f}")
    say(f"  (averaged over {plural(int(baseline.get('users', 0)), 'validation user')})")


def exploratory_data_analysis(config: Config, hook: RawDataHook | None = None) -> dict:
    from recsys.eda import run_eda

    raw, prepared = load_and_prepare(config, hook)
    say(f"Exploratory data analysis -> figures in {config.figures_dir}/")
    return run_eda(raw, config.figures_dir, prepared=prepared)


def train_validation_model(config: Config, hook: RawDataHook | None = None):
    """Train on the training split; per-epoch ranking metrics on validation beside most-popular."""
    from recsys.bundle import ModelBundle
    from recsys.figures import plot_history
    from recsys.splitting import split_interactions
    from recsys.training import build_model, fit

    _, prepared = load_and_prepare(config, hook)
    split = split_interactions(prepared.interactions, config)
    features = encode_features(prepared, config)
    baseline = most_popular_metrics(split.train, split.validation, config.metrics_k)
    say("Most-popular baseline on the same split: " + ", ".join(
        f"{n} {baseline[n]:.4f}" for n in (f"Recall@{k}" for k in config.metrics_k)))
    model = build_model(config, prepared.n_users, prepared.n_items, features.user_matrix, features.item_matrix, split.train)
    bundle_path = _bundle_path(config, VALIDATION_BUNDLE)
    say(f"Training the validation model (up to {config.max_epochs} epochs, early stopping on {config.monitor_metric}).")
    result = fit(model, split.train, config, validation=split.validation,
                 checkpoint_path=Path(config.output_dir) / "checkpoints" / "validation.weights.h5", baseline=baseline)
    say(f"Best epoch {result.best_epoch} ({config.monitor_metric} {result.best_metrics.get(config.monitor_metric, float('nan')):.4f}); "
        f"trained in {result.seconds:.1f} s. Validation metrics (best epoch's weights restored):")
    print_comparison(result.best_metrics, baseline, config.metrics_k)
    metrics = {"validation": result.best_metrics, "most_popular": baseline, "best_epoch": result.best_epoch,
               "epochs_run": len(result.history.get("loss", [])), "training_seconds": result.seconds,
               "split": split.description, "data": prepared.report}
    ModelBundle(model, config, prepared.user_vocab, prepared.item_vocab, split.train.user_item_matrix(),
                features.user_encoder, features.item_encoder, metrics, result.history).save(bundle_path)
    figure = plot_history(result.history, Path(config.figures_dir) / "validation_history.png", config.monitor_metric)
    say(f"Wrote the validation model bundle to {bundle_path}/ and the training curves to {figure}.")
    return result, metrics


def production_epochs(config: Config) -> int:
    """Configured production epochs, else the validation run's best epoch, else max_epochs."""
    if config.production_epochs:
        return config.production_epochs
    metrics_path = _bundle_path(config, VALIDATION_BUNDLE) / "metrics.json"
    if metrics_path.exists():
        best = json.loads(metrics_path.read_text()).get("best_epoch")
        if best:
            say(f"Using the validation run's best epoch count: {best} (from {metrics_path}).")
            return int(best)
    say(f"No validation run found at {metrics_path}: training for max_epochs={config.max_epochs}.")
    return config.max_epochs


def train_production_model(config: Config, hook: RawDataHook | None = None):
    """Train on every interaction for the chosen number of epochs and save the production bundle."""
    from recsys.bundle import ModelBundle
    from recsys.figures import plot_history
    from recsys.training import build_model, fit

    _, prepared = load_and_prepare(config, hook)
    features = encode_features(prepared, config)
    epochs = production_epochs(config)
    model = build_model(config, prepared.n_users, prepared.n_items, features.user_matrix, features.item_matrix, prepared.interactions)
    say(f"Training the production model on all {plural(len(prepared.interactions), 'interaction')} for {epochs} epochs.")
    result = fit(model, prepared.interactions, config, epochs=epochs)
    bundle_path = _bundle_path(config, PRODUCTION_BUNDLE)
    metrics = {"epochs": epochs, "training_seconds": result.seconds, "final_loss": result.history.get("loss", [None])[-1],
               "data": prepared.report}
    ModelBundle(model, config, prepared.user_vocab, prepared.item_vocab, prepared.interactions.user_item_matrix(),
                features.user_encoder, features.item_encoder, metrics, result.history).save(bundle_path)
    figure = plot_history(result.history, Path(config.figures_dir) / "production_history.png", None)
    say(f"Wrote the production model bundle to {bundle_path}/ and its loss curve to {figure}.")
    return result, metrics


def _load_production(config: Config):
    from recsys.bundle import load_bundle

    path = _bundle_path(config, PRODUCTION_BUNDLE)
    say(f"Loading the production model from {path}/")
    return load_bundle(path)


def compute_predictions(config: Config, hook: RawDataHook | None = None) -> dict:
    """Top-N unseen items for every user of the production model, written to the recommendations file."""
    from recsys.model import compute_embeddings
    from recsys.recommend import write_recommendations
    from recsys.topn import top_k_unseen

    bundle = _load_production(config)
    users = compute_embeddings(bundle.model, "user")
    items = compute_embeddings(bundle.model, "item")
    top_items, top_scores = top_k_unseen(users, items, config.top_n, seen=bundle.seen)
    summary = write_recommendations(config.recommendations_fpath, bundle.user_vocab.ids, top_items, top_scores,
                                    bundle.item_vocab, fmt=config.recommendations_format)
    say(f"Wrote top-{config.top_n} recommendations for {plural(summary['users'], 'user')} to {config.recommendations_fpath}"
        + (f" ({plural(summary['users_with_empty_lists'], 'user')} had nothing left to recommend)." if summary.get('users_with_empty_lists') else "."))
    return summary


def similar_items(config: Config, hook: RawDataHook | None = None) -> dict:
    """The most similar items of every item (cosine of item embeddings), written as JSON."""
    from recsys.model import compute_embeddings
    from recsys.recommend import similar_items as nearest_items, write_similar_items

    bundle = _load_production(config)
    items = compute_embeddings(bundle.model, "item")
    top_items, top_scores = nearest_items(items, config.similar_items_n)
    write_similar_items(config.similar_items_fpath, bundle.item_vocab, top_items, top_scores)
    say(f"Wrote the {config.similar_items_n} most similar items of {plural(len(bundle.item_vocab), 'item')} to {config.similar_items_fpath}.")
    return {"items": len(bundle.item_vocab), "path": config.similar_items_fpath}


def compare_models(config: Config, hook: RawDataHook | None = None) -> list[dict]:
    from recsys.compare import compare_models as compare

    return compare(config, hook)


ACTIONS = {
    "exploratory_data_analysis": exploratory_data_analysis,
    "train_validation_model": train_validation_model,
    "train_production_model": train_production_model,
    "compute_predictions": compute_predictions,
    "similar_items": similar_items,
    "compare_models": compare_models,
}
DEFAULT_SEQUENCE = ["exploratory_data_analysis", "train_validation_model", "train_production_model", "compute_predictions"]


def run_action(name: str, config: Config, hook: RawDataHook | None = None):
    if name not in ACTIONS:
        raise DataError(f"unknown action {name!r}; valid actions: {', '.join(ACTIONS)}.")
    return ACTIONS[name](config, hook)
