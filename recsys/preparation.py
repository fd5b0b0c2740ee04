"""Prepare loaded data for training: merge duplicates, handle negative scores, filter rare
users/items until stable, map ids to contiguous indices, and align feature tables with those indices.

Every step reports how many rows it removed and why; nothing is dropped silently. A negative score
marks a dislike, which must never train as a like: `negative_scores` drops such interactions (after
repeated pairs are merged, so a later dislike overrides an earlier like) or stops with an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from recsys.errors import DataError
from recsys.interactions import Interactions, sort_order
from recsys.loading import FLOAT32_MAX, ITEM, SCORE, TIMESTAMP, USER, RawData, quoted
from recsys.log import plural, say
from recsys.vocabulary import Vocabulary


@dataclass
class PreparedData:
    """Indexed interactions, both vocabularies, and feature tables aligned row-for-row with indices."""

    interactions: Interactions
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    user_features: pl.DataFrame | None = None  # row i = features of user index i (nulls where unknown)
    item_features: pl.DataFrame | None = None
    report: dict = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)


def factorize(ids: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Dense codes 0..n-1 (int32) in sorted id order, and the sorted unique ids.

    Codes stay 32-bit and are made in place where polars allows: on 20 million rows every extra
    64-bit copy is 160 MB, and fresh memory (page faults) costs more than the arithmetic."""
    uniques = ids.unique().sort()
    if ids.dtype.is_numeric():  # binary search in the few unique ids beats a full sort
        codes = uniques.search_sorted(ids).to_numpy()
    else:  # each text id's position among the sorted uniques, by one hash lookup per row
        codes = ids.cast(pl.Enum(uniques)).to_physical().to_numpy()
    return codes.astype(np.int32, copy=False) if codes.dtype != np.uint32 else codes.view(np.int32), uniques


def merge_duplicates(
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    scores: np.ndarray | None,
    timestamps: np.ndarray | None,
    policy: str,
    source: str,
) -> tuple[np.ndarray | None, np.ndarray | None, int]:
    """Resolve repeated (user, item) rows by `policy`.

    Returns (indices of the rows kept, or None when every row is kept; scores for them (merged
    for 'sum'); number of rows merged away). Only the duplicated rows are sorted, so the common
    no-duplicate case costs one hash pass.
    """
    key_series = pl.Series(users.astype(np.int64) * np.int64(n_items) + items)
    n_rows = len(key_series)
    if key_series.n_unique() == n_rows:  # the common case, decided by one hash pass
        return None, scores, 0
    duplicated = key_series.is_duplicated().to_numpy()
    key = key_series.to_numpy()
    dup_rows = np.flatnonzero(duplicated)
    if policy == "error":
        raise DataError(
            f"{source}: {len(dup_rows):,} rows repeat a (user, item) pair, e.g. data rows "
            f"{', '.join(str(r + 1) for r in dup_rows[:5])}. "
            "Set duplicate_policy to 'last', 'max' or 'sum' to merge them."
        )
    # Order the duplicated rows by key, then by the policy's preference (the kept row sorts last).
    if policy == "max" and scores is not None:
        preference = scores[dup_rows]
    elif timestamps is not None:
        preference = timestamps[dup_rows]
    else:
        preference = dup_rows.astype(np.float64)  # file order
    order = sort_order(key[dup_rows], preference, dup_rows)
    sorted_rows = dup_rows[order]
    sorted_keys = key[sorted_rows]
    is_last = np.ones(len(sorted_rows), dtype=bool)
    is_last[:-1] = sorted_keys[1:] != sorted_keys[:-1]
    keep = np.ones(n_rows, dtype=bool)
    keep[sorted_rows[~is_last]] = False
    new_scores = scores
    if policy == "sum" and scores is not None:
        group_id = np.cumsum(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) - 1
        sums = np.bincount(group_id, weights=scores[sorted_rows])
        new_scores = scores.copy()
        new_scores[sorted_rows[is_last]] = sums
    kept = np.flatnonzero(keep)
    return kept, (None if new_scores is None else new_scores[kept]), int(n_rows - len(kept))


def filter_min_counts(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, min_per_user: int, min_per_item: int
) -> tuple[np.ndarray, int]:
    """Boolean mask of rows kept after removing rare users and items repeatedly until stable."""
    keep = np.ones(len(users), dtype=bool)
    rounds = 0
    while True:
        rounds += 1
        user_counts = np.bincount(users[keep], minlength=n_users)
        item_counts = np.bincount(items[keep], minlength=n_items)
        bad_rows = keep & ((user_counts[users] < min_per_user) | (item_counts[items] < min_per_item))
        if not bad_rows.any():
            return keep, rounds
        keep &= ~bad_rows


def _reindex(codes: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Map old codes to new contiguous codes among `alive` (a boolean per old code)."""
    new_code = (np.cumsum(alive) - 1).astype(np.int32)
    return new_code[codes]


def _reject_colliding_ids(original: pl.Series, ids: pl.Series, kind: str, source: str) -> None:
    """Two feature rows whose ids become the same interaction id once cast to its type (e.g. '1' and
    '01' against integer ids) would give one id two rows: a DataError naming both ids and rows."""
    duplicated = ids.is_duplicated() & ids.is_not_null()
    if not duplicated.any():
        return
    first = int(np.flatnonzero(duplicated.to_numpy())[0])
    second = int(np.flatnonzero((ids == ids[first]).fill_null(False).to_numpy())[1])
    raise DataError(
        f"{source}: ids {quoted(original[first])} (row {first + 1}) and {quoted(original[second])} "
        f"(row {second + 1}) both match {kind} id {quoted(ids[first])} of the interactions "
        f"({duplicated.sum():,} such rows); expected one feature row per {kind}."
    )


def align_features(
    features: pl.DataFrame | None,
    vocab: Vocabulary,
    kind: str,
    all_ids: pl.Series,
    source: str | None = None,
) -> tuple[pl.DataFrame | None, dict]:
    """Features ordered like the vocabulary (nulls for ids without a row); report unknown/missing ids.

    Feature ids are cast to the interaction ids' type; ids that then collide are an error."""
    if features is None:
        return None, {}
    source = source or f"{kind} features"
    ids = features["id"]
    if ids.dtype != vocab.ids.dtype:
        ids = ids.cast(vocab.ids.dtype, strict=False)
        _reject_colliding_ids(features["id"], ids, kind, source)
    index = vocab.indices_of(ids)
    matched = index >= 0
    if not matched.any():
        raise DataError(
            f"{source}: none of the {len(index):,} ids match a {kind} id of the interactions "
            f"(features ids look like {quoted(features['id'].head(3).to_list())}, "
            f"interaction ids like {quoted(vocab.ids.head(3).to_list())}). "
            "Check the id column of the feature table."
        )
    in_raw = (
        ids.is_in(all_ids.implode()).fill_null(False).to_numpy()
        if all_ids.dtype == ids.dtype
        else np.zeros(len(ids), bool)
    )
    unknown = int((~matched & ~in_raw).sum())  # ids never seen in the interactions
    filtered = int((~matched & in_raw).sum())  # ids of users/items removed by the filter
    aligned = (
        pl.DataFrame({"id": vocab.ids})
        .join(features.with_columns(ids.alias("id")), on="id", how="left", maintain_order="left")
        .drop("id")
    )
    missing = len(vocab) - int(matched.sum())
    report = {
        f"{kind}_feature_rows_unknown_id": unknown,
        f"{kind}_feature_rows_filtered_id": filtered,
        f"{kind}s_without_features": missing,
    }
    if unknown:
        say(f"  {kind} features: ignored {plural(unknown, 'row')} whose id never occurs in the interactions.")
    if filtered:
        say(
            f"  {kind} features: ignored {plural(filtered, 'row')} of {kind}s "
            "removed by the minimum-interaction filter."
        )
    if missing:
        say(
            f"  {kind} features: {plural(missing, kind)} have no feature row; "
            "their features are treated as missing."
        )
    return aligned, report


def _check_negative_scores(scores: np.ndarray | None, raw: RawData, policy: str) -> None:
    """With negative_scores='error': a DataError naming the first negative score's row and value."""
    if scores is None or policy != "error":
        return
    negative = scores < 0
    if negative.any():
        rows = np.flatnonzero(negative)
        raise DataError(
            f"{raw.source}: column {raw.column_name(SCORE)!r} row {rows[0] + 1} has the negative score "
            f"{scores[rows[0]]:g} ({len(rows):,} negative score(s)); negative_scores = 'error' refuses them "
            "(set negative_scores = 'drop' in config.py to remove them)."
        )


def _drop_negative_scores(scores: np.ndarray | None, raw: RawData) -> np.ndarray | None:
    """Mask of the (merged) interactions to keep: those without a negative score; None: keep all."""
    if scores is None or not (scores < 0).any():
        return None
    keep = scores >= 0
    n_dropped = int((~keep).sum())
    if not keep.any():
        raise DataError(
            f"{raw.source}: every one of the {plural(len(scores), 'interaction')} has a negative score in "
            f"column {raw.column_name(SCORE)!r}, and negative_scores = 'drop' removes them all; scores "
            "of 0 or more mark the interactions to learn from."
        )
    say(
        f"  dropped {plural(n_dropped, 'interaction')} with a negative score (negative_scores='drop'): "
        "dislikes are not trained as likes."
    )
    return keep


def prepare(raw: RawData, config) -> PreparedData:
    """Merge duplicates, drop negative scores, filter by minimum counts (until stable), index, and
    align features."""
    frame = raw.interactions
    n_input = frame.height
    say(f"Preparing {plural(n_input, 'interaction')} from {raw.source}")
    user_codes, user_ids = factorize(frame[USER])
    item_codes, item_ids = factorize(frame[ITEM])
    scores = frame[SCORE].to_numpy().astype(np.float64, copy=False) if SCORE in frame.columns else None
    timestamps = (
        frame[TIMESTAMP].to_numpy().astype(np.float64, copy=False) if TIMESTAMP in frame.columns else None
    )
    _check_negative_scores(scores, raw, config.negative_scores)

    kept, scores, n_merged = merge_duplicates(
        user_codes, item_codes, len(item_ids), scores, timestamps, config.duplicate_policy, raw.source
    )
    if kept is not None:
        user_codes, item_codes = user_codes[kept], item_codes[kept]
        timestamps = None if timestamps is None else timestamps[kept]
        say(
            f"  merged {plural(n_merged, 'duplicate row')} of repeated (user, item) pairs "
            f"(duplicate_policy={config.duplicate_policy!r})."
        )
    if scores is not None and (np.abs(scores) > FLOAT32_MAX).any():
        raise DataError(
            f"{raw.source}: summing the scores of repeated (user, item) pairs (duplicate_policy='sum') gives "
            f"{np.abs(scores).max():g}, beyond float32's range (about 3.4e38) in which training runs; "
            "rescale the scores or set duplicate_policy to 'last' or 'max'."
        )
    n_negative = 0
    non_negative = _drop_negative_scores(scores, raw)
    if non_negative is not None:
        n_negative = int((~non_negative).sum())
        user_codes, item_codes = user_codes[non_negative], item_codes[non_negative]
        scores = None if scores is None else scores[non_negative]
        timestamps = None if timestamps is None else timestamps[non_negative]

    keep, rounds = filter_min_counts(
        user_codes,
        item_codes,
        len(user_ids),
        len(item_ids),
        config.min_interactions_per_user,
        config.min_interactions_per_item,
    )
    n_filtered = int((~keep).sum())
    if not keep.any():
        raise DataError(
            f"no interactions survive min_interactions_per_user={config.min_interactions_per_user} and "
            f"min_interactions_per_item={config.min_interactions_per_item} "
            f"({len(user_ids):,} users, {len(item_ids):,} items, "
            f"{len(user_codes):,} interactions before filtering). Lower the minimums in config.py."
        )
    alive_users = np.bincount(user_codes[keep], minlength=len(user_ids)) > 0
    alive_items = np.bincount(item_codes[keep], minlength=len(item_ids)) > 0
    if n_filtered:
        dropped_users = plural(int((~alive_users).sum()), "user")
        dropped_items = plural(int((~alive_items).sum()), "item")
        say(
            f"  removed {plural(n_filtered, 'interaction')} of {dropped_users} with fewer than "
            f"{config.min_interactions_per_user} and {dropped_items} with fewer than "
            f"{config.min_interactions_per_item} interactions ({rounds} filtering rounds until stable)."
        )
    user_vocab = Vocabulary(user_ids.filter(pl.Series(alive_users)), "user")
    item_vocab = Vocabulary(item_ids.filter(pl.Series(alive_items)), "item")
    interactions = Interactions(
        users=_reindex(user_codes[keep], alive_users),
        items=_reindex(item_codes[keep], alive_items),
        n_users=len(user_vocab),
        n_items=len(item_vocab),
        scores=None if scores is None else scores[keep].astype(np.float32),
        timestamps=None if timestamps is None else timestamps[keep],
    )
    user_features, user_report = align_features(
        raw.user_features, user_vocab, "user", user_ids, raw.user_features_source
    )
    item_features, item_report = align_features(
        raw.item_features, item_vocab, "item", item_ids, raw.item_features_source
    )
    report = {
        "input_interactions": n_input,
        "duplicates_merged": n_merged,
        "negative_scores_dropped": n_negative,
        "filtered_interactions": n_filtered,
        "filter_rounds": rounds,
        "users_removed": int((~alive_users).sum()),
        "items_removed": int((~alive_items).sum()),
        "interactions": len(interactions),
        "users": len(user_vocab),
        "items": len(item_vocab),
        **user_report,
        **item_report,
    }
    say(
        f"  kept {plural(len(interactions), 'interaction')} of {plural(len(user_vocab), 'user')} "
        f"on {plural(len(item_vocab), 'item')}."
    )
    return PreparedData(interactions, user_vocab, item_vocab, user_features, item_features, report)
