"""The exploratory figures: interactions per user and per item (with the minimum-count thresholds
of the config marked), the popularity long tail, scores and activity over time; and `run_eda`,
the exploratory_data_analysis action's work (the summary of `recsys.data.summary`, printed, and
the figures, written).

matplotlib's Agg backend, figures written atomically (`save_figure`). A run's figures replace the
previous run's set (`recsys.layout.EDA_FIGURES`): a figure this data does not produce (no scores,
no timestamps) is deleted rather than left over from an earlier dataset.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.ticker import FuncFormatter, LogFormatter

from recsys.data.preparation import PreparedData
from recsys.data.raw import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.data.summary import (
    aggregate,
    interaction_counts,
    partner_counts,
    print_summary,
    summarize,
    top_share,
)
from recsys.layout import EDA_FIGURES, EdaFigure
from recsys.log import plural, say
from recsys.report.figures import save_figure

__all__ = ["count_bins", "count_histogram", "heavy_tailed", "run_eda", "score_histogram"]


def _save(fig, path: Path, written: list[str]) -> None:

    written.append(str(save_figure(fig, path)))


def count_bins(counts: np.ndarray, min_count: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of integer counts: (number of values per bin, bin edges).

    Edges are log-spaced integers from 1 to max + 1 (bin i holds edges[i] <= count < edges[i + 1]), so
    a log x axis shows the long tail evenly. A minimum above 1 is added as an edge, so no bar straddles
    the threshold: the bars left of it are exactly the users/items the filter removes. The heights are
    plain numbers of values and sum to len(counts).
    """
    counts = np.asarray(counts, dtype=np.int64)
    top = int(counts.max()) + 1 if len(counts) else 2
    edges = np.unique(np.round(np.geomspace(1, top, 30)))
    if 1 < min_count < top:
        edges = np.union1d(edges, [min_count])
    if len(edges) < 2:
        edges = np.array([1.0, 2.0])
    heights, edges = np.histogram(counts, bins=edges)
    return heights, edges


def count_histogram(counts: np.ndarray, what: str, min_count: int = 1, duplicates: bool = False):
    """Figure: number of users/items per interaction count, with the minimum-count threshold marked.

    The y axis is a plain count per bin (log-scaled, as the tail spans orders of magnitude). With
    `min_count` above 1 a vertical line at the threshold says how many fall below it and are removed
    when preparing (the first filtering round; removing them can push a few more below). Returns the
    figure unsaved so tests can read the bars back.
    """
    heights, edges = count_bins(counts, min_count)
    widths = np.diff(edges)
    below = edges[:-1] < min_count
    fig, ax = plt.subplots(figsize=(8, 4.8))
    if heights[~below].any():
        ax.bar(
            edges[:-1][~below],
            heights[~below],
            width=widths[~below],
            align="edge",
            color="tab:blue",
            edgecolor="white",
            label=f"{what}s kept",
        )
    if heights[below].any():
        ax.bar(
            edges[:-1][below],
            heights[below],
            width=widths[below],
            align="edge",
            color="tab:gray",
            edgecolor="white",
            label=f"{what}s below the minimum",
        )
    if min_count > 1:
        n_below = int((counts < min_count).sum())
        removed = {0: f"no {what}s below it", 1: f"1 {what} below is removed"}.get(
            n_below, f"{plural(n_below, what)} below are removed"
        )
        ax.axvline(
            min_count,
            color="tab:red",
            linestyle="--",
            linewidth=1.5,
            label=f"min_interactions_per_{what} = {min_count}: {removed}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers (2, 10, 10,000) rather than 2x10^0 or 1e4
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        axis.set_minor_formatter(LogFormatter(labelOnlyBase=False))  # labels minor ticks on short ranges only
    # Bottom below 1 so a bin holding a single user/item stays visible; the top leaves the upper third
    # of the (log) axis free for the legend, which therefore never covers a bar.
    bottom, tallest = 0.7, max(int(heights.max()), 1)
    ax.set_ylim(bottom, bottom * (tallest / bottom) ** 1.5)
    ax.set_title(
        f"Interactions per {what}: {plural(len(counts), what)} "
        f"(median {np.median(counts):g}, mean {counts.mean():.1f})"
    )
    pair_note = ", repeated pairs counted once" if duplicates else ""
    ax.set_xlabel(f"interactions per {what} (log scale, log-spaced integer bins{pair_note})")
    ax.set_ylabel(f"number of {what}s in the bin (log scale)")
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="upper right", framealpha=1.0)  # opaque: the threshold line passes behind it
    return fig


def _long_tail(item_counts: np.ndarray, path: Path, written: list[str]) -> None:
    """Cumulative share of interactions against the share of items ranked by popularity."""
    ordered = np.sort(item_counts)[::-1]
    cumulative = np.cumsum(ordered) / ordered.sum()
    rank_share = np.arange(1, len(ordered) + 1) / len(ordered)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(100 * rank_share, 100 * cumulative, color="tab:red")
    ax.plot([0, 100], [0, 100], color="grey", linestyle="--", linewidth=1, label="equal popularity")
    for fraction in (0.1, 0.2):
        share = top_share(ordered, fraction)
        ax.scatter([100 * fraction], [100 * share], color="black", zorder=3)
        ax.annotate(
            f"top {fraction:.0%}: {share:.0%}",
            (100 * fraction, 100 * share),
            textcoords="offset points",
            xytext=(8, -12),
        )
    ax.set_title("Popularity long tail: cumulative share of interactions")
    ax.set_xlabel("items ranked by popularity (% of items)")
    ax.set_ylabel("cumulative share of interactions (%)")
    ax.legend(loc="lower right")
    _save(fig, path, written)


def heavy_tailed(values: np.ndarray) -> bool:
    """Positive values whose largest is over 100 times their median (play counts, seconds watched):
    on linear axes their histogram is one bar at zero.

    Args:
        values: The scores.

    Returns:
        Whether to draw them on log axes.

    Example:
        >>> heavy_tailed(np.array([1.0, 2, 3, 5, 800])), heavy_tailed(np.array([1.0, 3, 4, 5]))
        (True, False)
    """
    finite = values[np.isfinite(values)]
    return bool(len(finite) and finite.min() > 0 and finite.max() > 100 * np.median(finite))


def score_histogram(scores: pl.Series):
    """Figure: the distribution of the scores. Discrete ratings get one bar per value; heavy-tailed
    scores (`heavy_tailed`) log-spaced bins on log axes; others 50 even bins. Returned unsaved."""
    values = scores.value_counts().sort(scores.name)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    numbers = scores.to_numpy().astype(np.float64)
    if values.height <= 20:  # discrete ratings: one bar per value
        x = values[scores.name].to_numpy()
        width = 0.8 * (np.diff(x).min() if len(x) > 1 else 1.0)
        ax.bar(x, values["count"].to_numpy(), width=width, color="tab:green")
        ax.set_xlabel("score")
    elif heavy_tailed(numbers):
        finite = numbers[np.isfinite(numbers)]
        bins = np.geomspace(finite.min(), finite.max(), 50).tolist()
        ax.hist(finite, bins=bins, color="tab:green", edgecolor="white")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("score (log scale: the largest is over 100 times the median)")
    else:
        ax.hist(numbers, bins=50, color="tab:green", edgecolor="white")
        ax.set_xlabel("score")
    ax.set_title(f"Score distribution (mean {aggregate(scores.mean()):.2f})")
    ax.set_ylabel("number of interactions")
    return fig


def _score_figures(frame: pl.DataFrame, figures_dir: Path, written: list[str]) -> None:
    """Distribution of the scores, and of each item's mean score (items with enough scores)."""
    _save(score_histogram(frame[SCORE]), figures_dir / EdaFigure.SCORES, written)

    per_item = frame.group_by(ITEM).agg(pl.col(SCORE).mean().alias("mean"), pl.len().alias("n"))
    min_n = 5 if (per_item["n"] >= 5).sum() >= 10 else 1
    means = per_item.filter(pl.col("n") >= min_n)["mean"].to_numpy()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.hist(means, bins=min(40, max(5, len(means) // 5)), color="tab:purple", edgecolor="white")
    qualifier = f"items with at least {min_n} scores" if min_n > 1 else "all items"
    ax.set_title(f"Average score per item ({qualifier}: {len(means):,})")
    ax.set_xlabel("mean score of the item")
    ax.set_ylabel("number of items")
    _save(fig, figures_dir / EdaFigure.ITEM_MEAN_SCORE, written)


def _time_figure(
    frame: pl.DataFrame, span_days: float, path: Path, written: list[str], calendar: bool = True
) -> None:
    """Interactions per week (spans up to two years) or per month (longer spans); for timestamps
    that are no dates as seconds (e.g. milliseconds), a histogram over the numbers as given."""
    if not calendar:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.hist(frame[TIMESTAMP].to_numpy(), bins=50, color="tab:orange", edgecolor="white")
        ax.set_title("Interactions over time (timestamps as given)")
        ax.set_xlabel("timestamp (not seconds since 1970 within the years 1-9999, so shown as numbers)")
        ax.set_ylabel("number of interactions")
        _save(fig, path, written)
        return

    period, label = ("1w", "week") if span_days <= 2 * 365 else ("1mo", "month")
    seconds = pl.col(TIMESTAMP).round(0).cast(pl.Int64)
    per_period = (
        frame.select(pl.from_epoch(seconds, time_unit="s").dt.truncate(period).alias("period"))
        .group_by("period")
        .len()
        .sort("period")
    )
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(
        per_period["period"].to_numpy(),
        per_period["len"].to_numpy(),
        marker="o" if per_period.height < 60 else None,
        color="tab:orange",
    )
    ax.set_title(f"Interactions per {label}")
    ax.set_xlabel(f"{label} (start date)")
    ax.set_ylabel("number of interactions")
    fig.autofmt_xdate()
    _save(fig, path, written)


def _remove_stale(figures_dir: Path, written: list[str]) -> list[str]:
    """Delete the EDA figures this run did not write, so the folder holds one run's set only.

    Only names in EDA_FIGURES are touched; any other file in the folder is left alone.
    """
    fresh = {Path(p).name for p in written}
    removed = []
    for name in EDA_FIGURES:
        path = figures_dir / name
        if name not in fresh and path.is_file():
            path.unlink()
            removed.append(str(path))
    return removed


def run_eda(
    raw: RawData,
    figures_dir: str | Path,
    prepared: PreparedData | None = None,
    *,
    min_per_user: int = 1,
    min_per_item: int = 1,
    summary: dict | None = None,
) -> dict:
    """Print a summary of `raw` and write figures into `figures_dir`.

    Returns the summary numbers plus `figures` (paths written), `skipped` (figures not drawn, and
    why) and `removed` (figures of an earlier run that this run did not draw, deleted so that no stale
    figure is mistaken for this data's). `min_per_user` / `min_per_item` are the config's
    min_interactions_per_user / _item: the histograms mark them, and `users_below_min` /
    `items_below_min` count the users/items under them (distinct partners, as the filter counts).
    With `prepared` (a PreparedData), the sizes after filtering are added under `prepared`.
    `summary`: `summarize(raw)` when the caller has it already (an Experiment keeps it).
    """
    figures_dir = Path(figures_dir)
    summary = summarize(raw) if summary is None else dict(summary)  # a copy: keys are added below
    print_summary(summary, raw.source)
    frame = raw.interactions
    duplicates = summary["duplicate_rows"] > 0
    if duplicates:
        user_filter_counts, item_filter_counts = partner_counts(frame)
    else:
        user_filter_counts, item_filter_counts = (
            interaction_counts(frame, USER),
            interaction_counts(frame, ITEM),
        )
    summary.update(
        min_per_user=min_per_user,
        min_per_item=min_per_item,
        users_below_min=int((user_filter_counts < min_per_user).sum()),
        items_below_min=int((item_filter_counts < min_per_item).sum()),
    )
    if min_per_user > 1 or min_per_item > 1:
        say(
            f"  below the minimums: {plural(summary['users_below_min'], 'user')} with fewer than "
            f"{min_per_user}, {plural(summary['items_below_min'], 'item')} with fewer than {min_per_item} "
            "interactions (removed when preparing)"
        )
    written: list[str] = []
    skipped: dict[str, str] = {}
    for counts, what, minimum, name in (
        (user_filter_counts, "user", min_per_user, EdaFigure.PER_USER),
        (item_filter_counts, "item", min_per_item, EdaFigure.PER_ITEM),
    ):
        _save(count_histogram(counts, what, minimum, duplicates), figures_dir / name, written)
    _long_tail(interaction_counts(frame, ITEM), figures_dir / EdaFigure.LONG_TAIL, written)
    if raw.has_scores:
        _score_figures(frame, figures_dir, written)
    else:
        skipped[EdaFigure.SCORES] = skipped[EdaFigure.ITEM_MEAN_SCORE] = "no score column"
    if raw.has_timestamps:
        _time_figure(
            frame,
            summary["time_span_days"],
            figures_dir / EdaFigure.TIME,
            written,
            summary["time_is_calendar"],
        )
    else:
        skipped[EdaFigure.TIME] = "no timestamp column"
    removed = _remove_stale(figures_dir, written)
    if prepared is not None:
        n_users, n_items, n = prepared.n_users, prepared.n_items, len(prepared.interactions)
        summary["prepared"] = {
            "interactions": n,
            "users": n_users,
            "items": n_items,
            "density": n / (n_users * n_items) if n_users and n_items else 0.0,
        }
        say(
            f"  after preparation: {plural(n, 'interaction')}, {plural(n_users, 'user')}, "
            f"{plural(n_items, 'item')}"
        )
    say(
        f"  wrote {len(written)} figures to {figures_dir}"
        + (f" (skipped {', '.join(skipped)})" if skipped else "")
    )
    if removed:
        say(
            f"  removed {plural(len(removed), 'figure')} of an earlier run that this data does not produce: "
            + ", ".join(Path(p).name for p in removed)
        )
    summary["figures"] = written
    summary["skipped"] = skipped
    summary["removed"] = removed
    return summary
