"""EDA: summary numbers on a hand-made frame, PNG figures written (and skipped without scores/times)."""

import polars as pl
import pytest

from recsys.config import Config
from recsys.eda import run_eda
from recsys.loading import RawData
from recsys.preparation import prepare

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
    data = open(path, "rb").read()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


def test_summary_numbers_on_a_tiny_frame(tmp_path, capsys):
    summary = run_eda(tiny(), tmp_path / "figures")
    assert summary["interactions"] == 7
    assert summary["users"] == 3 and summary["items"] == 3
    assert summary["duplicate_rows"] == 1  # (a, 1) twice
    assert summary["density"] == pytest.approx(6 / 9)  # distinct pairs over users x items
    assert summary["cold_users"] == 1 and summary["cold_items"] == 1  # c and item 3
    assert summary["interactions_per_user_median"] == 2 and summary["interactions_per_user_mean"] == pytest.approx(7 / 3)
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
    assert names == sorted([
        "interactions_per_user.png", "interactions_per_item.png", "popularity_long_tail.png",
        "score_distribution.png", "item_mean_score.png", "interactions_over_time.png",
    ])
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
    assert set(summary["skipped"]) == {"score_distribution.png", "item_mean_score.png", "interactions_over_time.png"}
    assert "score_mean" not in summary and "time_span_days" not in summary
    out = capsys.readouterr().out
    assert "no scores" in out and "no timestamps" in out
    assert not (tmp_path / "score_distribution.png").exists()


def test_continuous_scores_and_long_spans(tmp_path):
    """Many distinct score values use a histogram; a multi-year span is grouped by month."""
    n = 300
    frame = pl.DataFrame({
        "user": [f"u{i % 40}" for i in range(n)],
        "item": [i % 25 for i in range(n)],
        "score": [i / 7.0 for i in range(n)],
        "timestamp": [i * 5 * DAY for i in range(n)],  # ~4 years
    })
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
