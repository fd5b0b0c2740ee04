"""The numbers of exploratory data analysis: how big and how sparse the data are, how skewed
activity and popularity are (long tail), how many users/items are "cold" (a single interaction),
whether (user, item) pairs repeat, and - when present - the range of scores and times.

`summarize` computes them (JSON-serialisable) and `print_summary` prints them; the figures that
show them in detail are `recsys.report.eda`'s. Counting uses integer codes and numpy.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import polars as pl

from recsys.data.arrays import count_codes
from recsys.data.preparation import factorize, pair_keys
from recsys.data.raw import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.log import plural, say

__all__ = [
    "CALENDAR_SECONDS",
    "aggregate",
    "interaction_counts",
    "partner_counts",
    "print_summary",
    "summarize",
    "top_share",
]


def interaction_counts(frame: pl.DataFrame, column: str) -> np.ndarray:
    """Interactions per distinct value of `column` (int64, unordered)."""
    return frame.group_by(column).len()["len"].to_numpy().astype(np.int64)


def _codes(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(user codes, item codes, number of users, number of items): each id as its dense int32
    code (`factorize`), so that pairs and counts are integer work (`pair_keys`, `count_codes`)."""
    user_codes, user_ids = factorize(frame[USER])
    item_codes, item_ids = factorize(frame[ITEM])
    return user_codes, item_codes, len(user_ids), len(item_ids)


def aggregate(value: object) -> float:
    """A polars aggregate (min, max, mean) of a numeric column as a float: the stubs type it as any
    Python scalar, but scores and timestamps are numeric and the frame is not empty."""
    return float(cast(float, value))


def top_share(sorted_counts: np.ndarray, fraction: float) -> float:
    """Share of all interactions held by the top `fraction` of items (counts sorted descending)."""
    top = max(1, int(round(fraction * len(sorted_counts))))
    return float(sorted_counts[:top].sum() / sorted_counts.sum())


def summarize(raw: RawData) -> dict:
    """Summary numbers of the raw interactions (JSON-serialisable)."""
    frame = raw.interactions
    n = frame.height
    user_codes, item_codes, n_users, n_items = _codes(frame)
    user_counts, item_counts = count_codes(user_codes, n_users), count_codes(item_codes, n_items)
    n_pairs = pl.Series(pair_keys(user_codes, item_codes, n_items)).n_unique()
    del user_codes, item_codes
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
        "top_10pct_items_share": top_share(by_popularity, 0.10),
        "top_20pct_items_share": top_share(by_popularity, 0.20),
    }
    if raw.has_scores:
        scores = frame[SCORE]
        summary.update(
            score_min=aggregate(scores.min()),
            score_max=aggregate(scores.max()),
            score_mean=aggregate(scores.mean()),
            score_distinct_values=int(scores.n_unique()),
        )
    if raw.has_timestamps:
        times = frame[TIMESTAMP]
        first, last = aggregate(times.min()), aggregate(times.max())
        summary.update(
            time_first=first,
            time_last=last,
            time_span_days=(last - first) / 86400.0,
            time_is_calendar=bool(CALENDAR_SECONDS[0] <= first and last <= CALENDAR_SECONDS[1]),
        )
    return summary


def print_summary(summary: dict, source: str) -> None:
    """Print the summary numbers as a few readable lines (what the figures then show in detail)."""
    s = summary
    say(f"EDA of {source}:")
    say(
        f"  {plural(s['interactions'], 'interaction')}, {plural(s['users'], 'user')}, "
        f"{plural(s['items'], 'item')}; density {s['density']:.4%}"
    )
    say(
        f"  per user: median {s['interactions_per_user_median']:g}, "
        f"mean {s['interactions_per_user_mean']:.1f}, "
        f"max {s['interactions_per_user_max']:,}; per item: median {s['interactions_per_item_median']:g}, "
        f"mean {s['interactions_per_item_mean']:.1f}, max {s['interactions_per_item_max']:,}"
    )
    say(
        f"  long tail: the top 10% of items hold {s['top_10pct_items_share']:.1%} of interactions, "
        f"the top 20% {s['top_20pct_items_share']:.1%}"
    )
    say(
        f"  cold (a single interaction): {plural(s['cold_users'], 'user')}, {plural(s['cold_items'], 'item')}"
    )
    say(
        f"  duplicate (user, item) rows: {s['duplicate_rows']:,}"
        + (" (merged by duplicate_policy when preparing)" if s["duplicate_rows"] else "")
    )
    if "score_mean" in s:
        say(
            f"  scores: {s['score_min']:g} to {s['score_max']:g}, mean {s['score_mean']:.3f}, "
            f"{s['score_distinct_values']:,} distinct values"
        )
    else:
        say("  no scores: score figures skipped")
    if "time_span_days" in s and s["time_is_calendar"]:
        say(f"  time: {_date(s['time_first'])} to {_date(s['time_last'])} ({s['time_span_days']:.1f} days)")
    elif "time_span_days" in s:
        say(
            f"  time: {s['time_first']:g} to {s['time_last']:g} (numbers as given: as seconds since 1970 "
            "they fall outside the years 1-9999, so no dates are shown)"
        )
    else:
        say("  no timestamps: time figure skipped")


# Seconds since 1970 of 0001-01-01 and of the end of 9999: the dates matplotlib (and a reader) can show.
CALENDAR_SECONDS = (-62135596800.0, 253402300799.0)


def _date(seconds: float) -> str:
    return str(np.datetime64(int(seconds), "s"))


def partner_counts(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Distinct partners per user and per item: what the minimum-count filter sees once duplicates
    are merged.

    Preparation merges repeated (user, item) rows before it filters, so the threshold counts and the
    histograms count each pair once; without duplicates these equal `_counts`. The distinct pairs
    are found as one integer key per row (`pair_keys`), not as pairs of id columns.
    """
    user_codes, item_codes, _, n_items = _codes(frame)
    pairs = pl.Series(pair_keys(user_codes, item_codes, n_items)).unique().to_numpy()
    del user_codes, item_codes
    return np.bincount(pairs // n_items), np.bincount(pairs % n_items, minlength=n_items)
