"""Prepare loaded data for training: merge duplicates, handle negative scores, filter rare
users/items until stable, map ids to contiguous indices, and align feature tables with those indices.

Every step reports how many rows it removed and why; nothing is dropped silently. A negative score
marks a dislike, which must never train as a like: `negative_scores` drops such interactions (after
repeated pairs are merged, so a later dislike overrides an earlier like) or stops with an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.data.alignment import align_features
from recsys.data.arrays import (
    BLOCK_ROWS,
    count_codes,
    gather_rows,
    keep_in_place,
    kept_rows,
    numpy_chunks,
    sort_order,
)
from recsys.data.ids import distinct_values
from recsys.data.interactions import Interactions
from recsys.data.names import check_name_column
from recsys.data.raw import ITEM, SCORE, TIMESTAMP, USER, RawData
from recsys.data.values import FLOAT32_MAX
from recsys.data.vocabulary import Vocabulary
from recsys.errors import DataError
from recsys.log import plural, say

__all__ = ["PreparedData", "factorize", "filter_min_counts", "merge_duplicates", "pair_keys", "prepare"]

Column = np.ndarray | pl.Series  # scores and times: as loaded (polars) or picked rows (numpy)


@dataclass
class PreparedData:
    """Indexed interactions, both vocabularies, and feature tables aligned row-for-row with indices."""

    interactions: Interactions
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    user_features: pl.DataFrame | None = None  # row i = features of user index i (nulls where unknown)
    item_features: pl.DataFrame | None = None
    report: dict = field(default_factory=dict)
    # users x items: the (user, item) pairs dropped as dislikes (negative scores) of users and items
    # that remain; never recommended back to that user. None when there are none.
    disliked: sp.csr_matrix | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)


def factorize(ids: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Dense codes 0..n-1 (int32) in sorted id order, and the sorted unique ids (text as String).

    Codes stay 32-bit and are made in place where polars allows: on 20 million rows every extra
    64-bit copy is 160 MB, and fresh memory (page faults) costs more than the arithmetic. Each
    row's code is one gather from a small table where one exists: the rank of each Categorical
    code, or of each integer id when the ids are below the number of rows (no hashing, no sort)."""
    if isinstance(ids.dtype, (pl.Categorical, pl.Enum)) and ids.null_count() == 0:
        distinct = distinct_values(ids)  # ranked as text, then each row's rank looked up by code
        text = distinct.cast(pl.String)
        uniques = text.sort()
        rank = np.zeros(int(cast(int, distinct.to_physical().max())) + 1, dtype=np.int32)
        rank[distinct.to_physical().to_numpy()] = uniques.search_sorted(text).to_numpy()
        return gather_rows(rank, ids), uniques
    if ids.dtype in (pl.Int64, pl.UInt64) and ids.null_count() == 0:
        low, high = cast(int, ids.min()), cast(int, ids.max())
        if low >= 0 and high < len(ids):  # a table no larger than the codes: ids index it directly
            present = np.zeros(high + 1, dtype=bool)
            for _, chunk in numpy_chunks(ids):
                present[chunk] = True
            rank = (np.cumsum(present) - 1).astype(np.int32)
            return gather_rows(rank, ids), pl.Series(ids.name, np.flatnonzero(present), dtype=ids.dtype)
    uniques = ids.unique().sort()
    if ids.dtype.is_numeric():  # binary search in the few unique ids beats a full sort
        codes = uniques.search_sorted(ids).to_numpy()
    else:  # each text id's position among the sorted uniques, by one hash lookup per row
        codes = ids.cast(pl.Enum(uniques)).to_physical().to_numpy()
    return codes.astype(np.int32, copy=False) if codes.dtype != np.uint32 else codes.view(np.int32), uniques


def pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """One int64 per row, `user * n_items + item` (codes from `factorize`): (user, item) pairs as
    single integers, which hash and compare far cheaper than pairs. Made in place in one 64-bit
    array; a polars struct of the two id columns takes about 170 bytes per row to count its
    distinct values."""
    key = users.astype(np.int64)
    key *= n_items
    key += items
    return key


def merge_duplicates(
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    scores: Column | None,
    timestamps: Column | None,
    policy: str,
    source: str,
) -> tuple[np.ndarray | None, Column | None, int]:
    """Resolve repeated (user, item) rows by `policy`.

    Returns (indices of the rows kept, or None when every row is kept; scores for them (merged
    for 'sum'; `scores` itself when every row is kept); number of rows merged away). Only the
    duplicated rows are sorted, so the common no-duplicate case costs one hash pass.
    """
    key = pair_keys(users, items, n_items)
    key_series = pl.Series(key)  # a view, not a copy
    n_rows = len(key_series)
    if key_series.n_unique() == n_rows:  # the common case, decided by one hash pass
        return None, scores, 0
    duplicated = key_series.is_duplicated().to_numpy()
    dup_rows = np.flatnonzero(duplicated)
    if policy == "error":
        raise DataError(
            f"{source}: {len(dup_rows):,} rows repeat a (user, item) pair, e.g. data rows "
            f"{', '.join(str(r + 1) for r in dup_rows[:5])}. "
            "Set duplicate_policy to 'last', 'max' or 'sum' to merge them."
        )
    scores = None if scores is None else kept_rows(scores, None, np.float64)
    timestamps = None if timestamps is None else kept_rows(timestamps, None, np.float64)
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
    """Boolean mask of rows kept after removing rare users and items repeatedly until stable.

    The counts are made once and then lowered by the rows each round removes (after the first
    round, a few), and each row looks up a boolean per user and item, not a 64-bit count."""
    user_counts, item_counts = count_codes(users, n_users), count_codes(items, n_items)
    keep = np.ones(len(users), dtype=bool)
    rounds = 0
    while True:
        rounds += 1
        bad_rows = (user_counts < min_per_user)[users]
        bad_rows |= (item_counts < min_per_item)[items]
        bad_rows &= keep
        if not bad_rows.any():
            return keep, rounds
        keep &= ~bad_rows
        removed = np.flatnonzero(bad_rows)
        user_counts -= np.bincount(users[removed], minlength=n_users)
        item_counts -= np.bincount(items[removed], minlength=n_items)


def _reindex(codes: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Map old codes to new contiguous codes among `alive` (a boolean per old code), in place,
    block by block (`codes` is the caller's own array)."""
    if not alive.all():
        codes = codes if codes.flags.writeable else codes.copy()
        new_code = (np.cumsum(alive) - 1).astype(np.int32)
        for start in range(0, len(codes), BLOCK_ROWS):
            block = codes[start : start + BLOCK_ROWS]
            block[:] = new_code[block]
    return codes


def _check_negative_scores(scores: Column | None, raw: RawData, policy: str) -> None:
    """With negative_scores='error': a DataError naming the first negative score's row and value."""
    if scores is None or policy != "error":
        return
    negative = scores < 0
    if negative.any():
        rows = np.flatnonzero(np.asarray(negative))
        first = int(rows[0])
        raise DataError(
            f"{raw.source}: column {raw.column_name(SCORE)!r} row {first + 1} has the negative score "
            f"{scores[first]:g} ({len(rows):,} negative score(s)); negative_scores = 'error' refuses them "
            "(set negative_scores = 'drop' in config.py to remove them)."
        )


def _drop_negative_scores(
    scores: Column | None, raw: RawData, zero_scores: str = "keep"
) -> np.ndarray | None:
    """Mask of the (merged) interactions to keep: those without a negative score (nor a zero score
    with zero_scores='drop'); None: keep all."""
    if scores is None or not len(scores):
        return None
    drop_zeros = zero_scores == "drop"
    lowest = cast(float, scores.min())
    if not (lowest < 0 or (drop_zeros and lowest <= 0)):
        return None
    keep = np.asarray(scores > 0) if drop_zeros else np.asarray(scores >= 0)
    n_zero = int(np.count_nonzero(np.asarray(scores == 0))) if drop_zeros else 0
    n_negative = int((~keep).sum()) - n_zero
    if not keep.any():
        what = "a negative or zero score" if drop_zeros else "a negative score"
        raise DataError(
            f"{raw.source}: every one of the {plural(len(scores), 'interaction')} has {what} in "
            f"column {raw.column_name(SCORE)!r}, and negative_scores = 'drop'"
            + (" with zero_scores = 'drop'" if drop_zeros else "")
            + " removes them all; "
            + (
                "set zero_scores = 'keep' to learn from zero scores."
                if drop_zeros
                else "scores of 0 or more mark the interactions to learn from."
            )
        )
    if n_negative:
        say(
            f"  dropped {plural(n_negative, 'interaction')} with a negative score (negative_scores='drop'): "
            "dislikes are not trained as likes, and never recommended back to the user who gave them."
        )
    if n_zero:
        say(f"  dropped {plural(n_zero, 'interaction')} with a score of 0 (zero_scores='drop').")
    return keep


def prepare(raw: RawData, config: Config) -> PreparedData:
    """Merge duplicates, drop negative scores, filter by minimum counts (until stable), index, and
    align features."""
    check_name_column(raw.item_features, config.item_name_column, raw.item_features_source)
    check_name_column(raw.user_features, config.user_name_column, raw.user_features_source, side="user")
    frame = raw.interactions
    n_input = frame.height
    say(f"Preparing {plural(n_input, 'interaction')} from {raw.source}")
    user_codes, user_ids = factorize(frame[USER])
    item_codes, item_ids = factorize(frame[ITEM])
    # Scores and times stay polars columns until the rows to keep are known: each becomes one
    # numpy array of the kept rows (`kept_rows`), never a whole-column copy first.
    scores: Column | None = frame[SCORE] if SCORE in frame.columns else None
    timestamps: Column | None = frame[TIMESTAMP] if TIMESTAMP in frame.columns else None
    _check_negative_scores(scores, raw, config.negative_scores)

    kept, scores, n_merged = merge_duplicates(
        user_codes, item_codes, len(item_ids), scores, timestamps, config.duplicate_policy, raw.source
    )
    if kept is not None:
        user_codes, item_codes = user_codes[kept], item_codes[kept]
        timestamps = None if timestamps is None else kept_rows(timestamps, None, np.float64)[kept]
        say(
            f"  merged {plural(n_merged, 'duplicate row')} of repeated (user, item) pairs "
            f"(duplicate_policy={config.duplicate_policy!r})."
        )
    if (
        scores is not None
        and len(scores)
        and max(-cast(float, scores.min()), cast(float, scores.max())) > FLOAT32_MAX
    ):
        raise DataError(
            f"{raw.source}: summing the scores of repeated (user, item) pairs (duplicate_policy='sum') gives "
            f"{np.abs(scores).max():g}, beyond float32's range (about 3.4e38) in which training runs; "
            "rescale the scores or set duplicate_policy to 'last' or 'max'."
        )
    n_negative = 0
    disliked_codes: tuple[np.ndarray, np.ndarray] | None = None
    non_negative = _drop_negative_scores(scores, raw, config.zero_scores)
    if non_negative is not None and scores is not None:
        negative = ~non_negative & np.asarray(scores < 0)  # the dislikes, not the dropped zeros
        n_negative = int(negative.sum())
        disliked_codes = user_codes[negative], item_codes[negative]  # kept as pairs to exclude
        user_codes, item_codes = user_codes[non_negative], item_codes[non_negative]
        scores = None if scores is None else kept_rows(scores, non_negative, np.float64)
        timestamps = None if timestamps is None else kept_rows(timestamps, non_negative, np.float64)

    keep, rounds = filter_min_counts(
        user_codes,
        item_codes,
        len(user_ids),
        len(item_ids),
        config.min_interactions_per_user,
        config.min_interactions_per_item,
    )
    n_filtered = len(keep) - int(np.count_nonzero(keep))
    if n_filtered == len(keep):
        raise DataError(
            f"no interactions survive min_interactions_per_user={config.min_interactions_per_user} and "
            f"min_interactions_per_item={config.min_interactions_per_item} "
            f"({len(user_ids):,} users, {len(item_ids):,} items, "
            f"{len(user_codes):,} interactions before filtering). Lower the minimums in config.py."
        )
    # The codes of the kept rows, moved to the front of the codes' own arrays (made by `factorize`
    # or picked above, so owned here): the result's user and item arrays are no new memory.
    users, items = keep_in_place(user_codes, keep), keep_in_place(item_codes, keep)
    alive_users = count_codes(users, len(user_ids)) > 0
    alive_items = count_codes(items, len(item_ids)) > 0
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
        users=_reindex(users, alive_users),
        items=_reindex(items, alive_items),
        n_users=len(user_vocab),
        n_items=len(item_vocab),
        scores=None if scores is None else kept_rows(scores, keep, np.float32),
        timestamps=None if timestamps is None else kept_rows(timestamps, keep, np.float64),
    )
    disliked = _disliked_matrix(disliked_codes, alive_users, alive_items)
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
        "disliked_pairs_excluded": 0 if disliked is None else int(disliked.nnz),
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
    return PreparedData(interactions, user_vocab, item_vocab, user_features, item_features, report, disliked)


def _disliked_matrix(
    codes: tuple[np.ndarray, np.ndarray] | None, alive_users: np.ndarray, alive_items: np.ndarray
) -> sp.csr_matrix | None:
    """users x items binary matrix of the dropped dislikes whose user and item remain (in the new
    indices), or None when there are none."""
    if codes is None:
        return None
    users, items = codes
    keep = alive_users[users] & alive_items[items]
    new_user, new_item = _reindex(users[keep], alive_users), _reindex(items[keep], alive_items)
    shape = (int(alive_users.sum()), int(alive_items.sum()))
    matrix = sp.csr_matrix((np.ones(len(new_user), np.float32), (new_user, new_item)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix
