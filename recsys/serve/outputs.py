"""Writing top-N recommendations and similar items to disk, vectorised end to end.

JSON output keeps the seed's shape, `{user_id: [[item_id, score], ...], ...}` best first: keys are
JSON strings (JSON requires it), item ids keep their type (integers stay numbers, strings stay
strings), scores are rounded to 5 decimals (the service's answers too), null for a popular
fallback's items. The text is built column-wise with polars string
expressions (no Python object per user or item), then written atomically. `jsonl` and `parquet`
write one row per (user, rank, item, score) instead, rank 1 being the best.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from recsys.config import OUTPUT_FORMATS
from recsys.data.vocabulary import Vocabulary

__all__ = ["DECIMALS", "write_recommendations", "write_similar_items"]
from recsys.errors import ConfigError, DataError
from recsys.files import atomic_path

DECIMALS = 5  # scores in every file and service answer: rounded to this many decimals


def _json_tokens(ids: pl.Series, as_key: bool) -> pl.Series:
    """Each id as JSON text: integers as numbers (or quoted, for object keys), anything else as a
    properly escaped JSON string (polars' JSON encoder does the escaping)."""
    if ids.dtype.is_integer():
        text = ids.cast(pl.Utf8)
        return ('"' + text + '"') if as_key else text
    frame = pl.DataFrame({"v": ids.cast(pl.Utf8)})
    encoded = frame.select(pl.struct("v").struct.json_encode()).to_series()
    return encoded.str.slice(5).str.head(-1)  # '{"v":<json>}' -> '<json>'


def _score_text(scores: np.ndarray) -> pl.Series:
    """Each score as JSON text: rounded, and null for NaN (a popular fallback has no affinity)."""
    rounded = pl.Series("score", _rounded(scores))
    return pl.select(
        pl.when(rounded.is_nan()).then(pl.lit("null")).otherwise(rounded.cast(pl.Utf8))
    ).to_series()


def _rounded(scores: np.ndarray) -> np.ndarray:
    """Scores as float64 rounded to DECIMALS places; + 0.0 turns -0.0 into 0.0."""
    return np.round(scores.astype(np.float64), DECIMALS) + 0.0


def _check_lists(n_rows: int, items: np.ndarray, scores: np.ndarray, vocab: Vocabulary, what: str) -> None:
    if items.ndim != 2 or items.shape != scores.shape:
        raise DataError(
            f"{what}: items {items.shape} and scores {scores.shape} must be 2-d of the same shape"
        )
    if items.shape[0] != n_rows:
        raise DataError(f"{what}: {items.shape[0]} ranked lists for {n_rows} ids")
    if items.size and (items.max() >= len(vocab) or items.min() < -1):
        raise DataError(
            f"{what}: item indices must be -1 (padding) or in [0, {len(vocab)}), "
            f"got {items.min()}..{items.max()}"
        )
    listed = scores[items >= 0]
    if np.isinf(listed).any():
        raise DataError(f"{what}: scores of listed items must be finite numbers, or NaN for none (JSON null)")


def _flatten(items: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, rank 1.., item, score) of every non-padding entry, row-major (so grouped by row, best first)."""
    valid = items >= 0
    rows, cols = np.nonzero(valid)
    return rows, cols + 1, items[valid], scores[valid]


def _write_json(
    handle,
    keys: pl.Series,
    items: np.ndarray,
    scores: np.ndarray,
    vocab: Vocabulary,
    item_names: pl.Series | None = None,
) -> int:
    """Write the `{key: [[item, score], ...]}` document (one key per line) to a binary file handle,
    each entry `[item, score, name]` with `item_names`; return the number of keys with an empty list.

    Built rank by rank: column r holds every key's r-th entry as JSON text (null for padding), and
    one concat_str with ignore_nulls joins the columns into each key's list, so no per-key Python
    objects and no group-by are needed. Lines go out through polars' CSV writer, unquoted.
    """
    n_keys, n_ranks = items.shape
    valid = (items >= 0).T.ravel()  # rank-major: column r is the slice [r * n_keys, (r + 1) * n_keys)
    item_text = _json_tokens(vocab.ids, as_key=False).gather(np.where(valid, items.T.ravel(), 0))
    parts = [pl.lit("["), "item", pl.lit(","), "score"]
    named = {}
    if item_names is not None:  # JSON text of each name (null where unnamed)
        name_text = _json_tokens(item_names.cast(pl.String), as_key=False).fill_null("null")
        named["name"] = name_text.gather(np.where(valid, items.T.ravel(), 0))
        parts += [pl.lit(","), "name"]
    entries = (
        pl.DataFrame({"item": item_text, "score": _score_text(scores.T.ravel()), "valid": valid, **named})
        .select(pl.when("valid").then(pl.concat_str([*parts, pl.lit("]")])))
        .to_series()
    )
    columns = {f"r{r}": entries.slice(r * n_keys, n_keys) for r in range(n_ranks)}
    frame = pl.DataFrame({"key": _json_tokens(keys, as_key=True), **columns})
    lists = (
        pl.concat_str([pl.col(name) for name in columns], separator=",", ignore_nulls=True)
        if columns
        else pl.lit("")
    )
    comma = (
        pl.when(pl.int_range(pl.len()) < pl.len() - 1).then(pl.lit(",")).otherwise(pl.lit(""))
    )  # none after the last
    lines = frame.select(pl.concat_str([pl.col("key"), pl.lit(":["), lists, pl.lit("]"), comma]))
    handle.write(b"{\n")
    lines.write_csv(handle, include_header=False, quote_style="never")
    handle.write(b"}\n")
    return int(np.count_nonzero(~(items >= 0).any(axis=1))) if n_ranks else n_keys


def _rows_frame(
    user_ids: pl.Series,
    items: np.ndarray,
    scores: np.ndarray,
    vocab: Vocabulary,
    round_scores: bool,
    served_by: np.ndarray | None = None,
    item_names: pl.Series | None = None,
    user_names: pl.Series | None = None,
) -> pl.DataFrame:
    rows, ranks, item_idx, score = _flatten(items, scores)
    values = pl.Series("score", _rounded(score) if round_scores else score.astype(np.float32)).fill_nan(None)
    columns = {"user": user_ids.gather(rows)}
    if user_names is not None:
        columns["user_name"] = user_names.cast(pl.String).gather(rows)
    columns |= {
        "rank": pl.Series(ranks, dtype=pl.Int32),
        "item": vocab.ids.gather(item_idx),
        "score": values,
    }
    if item_names is not None:
        columns["name"] = item_names.cast(pl.String).gather(item_idx)
    if served_by is not None:
        columns["served_by"] = pl.Series(served_by.astype(str)).gather(rows)
    return pl.DataFrame(columns)


def write_recommendations(
    path: str | Path,
    user_ids: pl.Series,
    top_items: np.ndarray,
    top_scores: np.ndarray,
    item_vocab: Vocabulary,
    fmt: str = "json",
    served_by: np.ndarray | None = None,
    item_names: pl.Series | None = None,
    user_names: pl.Series | None = None,
) -> dict:
    """Write each user's ranked items (rows of `top_items`, item indices, -1 padded) atomically.

    `served_by` (one label per user, e.g. 'model', 'fold_in', 'popular'), `item_names` (one
    display name per item of the vocabulary, `recsys.data.names`) and `user_names` (one per user of
    `user_ids`) become columns of the jsonl and parquet rows (`served_by`, `name`, `user_name`);
    the JSON keeps the seed's shape. Returns {"users",
    "users_with_empty_lists", "path", "format"}; users with no items left get an empty list in JSON
    and no rows in jsonl/parquet, and are counted either way.
    """
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(
            f"unknown recommendations format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)}"
        )
    user_ids = pl.Series(user_ids) if not isinstance(user_ids, pl.Series) else user_ids
    if user_ids.null_count():
        raise DataError(f"user ids contain {user_ids.null_count()} missing values")
    top_items = np.asarray(top_items)
    top_scores = np.asarray(top_scores)
    _check_lists(len(user_ids), top_items, top_scores, item_vocab, "recommendations")
    path = Path(path)
    empty = int(np.count_nonzero(~(top_items >= 0).any(axis=1))) if top_items.shape[1] else len(user_ids)
    with atomic_path(path) as tmp:
        if fmt == "json":
            with open(tmp, "wb") as handle:
                _write_json(handle, user_ids, top_items, top_scores, item_vocab)
        elif fmt == "jsonl":
            rows = _rows_frame(
                user_ids, top_items, top_scores, item_vocab, True, served_by, item_names, user_names
            )
            rows.write_ndjson(tmp)
        else:
            rows = _rows_frame(
                user_ids, top_items, top_scores, item_vocab, False, served_by, item_names, user_names
            )
            rows.write_parquet(tmp)
    return {"users": len(user_ids), "users_with_empty_lists": empty, "path": str(path), "format": fmt}


def write_similar_items(
    path: str | Path,
    item_vocab: Vocabulary,
    items: np.ndarray,
    scores: np.ndarray,
    item_indices: np.ndarray | None = None,
    item_names: pl.Series | None = None,
) -> dict:
    """Write `{item_id: [[similar_item_id, score], ...]}` atomically (rows = all items, or
    `item_indices` when similar_items was asked for a subset); with `item_names` (one per item of
    the vocabulary) each entry is `[similar_item_id, score, name]` (null where unnamed). Returns a
    summary dict."""
    items = np.asarray(items)
    scores = np.asarray(scores)
    keys = item_vocab.ids if item_indices is None else item_vocab.ids_at(np.asarray(item_indices))
    _check_lists(len(keys), items, scores, item_vocab, "similar items")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        empty = _write_json(handle, keys, items, scores, item_vocab, item_names)
    return {"items": len(keys), "items_with_empty_lists": empty, "path": str(path)}
