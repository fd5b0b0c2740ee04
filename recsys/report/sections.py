"""The report's sections, each built from what the run left on disk (figures, the validation
bundle's metrics, the comparison table, the recommendations file) and from the run's `Experiment`
when it loaded the data. A section whose inputs are missing raises `Missing` with the note to show.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.eval.compare import REFERENCE_METRIC, TABLE_METRICS, VERSUS
from recsys.layout import (
    COMPARISON_FIGURE,
    EDA_FIGURES,
    PRODUCTION_HISTORY_FIGURE,
    VALIDATION_HISTORY_FIGURE,
    EdaFigure,
    RunLayout,
)
from recsys.metric_names import metric_names
from recsys.report.html import (
    Missing,
    date_text,
    escape,
    figure_html,
    loaded,
    note,
    number_text,
    short_text,
    time_text,
    written,
)
from recsys.report.samples import FEATURE_COLUMNS, feature_columns, feature_rows, histories, read_sample

__all__ = [
    "LIST_ROWS",
    "SAMPLE_USERS",
    "comparison_section",
    "data_section",
    "metrics_section",
    "training_section",
    "users_section",
]

SAMPLE_USERS = 5  # users shown with their history and recommendations
LIST_ROWS = 10  # rows of each history / recommendation list
TRAINING_CAPTIONS = {
    VALIDATION_HISTORY_FIGURE: "Validation run: loss and ranking metrics per epoch (best epoch marked)",
    PRODUCTION_HISTORY_FIGURE: "Production run: loss per epoch on all interactions",
    COMPARISON_FIGURE: "Models compared on the validation split",
}
EDA_CAPTIONS = {
    EdaFigure.PER_USER: "Interactions per user",
    EdaFigure.PER_ITEM: "Interactions per item",
    EdaFigure.LONG_TAIL: "Popularity long tail",
    EdaFigure.SCORES: "Score distribution",
    EdaFigure.ITEM_MEAN_SCORE: "Mean score per item",
    EdaFigure.TIME: "Interactions over time",
}


def data_section(config: Config, experiment: Experiment | None) -> str:
    parts = []
    if experiment is None or loaded(experiment, "raw") is None:
        parts.append(note("No numbers: this run's actions did not load the data."))
    else:  # the EDA action's summary when it ran (computed once per experiment)
        parts.append(_summary_table(experiment.summary, loaded(experiment, "prepared")))
    figures_dir = RunLayout.of(config).figures_dir
    found = [figures_dir / name for name in EDA_FIGURES if (figures_dir / name).is_file()]
    if found:
        parts.append(
            f'<p class="source">Figures from {escape(str(figures_dir))}/ '
            f"(written {escape(written(found[0]))}).</p>"
        )
        parts.append(
            '<div class="grid">'
            + "".join(figure_html(path, EDA_CAPTIONS.get(path.name, "")) for path in found)
            + "</div>"
        )
    else:
        parts.append(
            note(f"No EDA figures in {figures_dir}/: run the exploratory_data_analysis action to draw them.")
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
            span = f"{date_text(s['time_first'])} to {date_text(s['time_last'])}"
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
    body = "".join(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in rows)
    return f'<table class="keys">{body}</table>'


def metrics_section(config: Config, experiment: Experiment | None) -> str:
    path = RunLayout.of(config).validation_metrics
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
        f'<p class="source">From {escape(str(path))} (written {escape(written(path))}); '
        f"{escape('; '.join(facts))}. "
        "The full catalogue is ranked for every user, the user's training items excluded.</p>"
    ]
    fingerprint = loaded(experiment, "fingerprint")
    identity = (saved.get("identity") or {}).get("data")
    if fingerprint is not None and identity is not None and identity != fingerprint:
        notes.append(note("This validation run was made on other data than this run's."))
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
                f'<td class="num">{theirs:.4f}</td><td class="num change">{escape(change)}</td>'
            )
        rows.append(f"<tr><th>{escape(family)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="grid-table metrics"><thead><tr><th rowspan="2">metric</th>{top}'
        f"</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def comparison_section(config: Config) -> str:
    path = RunLayout.of(config).comparison_csv
    if not path.is_file():
        raise Missing(
            f"No {path}: run the compare_models action to compare with most-popular, EASE and iALS."
        )
    frame = pl.read_csv(path)
    frame = frame.drop([c for c in frame.columns if c.endswith(" %")])  # the numbers of the VERSUS text
    metrics = [c for c in frame.columns if c in TABLE_METRICS]
    best = {c: frame[c].max() for c in metrics}
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows(named=True):  # a handful of models
        cells = []
        for column, value in row.items():
            if column in metrics and value is not None:
                mark = ' class="num better"' if value == best[column] else ' class="num"'
                cells.append(f"<td{mark}>{float(value):.4f}</td>")
            elif column == "seconds" and value is not None:
                cells.append(f'<td class="num">{float(value):.1f}</td>')
            elif column in ("settings", VERSUS):
                cells.append(f'<td class="settings">{escape(value or "")}</td>')
            else:
                cells.append(f'<td class="name">{escape(short_text(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="grid-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="source">From {escape(str(path))} (written {escape(written(path))}); '
        "the best value of each metric is marked. "
        f"{escape(VERSUS)}: the two-tower model's difference to the best baseline (by "
        f"{escape(REFERENCE_METRIC)}), with a 95 % paired bootstrap interval over the validation "
        "users; it is a win only where the whole interval is above 0.</p>"
    )


def training_section(config: Config) -> str:
    figures_dir = RunLayout.of(config).figures_dir
    found = [(figures_dir / name, caption) for name, caption in TRAINING_CAPTIONS.items()]
    found = [(path, caption) for path, caption in found if path.is_file()]
    if not found:
        raise Missing(
            f"No training curves in {figures_dir}/: run the train_validation_model or "
            "train_production_model action."
        )
    figures = [
        figure_html(path, f"{caption} ({path.name}, written {written(path)})") for path, caption in found
    ]
    if found[0][0].name == VALIDATION_HISTORY_FIGURE:  # the validation curves, wide, over the others
        return figures[0] + f'<div class="grid two">{"".join(figures[1:])}</div>'
    return f'<div class="grid two">{"".join(figures)}</div>'


def users_section(config: Config, experiment: Experiment | None) -> str:
    path = RunLayout.of(config).recommendations
    if not path.is_file():
        raise Missing(f"No recommendations file {path}: run the compute_predictions action.")
    users, lists, total = read_sample(path, config.recommendations_format, config.seed, SAMPLE_USERS)
    if not users:
        raise Missing(f"{path} holds no users.")
    raw = loaded(experiment, "raw")
    item_ids = [item for user in users for item, _ in lists[user]["items"][:LIST_ROWS]]
    user_histories: dict[str, pl.DataFrame] = {}
    user_rows: dict[str, dict] = {}
    if raw is not None:
        user_histories = histories(raw, users)
        for frame in user_histories.values():
            item_ids += frame["item"].to_list()
        user_rows = feature_rows(raw.user_features, users)
    items = feature_rows(raw.item_features if raw is not None else None, item_ids)
    columns = feature_columns(raw.item_features if raw is not None else None, config.item_name_column)
    intro = (
        f'<p class="source">{len(users)} of {total:,} users, chosen with seed {config.seed}, from '
        f"{escape(str(path))} (written {escape(written(path))}). Up to {LIST_ROWS} items of each list"
        + (", the history latest first" if raw is not None and raw.has_timestamps else "")
        + ".</p>"
    )
    if raw is None:
        intro += note("No histories or item features: this run's actions did not load the data.")
    cards = []
    for user in users:
        recommended = lists[user]
        title = f"User {user}"
        details = dict(user_rows.get(user) or {})
        name = details.pop(config.user_name_column, None) if config.user_name_column else None
        if name is not None:
            title += f" ({short_text(name)})"
        if details:
            shown = list(details.items())[: FEATURE_COLUMNS + 1]
            title += " — " + ", ".join(f"{k} {short_text(v)}" for k, v in shown)
        served = recommended.get("served_by")
        history = user_histories.get(user)
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
            else note("Not in the loaded data." if raw is not None else "Data not loaded.")
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
            else note("Nothing left to recommend.")
        )
        counted = f"top {min(len(pairs), LIST_ROWS)} of {len(pairs)}" if pairs else "none"
        cards.append(
            f'<div class="card"><h3>{escape(title)}</h3><div class="pair">'
            f"<div><h4>Interacted with ({n_history:,})</h4>{history_html}</div>"
            f"<div><h4>Recommended ({counted}"
            + (f"; served by {escape(served)}" if served and served != "model" else "")
            + f")</h4>{rec_html}</div></div></div>"
        )
    return intro + "".join(cards)


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
        cells = [f"<td><code>{escape(item)}</code></td>"]
        cells += [f"<td>{escape(short_text(features.get(c)))}</td>" for c in columns]
        if values is not None:
            cells.append(f'<td class="num">{escape(number_text(values[position]))}</td>')
        if times is not None:
            cells.append(f'<td class="num">{escape(time_text(times[position]))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = len(ids) - LIST_ROWS
    footer = f'<p class="more">… and {more:,} more</p>' if more > 0 else ""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (
        f'<table class="grid-table items"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table>{footer}"
    )
