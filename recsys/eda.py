"""Exploratory data analysis: a printed summary of the interactions and a few labelled figures.

What it answers before any training: how big and how sparse the data are, how skewed activity
and popularity are (long tail), how many users/items are "cold" (a single interaction), whether
(user, item) pairs repeat, and - when present - how scores are distributed and how activity
evolves over time. Counting uses polars group-bys and numpy; figures use matplotlib's Agg
backend and are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from recsys.loading import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.log import plural, say


def _counts(frame: pl.DataFrame, column: str) -> np.ndarray:
    """Interactions per distinct value of `column` (int64, unordered)."""
    return frame.group_by(column).len()["len"].to_numpy().astype(np.int64)


def _top_share(sorted_counts: np.ndarray, fraction: float) -> float:
    """Share of all interactions held by the top `fraction` of items (counts sorted descending)."""
    top = max(1, int(round(fraction * len(sorted_counts))))
    return float(sorted_counts[:top].sum() / sorted_counts.sum())


def summarize(raw: RawData) -> dict:
    """Summary numbers of the raw interactions (JSON-serialisable)."""
    frame = raw.interactions
    n = frame.height
    user_counts, item_counts = _counts(frame, USER), _counts(frame, ITEM)
    n_users, n_items = len(user_counts), len(item_counts)
    n_pairs = frame.select(pl.struct(USER, ITEM).n_unique()).item()
    by_popularity = np.sort(item_counts)[::-1]
    summary = {
        "interactions": n,
        "users": n_users,
        "items": n_items,
        "density": n_pairs / (n_users * n_items),
        "duplicate_rows": n - n_pairs,  # rows repeating an earlier (user, item) pair
        "cold_users": int((user_counts == 1).sum()),
        "cold_items": int((item_counts == 1).sum()),
        "interactions_per_user_median": float(np.median(user_counts)),
        "interactions_per_user_mean": float(user_counts.mean()),
        "interactions_per_user_max": int(user_counts.max()),
        "interactions_per_item_median": float(np.median(item_counts)),
        "interactions_per_item_mean": float(item_counts.mean()),
        "interactions_per_item_max": int(item_counts.max()),
        "top_10pct_items_share": _top_share(by_popularity, 0.10),
        "top_20pct_items_share": _top_share(by_popularity, 0.20),
    }
    if raw.has_scores:
        scores = frame[SCORE]
        summary.update(
            score_min=float(scores.min()), score_max=float(scores.max()), score_mean=float(scores.mean()),
            score_distinct_values=int(scores.n_unique()),
        )
    if raw.has_timestamps:
        times = frame[TIMESTAMP]
        first, last = float(times.min()), float(times.max())
        summary.update(time_first=first, time_last=last, time_span_days=(last - first) / 86400.0)
    return summary


def _print_summary(summary: dict, source: str) -> None:
    s = summary
    say(f"EDA of {source}:")
    say(f"  {plural(s['interactions'], 'interaction')}, {plural(s['users'], 'user')}, {plural(s['items'], 'item')}; density {s['density']:.4%}")
    say(
        f"  per user: median {s['interactions_per_user_median']:g}, mean {s['interactions_per_user_mean']:.1f}, max {s['interactions_per_user_max']:,}; "
        f"per item: median {s['interactions_per_item_median']:g}, mean {s['interactions_per_item_mean']:.1f}, max {s['interactions_per_item_max']:,}"
    )
    say(f"  long tail: the top 10% of items hold {s['top_10pct_items_share']:.1%} of interactions, the top 20% {s['top_20pct_items_share']:.1%}")
    say(f"  cold (a single interaction): {plural(s['cold_users'], 'user')}, {plural(s['cold_items'], 'item')}")
    say(f"  duplicate (user, item) rows: {s['duplicate_rows']:,}" + (" (merged by duplicate_policy when preparing)" if s["duplicate_rows"] else ""))
    if "score_mean" in s:
        say(f"  scores: {s['score_min']:g} to {s['score_max']:g}, mean {s['score_mean']:.3f}, {s['score_distinct_values']:,} distinct values")
    else:
        say("  no scores: score figures skipped")
    if "time_span_days" in s:
        say(f"  time: {_date(s['time_first'])} to {_date(s['time_last'])} ({s['time_span_days']:.1f} days)")
    else:
        say("  no timestamps: time figure skipped")


def _date(seconds: float) -> str:
    return str(np.datetime64(int(seconds), "s"))


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def _save(fig, path: Path, written: list[str]) -> None:
    from recsys.figures import save_figure

    written.append(str(save_figure(fig, path)))


def _count_histogram(counts: np.ndarray, what: str, path: Path, written: list[str]) -> None:
    """Histogram of interactions per user/item on log-log axes.

    Bins are log-spaced with integer edges, so they hold different numbers of possible counts;
    each bar is divided by its width (the number of integers it spans), which keeps the shape
    free of rounding artefacts.
    """
    import matplotlib.pyplot as plt

    edges = np.unique(np.round(np.geomspace(1, counts.max() + 1, 30)))
    if len(edges) < 2:
        edges = np.array([1.0, 2.0])
    height, edges = np.histogram(counts, bins=edges)
    widths = np.diff(edges)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.bar(edges[:-1], height / widths, width=widths, align="edge", color="tab:blue", edgecolor="white")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(f"Interactions per {what} (median {np.median(counts):g}, mean {counts.mean():.1f})")
    ax.set_xlabel(f"interactions per {what} (log scale)")
    ax.set_ylabel(f"{what}s per count value (bin average, log scale)")
    _save(fig, path, written)


def _long_tail(item_counts: np.ndarray, path: Path, written: list[str]) -> None:
    import matplotlib.pyplot as plt

    ordered = np.sort(item_counts)[::-1]
    cumulative = np.cumsum(ordered) / ordered.sum()
    rank_share = np.arange(1, len(ordered) + 1) / len(ordered)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(100 * rank_share, 100 * cumulative, color="tab:red")
    ax.plot([0, 100], [0, 100], color="grey", linestyle="--", linewidth=1, label="equal popularity")
    for fraction in (0.1, 0.2):
        share = _top_share(ordered, fraction)
        ax.scatter([100 * fraction], [100 * share], color="black", zorder=3)
        ax.annotate(f"top {fraction:.0%}: {share:.0%}", (100 * fraction, 100 * share), textcoords="offset points", xytext=(8, -12))
    ax.set_title("Popularity long tail: cumulative share of interactions")
    ax.set_xlabel("items ranked by popularity (% of items)")
    ax.set_ylabel("cumulative share of interactions (%)")
    ax.legend(loc="lower right")
    _save(fig, path, written)


def _score_figures(frame: pl.DataFrame, figures_dir: Path, written: list[str]) -> None:
    import matplotlib.pyplot as plt

    scores = frame[SCORE]
    values = scores.value_counts().sort(SCORE)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if values.height <= 20:  # discrete ratings: one bar per value
        x = values[SCORE].to_numpy()
        width = 0.8 * (np.diff(x).min() if len(x) > 1 else 1.0)
        ax.bar(x, values["count"].to_numpy(), width=width, color="tab:green")
    else:
        ax.hist(scores.to_numpy(), bins=50, color="tab:green", edgecolor="white")
    ax.set_title(f"Score distribution (mean {scores.mean():.2f})")
    ax.set_xlabel("score")
    ax.set_ylabel("number of interactions")
    _save(fig, figures_dir / "score_distribution.png", written)

    per_item = frame.group_by(ITEM).agg(pl.col(SCORE).mean().alias("mean"), pl.len().alias("n"))
    min_n = 5 if (per_item["n"] >= 5).sum() >= 10 else 1
    means = per_item.filter(pl.col("n") >= min_n)["mean"].to_numpy()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.hist(means, bins=min(40, max(5, len(means) // 5)), color="tab:purple", edgecolor="white")
    qualifier = f"items with at least {min_n} scores" if min_n > 1 else "all items"
    ax.set_title(f"Average score per item ({qualifier}: {len(means):,})")
    ax.set_xlabel("mean score of the item")
    ax.set_ylabel("number of items")
    _save(fig, figures_dir / "item_mean_score.png", written)


def _time_figure(frame: pl.DataFrame, span_days: float, path: Path, written: list[str]) -> None:
    import matplotlib.pyplot as plt

    period, label = ("1w", "week") if span_days <= 2 * 365 else ("1mo", "month")
    per_period = (
        frame.select(pl.from_epoch(pl.col(TIMESTAMP).round(0).cast(pl.Int64), time_unit="s").dt.truncate(period).alias("period"))
        .group_by("period").len().sort("period")
    )
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(per_period["period"].to_numpy(), per_period["len"].to_numpy(), marker="o" if per_period.height < 60 else None, color="tab:orange")
    ax.set_title(f"Interactions per {label}")
    ax.set_xlabel(f"{label} (start date)")
    ax.set_ylabel("number of interactions")
    fig.autofmt_xdate()
    _save(fig, path, written)


def run_eda(raw: RawData, figures_dir: str | Path, prepared=None) -> dict:
    """Print a summary of `raw` and write figures into `figures_dir`.

    Returns the summary numbers plus `figures` (paths written) and `skipped` (figures not drawn,
    and why). With `prepared` (a PreparedData), the sizes after filtering are added under `prepared`.
    """
    import matplotlib

    matplotlib.use("Agg")
    figures_dir = Path(figures_dir)
    summary = summarize(raw)
    _print_summary(summary, raw.source)
    frame = raw.interactions
    written: list[str] = []
    skipped: dict[str, str] = {}
    _count_histogram(_counts(frame, USER), "user", figures_dir / "interactions_per_user.png", written)
    item_counts = _counts(frame, ITEM)
    _count_histogram(item_counts, "item", figures_dir / "interactions_per_item.png", written)
    _long_tail(item_counts, figures_dir / "popularity_long_tail.png", written)
    if raw.has_scores:
        _score_figures(frame, figures_dir, written)
    else:
        skipped["score_distribution.png"] = skipped["item_mean_score.png"] = "no score column"
    if raw.has_timestamps:
        _time_figure(frame, summary["time_span_days"], figures_dir / "interactions_over_time.png", written)
    else:
        skipped["interactions_over_time.png"] = "no timestamp column"
    if prepared is not None:
        n_users, n_items, n = prepared.n_users, prepared.n_items, len(prepared.interactions)
        summary["prepared"] = {
            "interactions": n, "users": n_users, "items": n_items,
            "density": n / (n_users * n_items) if n_users and n_items else 0.0,
        }
        say(f"  after preparation: {plural(n, 'interaction')}, {plural(n_users, 'user')}, {plural(n_items, 'item')}")
    say(f"  wrote {len(written)} figures to {figures_dir}" + (f" (skipped {', '.join(skipped)})" if skipped else ""))
    summary["figures"] = written
    summary["skipped"] = skipped
    return summary
