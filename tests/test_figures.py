"""Training-curve and comparison figures: best epoch and most-popular lines drawn, loss-only runs still
plotted, and model names on the comparison chart laid out so that they cannot overlap."""

import itertools

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from recsys.report.figures import comparison_figure, history_figure, plot_history, plt, save_figure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BASELINE = {"Recall@10": 0.14, "NDCG@10": 0.12, "Recall@20": 0.19, "NDCG@20": 0.135, "users": 2900}
ROWS = [
    {"model": "most popular", "Recall@20": 0.19, "NDCG@20": 0.135},
    {"model": "EASE", "Recall@20": 0.335, "NDCG@20": 0.291},
    {"model": "iALS", "Recall@20": 0.318, "NDCG@20": 0.274},
    {"model": "two-tower (ids + features)", "Recall@20": 0.31, "NDCG@20": 0.28},
    {"model": "two-tower (ids only)", "Recall@20": 0.296, "NDCG@20": 0.262},
    {"model": "two-tower (ids + features, no recency weighting)", "Recall@20": 0.301, "NDCG@20": 0.27},
]


@pytest.fixture(autouse=True)
def close_figures():
    """Figures built for inspection are never saved (which closes them): close them after each test."""
    yield
    plt.close("all")


def realistic_history(epochs=30) -> dict:
    """Loss falling, NDCG@20 rising then flattening and sagging a little, like an early-stopped run."""
    e = np.arange(1, epochs + 1)
    ndcg = 0.26 * (1 - np.exp(-e / 5)) + 0.02 - 0.0006 * np.maximum(e - 18, 0) ** 1.5
    return {
        "loss": list(2.5 * np.exp(-e / 6) + 1.1),
        "val_Recall@10": list(ndcg * 0.95),
        "val_NDCG@10": list(ndcg * 0.9),
        "val_Recall@20": list(ndcg * 1.25),
        "val_NDCG@20": list(ndcg),
    }


def labelled(ax, prefix: str) -> list:
    return [line for line in ax.get_lines() if line.get_label().startswith(prefix)]


def assert_png(path):
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_history_marks_the_best_epoch_and_the_most_popular_baseline():
    history = realistic_history()
    figure = history_figure(history, "NDCG@20", best_epoch=17, baseline=BASELINE)
    loss_ax, metric_ax = figure.axes
    for ax in (loss_ax, metric_ax):  # the kept weights' epoch, on both panels
        (line,) = labelled(ax, "best epoch 17")
        assert list(line.get_xdata()) == [17, 17]
    (popular,) = labelled(metric_ax, "most popular (NDCG@20")
    assert list(popular.get_ydata()) == [0.135, 0.135] and popular.get_linestyle() == "--"
    (curve,) = labelled(metric_ax, "NDCG@20 (monitored)")
    assert to_rgba(popular.get_color()) == to_rgba(curve.get_color())
    # The other metrics' baselines are dotted lines in the colour of their curve.
    for metric in ("Recall@10", "NDCG@10", "Recall@20"):
        (metric_curve,) = [line for line in metric_ax.get_lines() if line.get_label() == metric]
        dotted = [
            line
            for line in metric_ax.get_lines()
            if line.get_linestyle() == ":" and list(line.get_ydata()) == [BASELINE[metric]] * 2
        ]
        assert len(dotted) == 1 and to_rgba(dotted[0].get_color()) == to_rgba(metric_curve.get_color())
    legend = [t.get_text() for t in metric_ax.get_legend().get_texts()]
    assert "best epoch 17" in legend and any(t.startswith("most popular") for t in legend)
    for ax in (loss_ax, metric_ax):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    figure.canvas.draw()  # the metrics legend sits beside its panel, not over the curves
    renderer = figure.canvas.get_renderer()
    assert metric_ax.get_legend().get_window_extent(renderer).x0 >= metric_ax.get_window_extent(renderer).x1


def test_history_best_epoch_defaults_to_the_monitored_peak():
    history = realistic_history()
    expected = int(np.argmax(history["val_NDCG@20"])) + 1
    figure = history_figure(history, "NDCG@20")
    assert labelled(figure.axes[1], f"best epoch {expected}")
    assert not labelled(figure.axes[1], "most popular")  # no baseline given, none drawn


def test_history_with_loss_only_still_plots(tmp_path):
    """Production runs: no validation metrics, monitor/best_epoch/baseline None."""
    history = {"loss": list(np.linspace(3.0, 1.2, 12))}
    figure = history_figure(history, None)
    assert len(figure.axes) == 1 and not labelled(figure.axes[0], "best epoch")
    path = plot_history(history, tmp_path / "production_history.png", None)
    assert_png(path)
    assert_png(plot_history(history, tmp_path / "with_best.png", None, best_epoch=12, baseline=BASELINE))


def test_plot_history_writes_the_png_atomically(tmp_path):
    path = plot_history(
        realistic_history(), tmp_path / "validation_history.png", "NDCG@20", best_epoch=17, baseline=BASELINE
    )
    assert_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["validation_history.png"]  # no temporary file left


def boxes(figure, artists):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


@pytest.mark.parametrize("rows", [ROWS, ROWS[:2], ROWS[:3] + [{"model": "iALS (skipped)"}] + ROWS[3:]])
def test_comparison_labels_do_not_overlap(rows):
    figure = comparison_figure(rows)
    (ax,) = figure.axes
    labels = [label for label in ax.get_yticklabels() if label.get_text()]
    assert [label.get_text() for label in labels] == [r["model"] for r in rows]
    label_boxes = boxes(figure, labels)
    for a, b in itertools.combinations(label_boxes, 2):
        assert not a.overlaps(b)
    axes_box = ax.get_window_extent()
    assert all(box.x1 <= axes_box.x0 for box in label_boxes)  # names left of the bars, not over them
    values = [t for t in ax.texts if t.get_text()[:2] == "0."]
    assert sorted(t.get_text() for t in values) == sorted(
        f"{r[m]:.3f}" for r in rows for m in ("Recall@20", "NDCG@20") if m in r
    )
    value_boxes = boxes(figure, values)
    for a, b in itertools.combinations(value_boxes, 2):  # each bar's value at its end, none colliding
        assert not a.overlaps(b)
    assert all(box.x1 <= axes_box.x1 for box in value_boxes)  # inside the plot
    assert ax.get_title() and ax.get_xlabel()


def test_comparison_marks_a_skipped_model_and_save_figure_writes_a_png(tmp_path):
    rows = ROWS[:2] + [{"model": "iALS", "seconds": float("nan"), "settings": "skipped: no implicit"}]
    figure = comparison_figure(rows)
    assert any(t.get_text().startswith("skipped") for t in figure.axes[0].texts)
    assert_png(save_figure(figure, tmp_path / "model_comparison.png"))
