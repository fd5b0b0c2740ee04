"""EDA: summary numbers on a hand-made frame, PNG figures written (and skipped without scores/times),
histograms in plain counts with the minimum-count thresholds marked, and no stale figures left behind."""

import numpy as np
import polars as pl
import pytest
from matplotlib import pyplot as plt

from recsys.config import Config
from recsys.data.preparation import prepare
from recsys.data.raw import RawData
from recsys.layout import EDA_FIGURES
from recsys.report.eda import count_bins, count_histogram, run_eda, score_histogram

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DAY = 86400.0


def tiny(scores=True, timestamps=True) -> RawData:
    """Users a (4 rows, one repeating item 1), b (2), c (1); items 1 (4 rows), 2 (2), 3 (1)."""
    columns = {
        "user": ["a", "a", "a", "b", "b", "c", "a"],
        "item": [1, 2, 3, 1, 2, 1, 1],
    }
    if scores:
        columns["score"] = [5.0, 4.0, 3.0, 2.0, 1.0, 3.0, 3.0]
    if timestamps:
        columns["timestamp"] = [0.0, DAY, 2 * DAY, 3 * DAY, 10 * DAY, 20 * DAY, 30 * DAY]
    return RawData(pl.DataFrame(columns), source="tiny")


def assert_png(path):
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


def test_summary_numbers_on_a_tiny_frame(tmp_path, capsys):
    summary = run_eda(tiny(), tmp_path / "figures")
    assert summary["interactions"] == 7
    assert summary["users"] == 3 and summary["items"] == 3
    assert summary["duplicate_rows"] == 1  # (a, 1) twice
    assert summary["density"] == pytest.approx(6 / 9)  # distinct pairs over users x items
    assert summary["cold_users"] == 1 and summary["cold_items"] == 1  # c and item 3
    assert summary["interactions_per_user_median"] == 2
    assert summary["interactions_per_user_mean"] == pytest.approx(7 / 3)
    assert summary["interactions_per_item_median"] == 2 and summary["interactions_per_item_max"] == 4
    assert summary["top_10pct_items_share"] == pytest.approx(4 / 7)  # at least one item: the top one
    assert summary["score_min"] == 1 and summary["score_max"] == 5
    assert summary["score_mean"] == pytest.approx(21 / 7)
    assert summary["time_span_days"] == pytest.approx(30)
    out = capsys.readouterr().out
    assert "7 interactions, 3 users, 3 items" in out
    assert "duplicate (user, item) rows: 1" in out


def test_all_figures_written_as_png(tmp_path):
    figures = tmp_path / "figs"
    summary = run_eda(tiny(), figures)
    names = sorted(p.split("/")[-1] for p in summary["figures"])
    assert names == sorted(
        [
            "interactions_per_user.png",
            "interactions_per_item.png",
            "popularity_long_tail.png",
            "score_distribution.png",
            "item_mean_score.png",
            "interactions_over_time.png",
        ]
    )
    assert names == sorted(EDA_FIGURES)  # the one list of EDA figure names covers every figure drawn
    for path in summary["figures"]:
        assert_png(path)
    assert summary["skipped"] == {}
    assert sorted(p.name for p in figures.iterdir()) == names  # no temporary files left behind


def test_without_scores_and_timestamps_skips_those_figures(tmp_path, capsys):
    summary = run_eda(tiny(scores=False, timestamps=False), tmp_path)
    names = sorted(p.split("/")[-1] for p in summary["figures"])
    assert names == ["interactions_per_item.png", "interactions_per_user.png", "popularity_long_tail.png"]
    for path in summary["figures"]:
        assert_png(path)
    assert set(summary["skipped"]) == {
        "score_distribution.png",
        "item_mean_score.png",
        "interactions_over_time.png",
    }
    assert "score_mean" not in summary and "time_span_days" not in summary
    out = capsys.readouterr().out
    assert "no scores" in out and "no timestamps" in out
    assert not (tmp_path / "score_distribution.png").exists()


def test_continuous_scores_and_long_spans(tmp_path):
    """Many distinct score values use a histogram; a multi-year span is grouped by month."""
    n = 300
    frame = pl.DataFrame(
        {
            "user": [f"u{i % 40}" for i in range(n)],
            "item": [i % 25 for i in range(n)],
            "score": [i / 7.0 for i in range(n)],
            "timestamp": [i * 5 * DAY for i in range(n)],  # ~4 years
        }
    )
    summary = run_eda(RawData(frame), tmp_path)
    assert summary["score_distinct_values"] == n
    assert summary["time_span_days"] > 3 * 365
    assert len(summary["figures"]) == 6
    for path in summary["figures"]:
        assert_png(path)


def test_prepared_sizes_are_added(tmp_path):
    raw = tiny()
    prepared = prepare(raw, Config(min_interactions_per_user=2, min_interactions_per_item=2))
    summary = run_eda(raw, tmp_path, prepared=prepared)
    assert summary["prepared"]["users"] == prepared.n_users
    assert summary["prepared"]["items"] == prepared.n_items
    assert summary["prepared"]["interactions"] == len(prepared.interactions) < summary["interactions"]


# --------------------------------------------------------------------------------------------
# histograms in counts, thresholds
# --------------------------------------------------------------------------------------------
def heavy_tailed_counts(n=5000, seed=0) -> np.ndarray:
    """Interaction counts shaped like real data: many small, a few in the thousands."""
    return np.maximum(1, np.random.default_rng(seed).zipf(1.8, n).clip(max=3000)).astype(np.int64)


@pytest.mark.parametrize("min_count", [1, 2, 5, 37, 10_000])
def test_count_bins_hold_plain_counts_split_at_the_threshold(min_count):
    counts = heavy_tailed_counts()
    heights, edges = count_bins(counts, min_count)
    assert heights.sum() == len(counts)  # every value in exactly one bin, no per-width averaging
    assert np.all(edges == np.round(edges)) and np.all(np.diff(edges) >= 1)  # integer, increasing edges
    assert edges[0] == 1 and edges[-1] > counts.max()
    if 1 < min_count <= counts.max():
        assert min_count in edges  # no bin straddles the threshold
        assert heights[edges[:-1] < min_count].sum() == (counts < min_count).sum()
    for lo, hi, h in zip(edges[:-1], edges[1:], heights):  # each bin counts lo <= c < hi (the last one too)
        assert h == ((counts >= lo) & (counts < hi)).sum()


def test_histogram_bars_sum_to_the_number_of_users_and_the_threshold_is_labelled():
    counts = heavy_tailed_counts(seed=1)
    figure = count_histogram(counts, "user", min_count=5)
    ax = figure.axes[0]
    assert sum(patch.get_height() for patch in ax.patches) == len(counts)
    n_below = int((counts < 5).sum())
    removed = [p.get_height() for p in ax.patches if p.get_x() + p.get_width() <= 5]
    assert sum(removed) == n_below
    lines = [line for line in ax.get_lines() if line.get_label().startswith("min_interactions_per_user = 5")]
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [5, 5]
    assert f"{n_below:,} users below are removed" in lines[0].get_label()
    assert "bin average" not in ax.get_ylabel() and "number of users" in ax.get_ylabel()
    assert ax.get_title() and ax.get_xlabel()
    legend_texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert lines[0].get_label() in legend_texts
    plt.close(figure)


def test_histogram_without_a_minimum_draws_no_threshold():
    figure = count_histogram(heavy_tailed_counts(seed=2), "item")
    assert not [line for line in figure.axes[0].get_lines() if "min_interactions" in line.get_label()]
    plt.close(figure)


def test_threshold_counts_match_a_direct_count(tmp_path, capsys):
    """users_below_min / items_below_min count distinct partners, as the filter does after merging."""
    rng = np.random.default_rng(3)
    users = rng.zipf(1.6, 4000).clip(max=400)
    items = rng.zipf(1.4, 4000).clip(max=900)
    frame = pl.DataFrame({"user": users, "item": items})
    summary = run_eda(RawData(frame), tmp_path, min_per_user=4, min_per_item=3)
    pairs = np.unique(np.stack([users, items], axis=1), axis=0)
    _, per_user = np.unique(pairs[:, 0], return_counts=True)
    _, per_item = np.unique(pairs[:, 1], return_counts=True)
    assert summary["duplicate_rows"] > 0  # repeated pairs exist, so rows and distinct pairs differ
    assert summary["users_below_min"] == (per_user < 4).sum() > 0
    assert summary["items_below_min"] == (per_item < 3).sum() > 0
    assert summary["min_per_user"] == 4 and summary["min_per_item"] == 3
    assert "below the minimums" in capsys.readouterr().out


def test_threshold_counts_on_the_tiny_frame(tmp_path):
    """User a has 4 rows but 3 distinct items: below a minimum of 4, like b (2) and c (1)."""
    summary = run_eda(tiny(), tmp_path, min_per_user=4, min_per_item=3)
    assert summary["users_below_min"] == 3
    assert summary["items_below_min"] == 2  # items 2 (users a, b) and 3 (a); item 1 has a, b, c
    assert run_eda(tiny(), tmp_path)["users_below_min"] == 0  # the default minimum of 1 removes nobody


def test_thresholds_agree_with_preparation(tmp_path):
    """Every user the EDA counts as below the minimum is gone after prepare with the same config."""
    raw = tiny()
    config = Config(min_interactions_per_user=3, min_interactions_per_item=1)
    summary = run_eda(raw, tmp_path, min_per_user=3, min_per_item=1)
    prepared = prepare(raw, config)
    assert summary["users"] - summary["users_below_min"] == prepared.n_users == 1  # only a survives


# --------------------------------------------------------------------------------------------
# one run's set of figures
# --------------------------------------------------------------------------------------------
def test_stale_figures_of_an_earlier_run_are_removed_and_other_files_kept(tmp_path, capsys):
    first = run_eda(tiny(), tmp_path)
    assert (tmp_path / "score_distribution.png").exists() and first["removed"] == []
    (tmp_path / "model_comparison.png").write_bytes(b"not an EDA figure")
    (tmp_path / "notes.txt").write_text("keep me")
    summary = run_eda(tiny(scores=False, timestamps=False), tmp_path)
    stale = {"score_distribution.png", "item_mean_score.png", "interactions_over_time.png"}
    assert {p.split("/")[-1] for p in summary["removed"]} == stale
    for name in stale:
        assert not (tmp_path / name).exists()
    assert (tmp_path / "model_comparison.png").read_bytes() == b"not an EDA figure"
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    remaining = {p.name for p in tmp_path.iterdir()}
    assert remaining == {p.split("/")[-1] for p in summary["figures"]} | {"model_comparison.png", "notes.txt"}
    assert "removed 3 figures of an earlier run" in capsys.readouterr().out


def test_heavy_tailed_scores_are_drawn_on_log_axes_and_ratings_on_linear_ones():
    rng = np.random.default_rng(0)
    plays = pl.Series("score", np.round(rng.lognormal(3.0, 2.0, 5000)) + 1)  # Last.fm-like play counts
    fig = score_histogram(plays)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == len(plays) and sum(h > 0 for h in heights) > 20  # spread over many bars
    plt.close(fig)
    ratings = pl.Series("score", rng.integers(1, 6, 500).astype(float))
    fig = score_histogram(ratings)
    assert fig.axes[0].get_xscale() == "linear" and len(fig.axes[0].patches) == 5
    plt.close(fig)
