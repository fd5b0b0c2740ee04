"""Figures written by training runs (matplotlib, Agg backend, PNG, saved atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from recsys.files import atomic_path

__all__ = ["comparison_figure", "history_figure", "plot_history", "save_figure"]


def save_figure(figure, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def _validation_metrics(history: dict, monitor: str | None) -> list[str]:
    """History keys of the validation ranking metrics to plot: Recall@K and NDCG@K, plus the monitor."""
    names = [k for k in history if k.startswith("val_") and ("Recall@" in k or "NDCG@" in k)]
    if monitor and f"val_{monitor}" in history and f"val_{monitor}" not in names:
        names.append(f"val_{monitor}")
    return names


def history_figure(
    history: dict, monitor: str | None, best_epoch: int | None = None, baseline: dict | None = None
):
    """Figure of the training curves (unsaved, so tests can inspect its artists): see plot_history."""
    metric_names = _validation_metrics(history, monitor)
    if best_epoch is None and monitor and history.get(f"val_{monitor}"):
        best_epoch = int(np.argmax(history[f"val_{monitor}"])) + 1  # a history without its best epoch
    baseline = baseline or {}
    columns = 2 if metric_names else 1
    legend_width = 3.3 if metric_names else 0.0  # the metrics legend sits right of its panel
    figure, axes = plt.subplots(1, columns, figsize=(6.5 * columns + legend_width, 4.6), squeeze=False)
    loss = history.get("loss", [])
    epochs = np.arange(1, len(loss) + 1)
    loss_ax = axes[0, 0]
    loss_ax.plot(epochs, loss, marker=".", color="tab:blue", label="training loss")
    loss_ax.set(title="Training loss per epoch", xlabel="epoch", ylabel="loss")
    if metric_names:
        ax = axes[0, 1]
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, name in enumerate(metric_names):
            metric, color = name[4:], colors[i % len(colors)]
            monitored = metric == monitor
            values = history[name]
            ax.plot(
                np.arange(1, len(values) + 1),
                values,
                color=color,
                linewidth=2.2 if monitored else 1.2,
                alpha=1.0 if monitored else 0.75,
                label=metric + (" (monitored)" if monitored else ""),
            )
            if metric in baseline:
                ax.axhline(
                    baseline[metric],
                    color=color,
                    linestyle="--" if monitored else ":",
                    linewidth=1.6 if monitored else 1.0,
                    label=f"most popular ({metric} = {baseline[metric]:.3f})" if monitored else None,
                )
        others = [n[4:] for n in metric_names if n[4:] != monitor and n[4:] in baseline]
        if others:  # one legend entry for the thin dotted baselines of the other metrics
            ax.plot(
                [],
                [],
                color="grey",
                linestyle=":",
                linewidth=1.0,
                label="most popular, other metrics (dotted, same colour)",
            )
        if best_epoch is not None and monitor and 1 <= best_epoch <= len(history.get(f"val_{monitor}", [])):
            best_value = history[f"val_{monitor}"][best_epoch - 1]
            ax.scatter([best_epoch], [best_value], color="black", zorder=4, s=25)
        ax.set(
            title="Validation ranking metrics" + (f" (monitored: {monitor})" if monitor else ""),
            xlabel="epoch",
            ylabel="metric value",
        )
        ax.set_ylim(bottom=0)
    if best_epoch is not None:
        for ax in axes.ravel():
            ax.axvline(
                best_epoch,
                color="black",
                linestyle="-.",
                linewidth=1.0,
                alpha=0.7,
                label=f"best epoch {best_epoch}",
            )
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    axes[0, 0].legend(loc="best", fontsize="small")
    if metric_names:  # beside the panel: inside, it would hide the baselines or the curves
        axes[0, 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0)
    figure.tight_layout()
    return figure


def plot_history(
    history: dict,
    path: str | Path,
    monitor: str | None,
    best_epoch: int | None = None,
    baseline: dict | None = None,
) -> Path:
    """Training curves: loss per epoch and, when there are any, the validation ranking metrics per epoch.

    `best_epoch` (1-based; by default the epoch where the `monitor` metric peaks) is marked by a vertical
    line on both panels, since those are the weights the run keeps. `baseline` (metric name -> value, the
    most-popular model on the same split) draws a dashed line for the monitored metric, and dotted lines in
    matching colours for the other plotted metrics, so a model that fails to beat popularity is obvious.
    Works with loss only (production runs: `monitor`, `best_epoch` and `baseline` None).
    """
    return save_figure(history_figure(history, monitor, best_epoch, baseline), path)


def comparison_figure(rows: list[dict], metrics: tuple[str, ...] = ("Recall@20", "NDCG@20")):
    """Horizontal grouped bars, one group per model (unsaved, so tests can measure its labels).

    Models sit on the y axis, one row each, so long names such as "two-tower (ids + features)" cannot
    collide as rotated x labels do; each bar carries its value at its end, and a row measured
    against the best baseline (its "intervals" and "reference", `recsys.eval.compare.add_intervals`)
    also its difference with the 95 % interval, e.g. "0.352  +1.5 % [-0.3, +3.2] vs EASE". A model
    without the metrics (a baseline that was skipped) keeps its row, marked "skipped", so the
    chart lists every model.

    Args:
        rows: The comparison's rows.
        metrics: The metrics drawn, one bar each per model.

    Returns:
        The matplotlib figure.
    """
    n = max(1, len(rows))
    figure, ax = plt.subplots(figsize=(9, 1.3 + 0.28 * len(metrics) * n + 0.15 * n))
    height = 0.8 / len(metrics)
    top = max([r[m] for r in rows for m in metrics if m in r] or [1.0])
    for j, metric in enumerate(metrics):
        positions = [i + (j - (len(metrics) - 1) / 2) * height for i in range(len(rows))]
        values = [r.get(metric, 0.0) for r in rows]
        bars = ax.barh(positions, values, height, label=metric)
        for bar, row in zip(bars, rows):
            if metric in row:
                interval = row.get("intervals", {}).get(metric)
                versus = f"  {interval} vs {row['reference']}" if interval is not None else ""
                ax.annotate(
                    f"{row[metric]:.3f}{versus}",
                    (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    ha="left",
                    fontsize="small",
                )
    for i, row in enumerate(rows):
        if not any(metric in row for metric in metrics):
            ax.annotate(
                "skipped (no result)",
                (0, i),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                ha="left",
                fontsize="small",
                color="dimgray",
            )
    ax.set_yticks(range(len(rows)), [r["model"] for r in rows])
    ax.invert_yaxis()  # the first row on top, as in the printed table
    with_intervals = any("intervals" in row for row in rows)
    ax.set_xlim(0, top * (1.9 if with_intervals else 1.15))  # room for the labels at the bars' ends
    title = "Models on the validation split"
    if with_intervals:
        title += "\n(two-tower vs the best baseline: 95 % paired bootstrap interval over validation users)"
    ax.set(title=title, xlabel="metric value (higher is better)", ylabel="model")
    # Beside the axes: inside, the legend would cover a bar's end and its value.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure
