"""What the report shows of a few users: their recommendations, read from the recommendations file
in a stream (only the chosen users' lists are parsed), their histories and the items' features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

__all__ = ["FEATURE_COLUMNS", "feature_columns", "feature_rows", "histories", "read_sample"]

FEATURE_COLUMNS = 4  # item feature columns shown at most


def read_sample(path: Path, fmt: str, seed: int, n: int) -> tuple[list[str], dict[str, dict], int]:
    """(`n` users chosen by `seed`, {user: {"items": [(item, score), ...] best first, "served_by"}},
    number of users in the file) from a recommendations file of format `fmt`. User ids are text (the
    keys of the JSON file). The file is read in a stream or lazily: only the chosen users' lists are
    parsed."""
    rng = np.random.default_rng(seed)
    if fmt == "json":
        return _json_sample(path, rng, n)
    if fmt == "jsonl" and path.stat().st_size == 0:  # every list was empty: no rows at all
        return [], {}, 0
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
    """The JSON file as `recsys.serve.outputs` writes it has one user per line between `{` and `}`: count
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


def histories(raw: Any, users: list[str]) -> dict[str, pl.DataFrame]:
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


def feature_rows(table: pl.DataFrame | None, ids: list) -> dict[str, dict]:
    """{text id: {feature: value}} of the feature table's rows for `ids` (a few)."""
    if table is None or not ids:
        return {}
    wanted = sorted({str(i) for i in ids})
    rows = table.filter(pl.col("id").cast(pl.String).is_in(wanted))
    columns = [c for c in table.columns if c != "id"]
    return {str(row["id"]): {c: row[c] for c in columns} for row in rows.iter_rows(named=True)}


def feature_columns(table: pl.DataFrame | None, name_column: str | None = None) -> list[str]:
    """The item feature columns shown: the configured `name_column` (`item_name_column`) first, else
    a title or name column when there is one, then the others in order."""
    if table is None:
        return []
    names = [c for c in table.columns if c != "id"]
    names.sort(key=lambda c: (c != name_column, c.lower() not in ("title", "name")))
    return names[:FEATURE_COLUMNS]
