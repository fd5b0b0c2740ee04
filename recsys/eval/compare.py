"""Side-by-side comparison on the validation split: the two-tower model (with and without features)
against most-popular, EASE, iALS and (when the training interactions have timestamps)
recency-weighted EASE, all ranked and scored by the same evaluation code.

The two-tower model stops early on the validation split and the baselines choose their
hyper-parameters on it, so every row has had the same chance to fit the split. Each two-tower row
also carries its difference to the best baseline (by NDCG@20) on Recall@20 and NDCG@20, with a
95 % paired bootstrap interval over the validation users (`recsys.eval.intervals`): a win only
where the whole interval is above zero. The table is printed and saved as CSV and Markdown; the
compare_models action draws it as a bar chart (`recsys.report.figures.comparison_figure`).
"""

from __future__ import annotations

import functools
import time

import polars as pl

from recsys.data.experiment import Experiment
from recsys.errors import RecsysError
from recsys.eval.baselines import TUNED_BASELINES, TuningData
from recsys.eval.evaluation import evaluate_per_user
from recsys.eval.intervals import RelativeDifference, paired_bootstrap
from recsys.eval.popular import MostPopular
from recsys.eval.validation import fit_on_split, model_scorer
from recsys.files import atomic_path, atomic_write_text
from recsys.layout import RunLayout
from recsys.log import duration, say

__all__ = [
    "INTERVAL_METRICS",
    "REFERENCE_METRIC",
    "TABLE_METRICS",
    "VERSUS",
    "add_intervals",
    "baseline_rows",
    "compare_models",
    "format_markdown",
    "interval_columns",
    "two_tower_row",
]

TABLE_METRICS = ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")
INTERVAL_METRICS = ("Recall@20", "NDCG@20")  # the two-tower rows' differences to the best baseline
REFERENCE_METRIC = "NDCG@20"  # which baseline is the best
VERSUS = "vs best baseline (95 % interval)"  # the text column of those differences
SHORT = {"Recall@20": "R@20", "NDCG@20": "N@20"}


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
        One row per model: "model", "seconds", "settings", its metrics, and "per_user": metric name
        -> one value per validation user (for the intervals).
    """
    train_matrix = data.train_matrix
    rows = []
    popular, seconds = _timed(lambda: MostPopular().fit(train_matrix))
    rows.append(
        {"model": "most popular", "seconds": seconds, "settings": "", **_scored(popular.scorer(), data)}
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
        say(f"  {baseline.name} tuned in {duration(seconds)} ({_settings(params)}).")
        rows.append(
            {
                "model": baseline.name,
                "seconds": seconds,
                "settings": _settings(params) + " (tuning time)",
                **_scored(model.scorer(), data),
            }
        )
    return rows


def _scored(scorer, data: TuningData) -> dict:
    """A row's metrics on the validation matrix, and their per-user values under "per_user"."""
    means, per_user = evaluate_per_user(scorer, data.train_matrix, data.validation_matrix, data.ks)
    return {**means, "per_user": per_user}


def two_tower_row(name: str, experiment: Experiment, with_features: bool, ks: list[int]) -> dict:
    """Train the two-tower model on the split (with or without the features) and score it at the
    cut-offs `ks` (those of the table, whatever the config's metrics_k).

    Args:
        name: The row's name.
        experiment: The run's data and settings.
        with_features: False trains on ids only.
        ks: The cut-offs of the table.

    Returns:
        The row (as `baseline_rows`' rows): the best epoch's model scored on the validation split.
    """
    say(f"Training the {name} on the validation split (one line per epoch, with the time left)")
    config = experiment.config.replace(metrics_k=ks)
    result = fit_on_split(experiment, config, with_features=with_features)
    scorer = model_scorer(result.model, experiment.train_matrix, config.popularity_bias)
    data = TuningData(
        experiment.train_matrix, experiment.validation_matrix, ks, config.seed, experiment.split.train
    )
    return {
        "model": name,
        "seconds": result.seconds,
        "settings": f"best epoch {result.best_epoch}",
        **_scored(scorer, data),
    }


def add_intervals(rows: list[dict], candidates: list[dict], seed: int) -> dict | None:
    """Give each candidate row its difference to the best baseline row, with a 95 % paired
    bootstrap interval over the validation users, on `INTERVAL_METRICS`.

    Args:
        rows: The baseline rows (those without results are passed over).
        candidates: The rows to measure (each gains "intervals": metric -> `RelativeDifference`,
            "reference": the baseline's name, and the text column `VERSUS`).
        seed: Seeds the resampling.

    Returns:
        The best baseline row (by `REFERENCE_METRIC`), or None when no baseline has results.
    """
    scored = [row for row in rows if REFERENCE_METRIC in row and "per_user" in row]
    if not scored:
        return None
    best = max(scored, key=lambda row: row[REFERENCE_METRIC])
    for row in candidates:
        intervals = {
            metric: paired_bootstrap(row["per_user"][metric], best["per_user"][metric], seed=seed)
            for metric in INTERVAL_METRICS
        }
        row.update(
            intervals=intervals, reference=best["model"], **{VERSUS: _versus_text(best["model"], intervals)}
        )
    return best


def _versus_text(reference: str, intervals: dict[str, RelativeDifference]) -> str:
    """'EASE: R@20 +1.5 % [-0.3, +3.2], N@20 +0.8 % [-1.0, +2.5] (within noise)'."""
    verdicts = {difference.verdict for difference in intervals.values()}
    verdict = verdicts.pop() if len(verdicts) == 1 else "mixed"
    shown = ", ".join(f"{SHORT.get(metric, metric)} {difference}" for metric, difference in intervals.items())
    return f"{reference}: {shown} ({verdict})"


def interval_columns(row: dict) -> dict:
    """The CSV's numeric interval columns of a row (empty for rows without intervals): per metric,
    "<metric> vs best %", "... low %" and "... high %"."""
    columns: dict = {}
    for metric, difference in row.get("intervals", {}).items():
        columns[f"{metric} vs best %"] = difference.change
        columns[f"{metric} vs best low %"] = difference.low
        columns[f"{metric} vs best high %"] = difference.high
    return columns


def format_markdown(rows: list[dict]) -> str:
    """The comparison table in Markdown: one row per model, the interval column last.

    Args:
        rows: The table's rows (as `compare_models` returns them).

    Returns:
        The table's text.
    """
    header = "| model | " + " | ".join(TABLE_METRICS) + f" | training s | settings | {VERSUS} |"
    lines = [header, "|" + "---|" * (len(TABLE_METRICS) + 4)]
    for row in rows:
        values = " | ".join(f"{row[m]:.4f}" if m in row else "–" for m in TABLE_METRICS)
        versus = row.get(VERSUS, "")
        lines.append(f"| {row['model']} | {values} | {row['seconds']:.1f} | {row['settings']} | {versus} |")
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
    baselines = baseline_rows(data)
    name = "two-tower" + (" (ids + features)" if features.any else "")
    towers = [two_tower_row(name, experiment, True, ks)]
    if features.any:
        towers.append(two_tower_row("two-tower (ids only)", experiment, False, ks))
    add_intervals(baselines, towers, config.seed)
    rows = baselines + towers
    markdown = format_markdown(rows)
    say("\n" + markdown)
    say(
        f"{VERSUS}: the two-tower model's difference to the best baseline by {REFERENCE_METRIC}, "
        "with a 95 % paired bootstrap interval over the validation users; a win only where the "
        "whole interval is above 0."
    )
    layout = RunLayout.of(config)
    csv_path, md_path = layout.comparison_csv, layout.comparison_markdown
    records = [
        {
            "model": row["model"],
            **{m: float(row[m]) for m in TABLE_METRICS if m in row},
            "seconds": float(row["seconds"]),
            "settings": row["settings"],
            VERSUS: row.get(VERSUS),
            **interval_columns(row),
        }
        for row in rows
    ]
    frame = pl.DataFrame(records, infer_schema_length=None)
    with atomic_path(csv_path) as tmp:
        frame.write_csv(tmp)
    atomic_write_text(md_path, markdown + "\n")
    say(f"Wrote {csv_path} and {md_path}.")
    return rows
