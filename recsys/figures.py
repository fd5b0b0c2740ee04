"""Figures written by training runs (matplotlib, Agg backend, PNG, saved atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recsys.io_utils import atomic_path  # noqa: E402


def save_figure(figure, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)
    return path


def plot_history(history: dict, path: str | Path, monitor: str | None) -> Path:
    """Loss per epoch, and the validation ranking metrics per epoch when there are any."""
    metric_names = [k for k in history if k.startswith("val_") and ("Recall@" in k or "NDCG@" in k)]
    columns = 2 if metric_names else 1
    figure, axes = plt.subplots(1, columns, figsize=(6 * columns, 4), squeeze=False)
    epochs = range(1, len(history.get("loss", [])) + 1)
    axes[0, 0].plot(epochs, history.get("loss", []), marker=".")
    axes[0, 0].set(title="Training loss per epoch", xlabel="epoch", ylabel="loss")
    if metric_names:
        for name in metric_names:
            style = "-" if f"val_{monitor}" == name else "--"
            axes[0, 1].plot(epochs, history[name], style, label=name[4:])
        axes[0, 1].set(title=f"Validation ranking metrics (monitored: {monitor})", xlabel="epoch", ylabel="value")
        axes[0, 1].legend()
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    return save_figure(figure, path)
