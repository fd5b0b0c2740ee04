"""The run's report: one self-contained HTML page that a person can open and read.

After its actions, every run writes `config.report_fpath` (default `report.html`): what the data
look like (the EDA numbers and figures), how the model did on held-out interactions beside the
most-popular baseline (and beside EASE, iALS and the others when `compare_models` ran), its training
curves, and, for a few sample users chosen from the config's seed, what they interacted with beside
what they were recommended, with the items' features. The terminal log says the same things once;
the page keeps them together, with the figures, in a form that can be mailed or archived.

The page is built from what the run left on disk (figures, the validation bundle's
`metrics.json`, `comparison.csv`, the recommendations file) plus the run's `Experiment` for the
numbers and features of the data, when that was loaded. Nothing is required: a section whose inputs
are missing (an action that did not run, data not loaded) is replaced by a one-line note. Each
section states the file it was read from and when that file was written, since a file may be left
over from an earlier run. The page needs nothing else to display: inline CSS, every image embedded
as a `data:image/png;base64` URI, no script and no external address. Every text from the data is
escaped. The file is written atomically (the previous report stays whole until the new one is
complete).

Example (`recsys.pipeline.run_actions` writes it after every run; here for a run that has only
read its data, so the sections whose files are missing say so):
    >>> from recsys.config import Config
    >>> from recsys.data.experiment import Experiment
    >>> experiment = Experiment(Config(demo_num_users=300))
    >>> write_report(experiment.config, experiment)
    PosixPath('report.html')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.files import atomic_write_text
from recsys.layout import RunLayout
from recsys.log import warn
from recsys.report.html import CSS, Missing, escape, loaded, note, now
from recsys.report.sections import (
    comparison_section,
    data_section,
    metrics_section,
    training_section,
    users_section,
)

__all__ = ["build_report", "write_report"]


def write_report(
    config: Config, experiment: Experiment | None = None, actions: list[str] | None = None
) -> Path:
    """Build the report of a run and write it atomically to `config.report_fpath`; return its path.

    `experiment` (the run's `Experiment`) adds the data's numbers and features when the run loaded
    the data; without it, or when no action needed the data, those parts are notes. `actions` are
    the names of the actions the run made, shown in the header."""
    path = RunLayout.of(config).report
    atomic_write_text(path, build_report(config, experiment, actions))
    return path


def build_report(
    config: Config, experiment: Experiment | None = None, actions: list[str] | None = None
) -> str:
    """The report as one HTML document (see the module doc)."""
    raw = loaded(experiment, "raw")
    sections = [
        ("data", "The data", lambda: data_section(config, experiment)),
        ("metrics", "Validation metrics", lambda: metrics_section(config, experiment)),
        ("comparison", "Models compared", lambda: comparison_section(config)),
        ("training", "Training curves", lambda: training_section(config)),
        ("users", "Sample users", lambda: users_section(config, experiment)),
    ]
    bodies = [(anchor, title, _guarded(title, build)) for anchor, title, build in sections]
    contents = " · ".join(f'<a href="#{anchor}">{escape(title)}</a>' for anchor, title, _ in bodies)
    header = [f"Written {escape(now())}"]
    if raw is not None:
        header.append(f"data: {escape(raw.source)}")
    if actions:
        header.append("actions: " + ", ".join(f"<code>{escape(a)}</code>" for a in actions))
    settings = ", ".join(
        f"{name} {getattr(config, name)!r}"
        for name in ("loss", "embedding_dim", "max_epochs", "learning_rate", "batch_size", "seed")
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Recommender report</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Recommender report</h1>",
        f'<p class="meta">{"; ".join(header)}.</p>',
        f'<p class="meta">Settings: {escape(settings)}.</p>',
        f'<nav class="meta">{contents}</nav>',
    ]
    for anchor, title, body in bodies:
        parts.append(f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _guarded(title: str, build: Callable[[], str]) -> str:
    """A section's HTML; a one-line note instead when its inputs are missing or unreadable, so that
    the report of a finished run never fails on one part."""
    try:
        return build()
    except Missing as missing:
        return note(str(missing))
    except Exception as exc:  # an unreadable or unexpected file must not fail the finished run
        reason = " ".join(str(exc).split())[:200]
        warn(f"the report's section {title!r} was left out: {type(exc).__name__}: {reason}")
        return note(f"Left out: it could not be built ({type(exc).__name__}: {reason}).")
