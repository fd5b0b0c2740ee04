"""The report's HTML building blocks: escaping, notes, embedded figures, short renderings of values,
and the page's style sheet. Every text from the data goes through `escape`."""

from __future__ import annotations

import base64
import datetime
import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from recsys.data.summary import CALENDAR_SECONDS

__all__ = [
    "CSS",
    "Missing",
    "date_text",
    "escape",
    "figure_html",
    "loaded",
    "note",
    "now",
    "number_text",
    "short_text",
    "time_text",
    "written",
]

TEXT_LIMIT = 60  # characters of a feature value shown at most
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Missing(Exception):
    """A section's inputs are missing: the message is the one-line note shown instead."""


def loaded(experiment: Any, stage: str) -> Any:
    """An experiment's stage if the run already computed it, else None: the report never loads data
    that the run's actions did not need (an `Experiment` keeps each stage in its __dict__)."""
    if experiment is None:
        return None
    return vars(experiment).get(stage)


def figure_html(path: Path, caption: str) -> str:
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        return note(f"{path} is not a PNG image; left out.")
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    text = escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def short_text(value: object) -> str:
    """A feature value as short text: missing as a dash, multi-values joined by commas."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    text = " ".join(str(value).split())
    if "|" in text:
        text = ", ".join(part for part in text.split("|") if part)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def number_text(value: object) -> str:
    if value is None:
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:.3f}" if abs(number) < 1000 and number != int(number) else f"{number:g}"


def time_text(value: object) -> str:
    """An interaction time (seconds since 1970) as a date when it is one, else as given."""
    if value is None:
        return "—"
    seconds = float(value)  # type: ignore[arg-type]
    if CALENDAR_SECONDS[0] <= seconds <= CALENDAR_SECONDS[1]:
        return date_text(seconds)
    return f"{seconds:g}"


def date_text(seconds: float) -> str:
    return str(np.datetime64(int(seconds), "s"))[:10]


def written(path: Path) -> str:
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime)
    return stamp.strftime("%Y-%m-%d %H:%M")


def now() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M")


CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #1d2330;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 6px; border-bottom: 2px solid #dde1e8; }
h3 { font-size: 15px; margin: 0 0 8px; }
h4 { font-size: 13px; margin: 0 0 6px; color: #4a5263; font-weight: 600; }
section { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 18px 20px;
  margin: 18px 0; }
.meta { color: #4a5263; margin: 2px 0; }
nav a { color: #2456b3; text-decoration: none; }
.note { color: #6b5200; background: #fff8e1; border-left: 3px solid #e0b400; padding: 6px 10px;
  margin: 8px 0; }
.source, .more { color: #5b6475; font-size: 12.5px; margin: 8px 0 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.keys th { text-align: left; font-weight: 600; padding: 4px 18px 4px 0; vertical-align: top;
  white-space: nowrap; }
table.keys td { padding: 4px 0; }
.grid-table th, .grid-table td { border-bottom: 1px solid #e6e9ef; padding: 4px 10px; text-align: left; }
.grid-table thead th { background: #f0f2f6; font-weight: 600; white-space: nowrap; }
.grid-table td.num { text-align: right; white-space: nowrap; }
table.metrics th, table.metrics td { padding: 4px 10px; }
table.metrics thead th { text-align: right; }
table.metrics thead th.group, table.metrics thead th[rowspan] { text-align: left; }
table.metrics th.group, table.metrics td.change { border-right: 1px solid #dde1e8; }
table.metrics tbody th { text-align: left; white-space: nowrap; }
td.better { font-weight: 700; color: #136c2e; }
td.name { white-space: nowrap; }
td.settings { font-size: 12px; color: #5b6475; max-width: 360px; }
.scroll { overflow-x: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px;
  margin-top: 14px; align-items: start; }
.grid.two { grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #e6e9ef; border-radius: 4px;
  background: #fff; }
figcaption { font-size: 12.5px; color: #5b6475; margin-top: 4px; }
.card { border: 1px solid #e6e9ef; border-radius: 6px; padding: 12px 14px; margin: 12px 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
.pair > div { min-width: 0; overflow-x: auto; }
table.items { font-size: 12.5px; width: 100%; }
table.items td { padding: 3px 8px; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
@media (max-width: 760px) { .pair { grid-template-columns: 1fr; } }
"""
