"""Side-by-side comparison on the validation split: the two-tower model (with and without features)
against most-popular, EASE, iALS and (when the training interactions have timestamps)
recency-weighted EASE, all ranked and scored by the same evaluation code.

The two-tower model stops early on the validation split and the baselines choose their
hyper-parameters on it, so every row has had the same chance to fit the split. The table is
printed and saved as CSV and Markdown, with a bar chart in the figures folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from recsys.errors import RecsysError
from recsys.evaluation import evaluate
from recsys.experiment import Experiment
from recsys.interactions import Interactions
from recsys.io_utils import atomic_path, atomic_write_text
from recsys.log import say

TABLE_METRICS = ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _settings(params) -> str:
    """'l2=300' for EASE's l2, 'l2=300, s=2' for recency-weighted EASE, 'factors=128, ...' for iALS."""
    if not isinstance(params, dict):
        return f"l2={params:g}"
    shown = {("s" if key == "strength" else key): value for key, value in params.items()}
    return ", ".join(f"{key}={value:g}" for key, value in shown.items())


def baseline_rows(
    train_matrix, validation_matrix, ks: list[int], seed: int, train_interactions: Interactions | None = None
) -> list[dict]:
    """Most popular, tuned EASE, tuned recency-weighted EASE (only when `train_interactions`, the
    interactions behind `train_matrix`, have timestamps) and tuned iALS; a baseline that cannot run
    is a row with a reason."""
    from recsys.baselines import MostPopular, tune_ease, tune_ials, tune_recency_ease

    rows = []
    popular, seconds = _timed(lambda: MostPopular().fit(train_matrix))
    rows.append(
        {
            "model": "most popular",
            "seconds": seconds,
            "settings": "",
            **evaluate(popular.scorer(), train_matrix, validation_matrix, ks),
        }
    )
    # (name, tuning call returning (fitted model, chosen settings, trial table))
    tuners: list[tuple[str, Callable[[], tuple[Any, Any, list[dict]]]]] = [
        ("EASE", lambda: tune_ease(train_matrix, validation_matrix, ks))
    ]
    if train_interactions is not None and train_interactions.timestamps is not None:
        tuners.append(
            (
                "EASE, recency-weighted",
                lambda: tune_recency_ease(train_interactions, validation_matrix, ks),
            )
        )
    tuners.append(("iALS", lambda: tune_ials(train_matrix, validation_matrix, ks, seed=seed)))
    for name, tune in tuners:
        say(f"Tuning {name} on the validation split")
        try:
            (model, params, _), seconds = _timed(tune)
        except (RecsysError, ImportError) as exc:
            say(f"  {name} skipped: {exc}")
            rows.append({"model": name, "seconds": float("nan"), "settings": f"skipped: {exc}"})
            continue
        rows.append(
            {
                "model": name,
                "seconds": seconds,
                "settings": _settings(params) + " (tuning time)",
                **evaluate(model.scorer(), train_matrix, validation_matrix, ks),
            }
        )
    return rows


def two_tower_row(name: str, experiment: Experiment, with_features: bool, ks: list[int]) -> dict:
    """Train the two-tower model on the split (with or without the features) and score it at the
    cut-offs `ks` (those of the table, whatever the config's metrics_k)."""
    from recsys.training import fit_on_split

    say(f"Training the {name} on the validation split")
    config = experiment.config.replace(metrics_k=ks)
    result = fit_on_split(experiment, config, with_features=with_features, log_epochs=False)
    return {
        "model": name,
        "seconds": result.seconds,
        "settings": f"best epoch {result.best_epoch}",
        **result.best_metrics,
    }


def format_markdown(rows: list[dict]) -> str:
    header = "| model | " + " | ".join(TABLE_METRICS) + " | training s | settings |"
    lines = [header, "|" + "---|" * (len(TABLE_METRICS) + 3)]
    for row in rows:
        values = " | ".join(f"{row[m]:.4f}" if m in row else "–" for m in TABLE_METRICS)
        lines.append(f"| {row['model']} | {values} | {row['seconds']:.1f} | {row['settings']} |")
    return "\n".join(lines)


def plot_comparison(rows: list[dict], path: Path) -> Path:
    """Bar chart of Recall@20 and NDCG@20 per model: horizontal bars, so long model names never overlap."""
    from recsys.figures import comparison_figure, save_figure

    return save_figure(comparison_figure(rows, ("Recall@20", "NDCG@20")), path)


def compare_models(experiment: Experiment) -> list[dict]:
    """Train and evaluate every model on the experiment's validation split; print and save the table."""
    config, features = experiment.config, experiment.features
    ks = sorted(set(list(config.metrics_k) + [10, 20]))
    rows = baseline_rows(
        experiment.train_matrix, experiment.validation_matrix, ks, config.seed, experiment.split.train
    )
    name = "two-tower" + (" (ids + features)" if features.any else "")
    rows.append(two_tower_row(name, experiment, True, ks))
    if features.any:
        rows.append(two_tower_row("two-tower (ids only)", experiment, False, ks))
    markdown = format_markdown(rows)
    say("\n" + markdown)
    out = Path(config.output_dir)
    csv_path, md_path = out / "comparison.csv", out / "comparison.md"
    frame = pl.DataFrame(
        [{k: (v if k in ("model", "settings") else float(v)) for k, v in row.items()} for row in rows]
    )
    with atomic_path(csv_path) as tmp:
        frame.select(
            ["model", *[m for m in TABLE_METRICS if m in frame.columns], "seconds", "settings"]
        ).write_csv(tmp)
    atomic_write_text(md_path, markdown + "\n")
    figure = plot_comparison(rows, Path(config.figures_dir) / "model_comparison.png")
    say(f"Wrote {csv_path}, {md_path} and {figure}.")
    return rows
