"""Side-by-side comparison on the validation split: the two-tower model (with and without features)
against most-popular, EASE, iALS and (when the training interactions have timestamps)
recency-weighted EASE, all ranked and scored by the same evaluation code.

The two-tower model stops early on the validation split and the baselines choose their
hyper-parameters on it, so every row has had the same chance to fit the split. The table is
printed and saved as CSV and Markdown; the compare_models action draws it as a bar chart
(`recsys.report.figures.comparison_figure`).
"""

from __future__ import annotations

import functools
import time

import polars as pl

from recsys.data.experiment import Experiment
from recsys.errors import RecsysError
from recsys.eval.baselines import TUNED_BASELINES, TuningData
from recsys.eval.evaluation import evaluate
from recsys.eval.popular import MostPopular
from recsys.eval.validation import fit_on_split
from recsys.files import atomic_path, atomic_write_text
from recsys.layout import RunLayout
from recsys.log import say

__all__ = ["TABLE_METRICS", "baseline_rows", "compare_models", "format_markdown", "two_tower_row"]

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


def baseline_rows(data: TuningData) -> list[dict]:
    """Most popular, then every baseline of `TUNED_BASELINES` that applies to the data (recency-
    weighted EASE needs the training interactions' timestamps), each tuned on the validation
    matrix; a baseline that cannot run is a row with the reason.

    Args:
        data: The training and validation matrices, the cut-offs, the seed and the training
            interactions.

    Returns:
        One row per model: "model", "seconds", "settings" and its metrics.
    """
    train_matrix, validation_matrix, ks = data.train_matrix, data.validation_matrix, data.ks
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
    for baseline in TUNED_BASELINES:
        if not baseline.applies(data):
            continue
        say(f"Tuning {baseline.name} on the validation split")
        try:
            (model, params, _), seconds = _timed(functools.partial(baseline.tune, data))
        except (RecsysError, ImportError) as exc:
            say(f"  {baseline.name} skipped: {exc}")
            rows.append({"model": baseline.name, "seconds": float("nan"), "settings": f"skipped: {exc}"})
            continue
        rows.append(
            {
                "model": baseline.name,
                "seconds": seconds,
                "settings": _settings(params) + " (tuning time)",
                **evaluate(model.scorer(), train_matrix, validation_matrix, ks),
            }
        )
    return rows


def two_tower_row(name: str, experiment: Experiment, with_features: bool, ks: list[int]) -> dict:
    """Train the two-tower model on the split (with or without the features) and score it at the
    cut-offs `ks` (those of the table, whatever the config's metrics_k)."""
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


def compare_models(experiment: Experiment) -> list[dict]:
    """Train and evaluate every model on the experiment's validation split; print the table and save
    it as CSV and Markdown (`RunLayout.comparison_csv`, `comparison_markdown`).

    Args:
        experiment: The run's data and settings.

    Returns:
        One row per model (see `baseline_rows`; the two-tower rows follow the baselines).
    """
    config, features = experiment.config, experiment.features
    ks = sorted(set(list(config.metrics_k) + [10, 20]))
    data = TuningData(
        experiment.train_matrix, experiment.validation_matrix, ks, config.seed, experiment.split.train
    )
    rows = baseline_rows(data)
    name = "two-tower" + (" (ids + features)" if features.any else "")
    rows.append(two_tower_row(name, experiment, True, ks))
    if features.any:
        rows.append(two_tower_row("two-tower (ids only)", experiment, False, ks))
    markdown = format_markdown(rows)
    say("\n" + markdown)
    layout = RunLayout.of(config)
    csv_path, md_path = layout.comparison_csv, layout.comparison_markdown
    frame = pl.DataFrame(
        [{k: (v if k in ("model", "settings") else float(v)) for k, v in row.items()} for row in rows]
    )
    with atomic_path(csv_path) as tmp:
        frame.select(
            ["model", *[m for m in TABLE_METRICS if m in frame.columns], "seconds", "settings"]
        ).write_csv(tmp)
    atomic_write_text(md_path, markdown + "\n")
    say(f"Wrote {csv_path} and {md_path}.")
    return rows
