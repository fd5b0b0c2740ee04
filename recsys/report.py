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

Example:
    >>> from recsys.config import Config
    >>> from recsys.experiment import Experiment
    >>> from recsys.pipeline import run_actions
    >>> from recsys.report import write_report
    >>> experiment = Experiment(Config(demo_num_users=300, max_epochs=2))
    >>> results = run_actions(["exploratory_data_analysis"], experiment)  # writes report.html too
    >>> write_report(experiment.config, experiment)  # or again, any time
    PosixPath('report.html')
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from recsys.config import Config
from recsys.io_utils import atomic_write_text
from recsys.log import warn

if TYPE_CHECKING:
    from recsys.experiment import Experiment

SAMPLE_USERS = 5  # users shown with their history and recommendations
LIST_ROWS = 10  # rows of each history / recommendation list
FEATURE_COLUMNS = 4  # item feature columns shown at most
TEXT_LIMIT = 60  # characters of a feature value shown at most
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VALIDATION_METRICS = Path("validation_model") / "metrics.json"
COMPARISON_TABLE = "comparison.csv"
TRAINING_FIGURES = (
    ("validation_history.png", "Validation run: loss and ranking metrics per epoch (best epoch marked)"),
    ("production_history.png", "Production run: loss per epoch on all interactions"),
    ("model_comparison.png", "Models compared on the validation split"),
)
EDA_CAPTIONS = {
    "interactions_per_user.png": "Interactions per user",
    "interactions_per_item.png": "Interactions per item",
    "popularity_long_tail.png": "Popularity long tail",
    "score_distribution.png": "Score distribution",
    "item_mean_score.png": "Mean score per item",
    "interactions_over_time.png": "Interactions over time",
}


class Missing(Exception):
    """A section's inputs are missing: the message is the one-line note shown instead."""


def write_report(
    config: Config, experiment: Experiment | None = None, actions: list[str] | None = None
) -> Path:
    """Build the report of a run and write it atomically to `config.report_fpath`; return its path.

    `experiment` (the run's `Experiment`) adds the data's numbers and features when the run loaded
    the data; without it, or when no action needed the data, those parts are notes. `actions` are
    the names of the actions the run made, shown in the header."""
    path = Path(config.report_fpath)
    atomic_write_text(path, build_report(config, experiment, actions))
    return path


def build_report(
    config: Config, experiment: Experiment | None = None, actions: list[str] | None = None
) -> str:
    """The report as one HTML document (see the module doc)."""
    raw = _loaded(experiment, "raw")
    sections = [
        ("data", "The data", lambda: _data_section(config, experiment)),
        ("metrics", "Validation metrics", lambda: _metrics_section(config, experiment)),
        ("comparison", "Models compared", lambda: _comparison_section(config)),
        ("training", "Training curves", lambda: _training_section(config)),
        ("users", "Sample users", lambda: _users_section(config, experiment)),
    ]
    bodies = [(anchor, title, _guarded(title, build)) for anchor, title, build in sections]
    contents = " · ".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title, _ in bodies)
    header = [f"Written {_e(_now())}"]
    if raw is not None:
        header.append(f"data: {_e(raw.source)}")
    if actions:
        header.append("actions: " + ", ".join(f"<code>{_e(a)}</code>" for a in actions))
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
        f'<p class="meta">Settings: {_e(settings)}.</p>',
        f'<nav class="meta">{contents}</nav>',
    ]
    for anchor, title, body in bodies:
        parts.append(f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _guarded(title: str, build: Callable[[], str]) -> str:
    """A section's HTML; a one-line note instead when its inputs are missing or unreadable, so that
    the report of a finished run never fails on one part."""
    try:
        return build()
    except Missing as note:
        return _note(str(note))
    except Exception as exc:  # an unreadable or unexpected file must not fail the finished run
        reason = " ".join(str(exc).split())[:200]
        warn(f"the report's section {title!r} was left out: {type(exc).__name__}: {reason}")
        return _note(f"Left out: it could not be built ({type(exc).__name__}: {reason}).")


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------
def _data_section(config: Config, experiment: Experiment | None) -> str:
    from recsys.eda import EDA_FIGURES

    parts = []
    if experiment is None or _loaded(experiment, "raw") is None:
        parts.append(_note("No numbers: this run's actions did not load the data."))
    else:  # the EDA action's summary when it ran (computed once per experiment)
        parts.append(_summary_table(experiment.summary, _loaded(experiment, "prepared")))
    figures_dir = Path(config.figures_dir)
    found = [figures_dir / name for name in EDA_FIGURES if (figures_dir / name).is_file()]
    if found:
        parts.append(
            f'<p class="source">Figures from {_e(str(figures_dir))}/ (written {_e(_written(found[0]))}).</p>'
        )
        parts.append(
            '<div class="grid">'
            + "".join(_figure(path, EDA_CAPTIONS.get(path.name, "")) for path in found)
            + "</div>"
        )
    else:
        parts.append(
            _note(f"No EDA figures in {figures_dir}/: run the exploratory_data_analysis action to draw them.")
        )
    return "".join(parts)


def _summary_table(s: dict, prepared: Any) -> str:
    rows = [
        ("Interactions", f"{s['interactions']:,}"),
        ("Users", f"{s['users']:,}"),
        ("Items", f"{s['items']:,}"),
        ("Density (share of user × item pairs)", f"{s['density']:.4%}"),
        (
            "Interactions per user",
            f"median {s['interactions_per_user_median']:g}, mean {s['interactions_per_user_mean']:.1f}, "
            f"max {s['interactions_per_user_max']:,}",
        ),
        (
            "Interactions per item",
            f"median {s['interactions_per_item_median']:g}, mean {s['interactions_per_item_mean']:.1f}, "
            f"max {s['interactions_per_item_max']:,}",
        ),
        (
            "Long tail",
            f"the top 10% of items hold {s['top_10pct_items_share']:.1%} of interactions, "
            f"the top 20% {s['top_20pct_items_share']:.1%}",
        ),
        ("Cold (a single interaction)", f"{s['cold_users']:,} users, {s['cold_items']:,} items"),
        ("Duplicate (user, item) rows", f"{s['duplicate_rows']:,}"),
    ]
    if "score_mean" in s:
        rows.append(
            (
                "Scores",
                f"{s['score_min']:g} to {s['score_max']:g}, mean {s['score_mean']:.3f}, "
                f"{s['score_distinct_values']:,} distinct values",
            )
        )
    if "time_span_days" in s:
        if s["time_is_calendar"]:
            span = f"{_date(s['time_first'])} to {_date(s['time_last'])}"
        else:
            span = f"{s['time_first']:g} to {s['time_last']:g}"
        rows.append(("Time", f"{span} ({s['time_span_days']:.1f} days)"))
    if prepared is not None:
        rows.append(
            (
                "After the minimum-interaction filter",
                f"{len(prepared.interactions):,} interactions, {prepared.n_users:,} users, "
                f"{prepared.n_items:,} items",
            )
        )
    body = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows)
    return f'<table class="keys">{body}</table>'


def _metrics_section(config: Config, experiment: Experiment | None) -> str:
    from recsys.metrics import metric_names

    path = Path(config.output_dir) / VALIDATION_METRICS
    if not path.is_file():
        raise Missing(f"No validation run in {path.parent}/: run the train_validation_model action.")
    saved = json.loads(path.read_text())
    model, baseline = saved.get("validation") or {}, saved.get("most_popular") or {}
    names = [n for n in metric_names(config.metrics_k) if n in model and n in baseline]
    names += sorted(n for n in model if n in baseline and n not in names and n != "users")
    if not names:
        raise Missing(f"{path} holds no validation metrics.")
    table = _metrics_table(names, model, baseline)
    facts = []
    if saved.get("best_epoch") is not None:
        facts.append(f"best epoch {saved['best_epoch']} of {saved.get('epochs_run', '?')} run")
    if saved.get("training_seconds") is not None:
        facts.append(f"trained in {float(saved['training_seconds']):.1f} s")
    if baseline.get("users"):
        facts.append(f"averaged over {int(baseline['users']):,} validation users")
    split = saved.get("split") or {}
    if split.get("strategy"):
        facts.append(f"split: {split['strategy']}")
    notes = [
        f'<p class="source">From {_e(str(path))} (written {_e(_written(path))}); {_e("; ".join(facts))}. '
        "The full catalogue is ranked for every user, the user's training items excluded.</p>"
    ]
    fingerprint = _loaded(experiment, "fingerprint")
    identity = (saved.get("identity") or {}).get("data")
    if fingerprint is not None and identity is not None and identity != fingerprint:
        notes.append(_note("This validation run was made on other data than this run's."))
    return table + "".join(notes)


def _metrics_table(names: list[str], model: dict, baseline: dict) -> str:
    """One row per metric (Recall, NDCG, ...), and for each cut-off k the two-tower value, the
    most-popular value and the change; a metric without a cut-off (MRR) sits under the first k."""
    split = [(name.split("@")[0], int(name.split("@")[1]) if "@" in name else None) for name in names]
    ks: list[int | None] = [*sorted({k for _, k in split if k is not None})] or [None]
    families = list(dict.fromkeys(family for family, _ in split))
    where = {(family, k if k is not None else ks[0]): name for (family, k), name in zip(split, names)}
    top = "".join(f'<th colspan="3" class="group">{"@" + str(k) if k else ""}</th>' for k in ks)
    sub = "<th>two-tower</th><th>most-popular</th><th>change</th>" * len(ks)
    rows = []
    for family in families:
        cells = []
        for k in ks:
            name = where.get((family, k))
            if name is None:
                cells.append("<td></td>" * 3)
                continue
            ours, theirs = float(model[name]), float(baseline[name])
            change = f"{(ours / theirs - 1):+.0%}" if theirs > 0 else "—"
            cells.append(
                f'<td class="num{" better" if ours > theirs else ""}">{ours:.4f}</td>'
                f'<td class="num">{theirs:.4f}</td><td class="num change">{_e(change)}</td>'
            )
        rows.append(f"<tr><th>{_e(family)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="grid-table metrics"><thead><tr><th rowspan="2">metric</th>{top}'
        f"</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _comparison_section(config: Config) -> str:
    path = Path(config.output_dir) / COMPARISON_TABLE
    if not path.is_file():
        raise Missing(
            f"No {path}: run the compare_models action to compare with most-popular, EASE and iALS."
        )
    frame = pl.read_csv(path)
    metrics = [c for c in frame.columns if "@" in c or c == "MRR"]
    best = {c: frame[c].max() for c in metrics}
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows(named=True):  # a handful of models
        cells = []
        for column, value in row.items():
            if column in metrics and value is not None:
                mark = ' class="num better"' if value == best[column] else ' class="num"'
                cells.append(f"<td{mark}>{float(value):.4f}</td>")
            elif column == "seconds" and value is not None:
                cells.append(f'<td class="num">{float(value):.1f}</td>')
            elif column == "settings":
                cells.append(f'<td class="settings">{_e(value or "")}</td>')
            else:
                cells.append(f'<td class="name">{_e(_text(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="grid-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="source">From {_e(str(path))} (written {_e(_written(path))}); the best value of each '
        "metric is marked.</p>"
    )


def _training_section(config: Config) -> str:
    figures_dir = Path(config.figures_dir)
    found = [(figures_dir / name, caption) for name, caption in TRAINING_FIGURES]
    found = [(path, caption) for path, caption in found if path.is_file()]
    if not found:
        raise Missing(
            f"No training curves in {figures_dir}/: run the train_validation_model or "
            "train_production_model action."
        )
    figures = [_figure(path, f"{caption} ({path.name}, written {_written(path)})") for path, caption in found]
    if found[0][0].name == TRAINING_FIGURES[0][0]:  # the validation curves, wide, over the others
        return figures[0] + f'<div class="grid two">{"".join(figures[1:])}</div>'
    return f'<div class="grid two">{"".join(figures)}</div>'


def _users_section(config: Config, experiment: Experiment | None) -> str:
    path = Path(config.recommendations_fpath)
    if not path.is_file():
        raise Missing(f"No recommendations file {path}: run the compute_predictions action.")
    users, lists, total = read_sample(path, config.recommendations_format, config.seed, SAMPLE_USERS)
    if not users:
        raise Missing(f"{path} holds no users.")
    raw = _loaded(experiment, "raw")
    item_ids = [item for user in users for item, _ in lists[user]["items"][:LIST_ROWS]]
    histories: dict[str, pl.DataFrame] = {}
    user_rows: dict[str, dict] = {}
    if raw is not None:
        histories = _histories(raw, users)
        for frame in histories.values():
            item_ids += frame["item"].to_list()
        user_rows = _feature_rows(raw.user_features, users)
    items = _feature_rows(raw.item_features if raw is not None else None, item_ids)
    columns = _feature_columns(raw.item_features if raw is not None else None)
    intro = (
        f'<p class="source">{len(users)} of {total:,} users, chosen with seed {config.seed}, from '
        f"{_e(str(path))} (written {_e(_written(path))}). Up to {LIST_ROWS} items of each list"
        + (", the history latest first" if raw is not None and raw.has_timestamps else "")
        + ".</p>"
    )
    if raw is None:
        intro += _note("No histories or item features: this run's actions did not load the data.")
    cards = []
    for user in users:
        recommended = lists[user]
        title = f"User {user}"
        details = user_rows.get(user)
        if details:
            shown = list(details.items())[: FEATURE_COLUMNS + 1]
            title += " — " + ", ".join(f"{k} {_text(v)}" for k, v in shown)
        served = recommended.get("served_by")
        history = histories.get(user)
        history_html = (
            _item_table(
                history["item"].to_list(),
                history["score"].to_list() if "score" in history.columns else None,
                history["timestamp"].to_list() if "timestamp" in history.columns else None,
                items,
                columns,
                "score",
            )
            if history is not None
            else _note("Not in the loaded data." if raw is not None else "Data not loaded.")
        )
        n_history = history.height if history is not None else 0
        pairs = recommended["items"]
        rec_html = (
            _item_table(
                [item for item, _ in pairs[:LIST_ROWS]],
                [score for _, score in pairs[:LIST_ROWS]],
                None,
                items,
                columns,
                "affinity",
            )
            if pairs
            else _note("Nothing left to recommend.")
        )
        counted = f"top {min(len(pairs), LIST_ROWS)} of {len(pairs)}" if pairs else "none"
        cards.append(
            f'<div class="card"><h3>{_e(title)}</h3><div class="pair">'
            f"<div><h4>Interacted with ({n_history:,})</h4>{history_html}</div>"
            f"<div><h4>Recommended ({counted}"
            + (f"; served by {_e(served)}" if served and served != "model" else "")
            + f")</h4>{rec_html}</div></div></div>"
        )
    return intro + "".join(cards)


# --------------------------------------------------------------------------------------------
# reading the recommendations of a few users
# --------------------------------------------------------------------------------------------
def read_sample(path: Path, fmt: str, seed: int, n: int) -> tuple[list[str], dict[str, dict], int]:
    """(`n` users chosen by `seed`, {user: {"items": [(item, score), ...] best first, "served_by"}},
    number of users in the file) from a recommendations file of format `fmt`. User ids are text (the
    keys of the JSON file). The file is read in a stream or lazily: only the chosen users' lists are
    parsed."""
    rng = np.random.default_rng(seed)
    if fmt == "json":
        return _json_sample(path, rng, n)
    frame = pl.scan_parquet(path) if fmt == "parquet" else pl.scan_ndjson(path)
    users = frame.select(pl.col("user").unique().sort()).collect()["user"]
    chosen = users.gather(np.sort(rng.choice(len(users), size=min(n, len(users)), replace=False)))
    rows = frame.filter(pl.col("user").is_in(chosen.to_list())).sort("user", "rank").collect()
    lists: dict[str, dict] = {}
    for user, group in rows.group_by("user", maintain_order=True):  # a few users
        served = group["served_by"][0] if "served_by" in group.columns else None
        lists[str(user[0])] = {
            "items": list(zip(group["item"].to_list(), group["score"].to_list())),
            "served_by": served,
        }
    keys = [str(u) for u in chosen.to_list()]
    return keys, {k: lists.get(k, {"items": []}) for k in keys}, len(users)


def _json_sample(path: Path, rng: np.random.Generator, n: int) -> tuple[list[str], dict[str, dict], int]:
    """The JSON file as `recsys.recommend` writes it has one user per line between `{` and `}`: count
    the lines, then parse only the chosen ones. Valid JSON of any other layout is read whole."""
    sample = _json_lines_sample(path, rng, n)
    if sample is not None:
        return sample
    document = json.loads(path.read_text())
    keys = sorted(document)
    chosen = [keys[i] for i in np.sort(rng.choice(len(keys), size=min(n, len(keys)), replace=False))]
    return chosen, {k: {"items": [tuple(p) for p in document[k]]} for k in chosen}, len(keys)


def _json_lines_sample(
    path: Path, rng: np.random.Generator, n: int
) -> tuple[list[str], dict[str, dict], int] | None:
    with open(path, "rb") as handle:
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 2
    if total <= 0:
        return None
    chosen = set((np.sort(rng.choice(total, size=min(n, total), replace=False)) + 1).tolist())
    picked: dict[str, dict] = {}
    with open(path, "rb") as handle:
        for number, line in enumerate(handle):  # one line per user; only the chosen few are parsed
            if number in chosen:
                try:
                    entry = json.loads(b"{" + line.rstrip().rstrip(b",") + b"}")
                except ValueError:
                    return None
                picked.update({k: {"items": [tuple(p) for p in v]} for k, v in entry.items()})
    return (list(picked), picked, total) if len(picked) == len(chosen) else None


def _histories(raw: Any, users: list[str]) -> dict[str, pl.DataFrame]:
    """Each sample user's interactions (text user ids), latest first when timed, else best first."""
    user = pl.col("user")  # Categorical text ids compare as text without a 20-million-row cast
    text = user if isinstance(raw.interactions.schema["user"], pl.Categorical) else user.cast(pl.String)
    frame = raw.interactions.filter(text.is_in(users))
    if "timestamp" in frame.columns:
        frame = frame.sort("timestamp", descending=True)
    elif "score" in frame.columns:
        frame = frame.sort("score", descending=True)
    frame = frame.with_columns(pl.col("user").cast(pl.String))
    return {str(key[0]): group for key, group in frame.group_by("user", maintain_order=True)}


def _feature_rows(table: pl.DataFrame | None, ids: list) -> dict[str, dict]:
    """{text id: {feature: value}} of the feature table's rows for `ids` (a few)."""
    if table is None or not ids:
        return {}
    wanted = sorted({str(i) for i in ids})
    rows = table.filter(pl.col("id").cast(pl.String).is_in(wanted))
    columns = [c for c in table.columns if c != "id"]
    return {str(row["id"]): {c: row[c] for c in columns} for row in rows.iter_rows(named=True)}


def _feature_columns(table: pl.DataFrame | None) -> list[str]:
    """The item feature columns shown: a title first when there is one, then the others in order."""
    if table is None:
        return []
    names = [c for c in table.columns if c != "id"]
    names.sort(key=lambda c: c.lower() not in ("title", "name"))
    return names[:FEATURE_COLUMNS]


def _item_table(
    ids: list,
    values: list | None,
    times: list | None,
    items: dict[str, dict],
    columns: list[str],
    value_name: str,
) -> str:
    head = ["item", *columns]
    if values is not None:
        head.append(value_name)
    if times is not None:
        head.append("time")
    rows = []
    for position, item in enumerate(ids[:LIST_ROWS]):
        features = items.get(str(item), {})
        cells = [f"<td><code>{_e(item)}</code></td>"]
        cells += [f"<td>{_e(_text(features.get(c)))}</td>" for c in columns]
        if values is not None:
            cells.append(f'<td class="num">{_e(_number(values[position]))}</td>')
        if times is not None:
            cells.append(f'<td class="num">{_e(_time(times[position]))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = len(ids) - LIST_ROWS
    footer = f'<p class="more">… and {more:,} more</p>' if more > 0 else ""
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<table class="grid-table items"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table>{footer}"
    )


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _loaded(experiment: Experiment | None, stage: str) -> Any:
    """An experiment's stage if the run already computed it, else None: the report never loads data
    that the run's actions did not need (an `Experiment` keeps each stage in its __dict__)."""
    if experiment is None:
        return None
    return vars(experiment).get(stage)


def _figure(path: Path, caption: str) -> str:
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        return _note(f"{path} is not a PNG image; left out.")
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<figure><img src="{uri}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _text(value: object) -> str:
    """A feature value as short text: missing as a dash, multi-values joined by commas."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    text = " ".join(str(value).split())
    if "|" in text:
        text = ", ".join(part for part in text.split("|") if part)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _number(value: object) -> str:
    if value is None:
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:.3f}" if abs(number) < 1000 and number != int(number) else f"{number:g}"


def _time(value: object) -> str:
    """An interaction time (seconds since 1970) as a date when it is one, else as given."""
    if value is None:
        return "—"
    seconds = float(value)  # type: ignore[arg-type]
    from recsys.eda import CALENDAR_SECONDS

    if CALENDAR_SECONDS[0] <= seconds <= CALENDAR_SECONDS[1]:
        return _date(seconds)
    return f"{seconds:g}"


def _date(seconds: float) -> str:
    return str(np.datetime64(int(seconds), "s"))[:10]


def _written(path: Path) -> str:
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime)
    return stamp.strftime("%Y-%m-%d %H:%M")


def _now() -> str:
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
