"""Split interactions into training and validation parts.

- 'time': the last `fraction` of each user's interactions by time (the honest default when
  timestamps exist: a random split leaks the future and flatters the model);
- 'random': a seeded random `fraction` of each user's interactions;
- 'global_time': everything after one time cutoff (a quantile of all timestamps);
- 'leave_last_out': each user's last interaction by time (the protocol of published sequential
  results: SASRec, gSASRec, HSTU), the rest trains.

Invariants: every user in validation keeps at least one training interaction; users with a single
interaction stay in training only. The result records how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys.config import TIME_SPLITS, Config
from recsys.data.arrays import sort_order
from recsys.data.interactions import Interactions
from recsys.errors import ConfigError, DataError
from recsys.log import plural, say

__all__ = [
    "DRAW_BLOCK",
    "Split",
    "global_time_holdout",
    "holdout_counts",
    "per_user_holdout",
    "split_interactions",
]


@dataclass
class Split:
    train: Interactions
    validation: Interactions
    description: dict = field(default_factory=dict)


def holdout_counts(counts: np.ndarray, fraction: float | None) -> np.ndarray:
    """Interactions each user holds out: floor(fraction * n), at least 1, at most n - 1 (0 for n < 2);
    fraction None holds out exactly one (leave-last-out)."""
    n_val = np.ones(len(counts), dtype=np.int64)
    if fraction is not None:
        n_val = np.maximum(1, np.floor(fraction * counts).astype(np.int64))
    return np.where(counts >= 2, np.minimum(n_val, counts - 1), 0)


DRAW_BLOCK = 1 << 20  # tiebreak draws per block (8 MB)


def per_user_holdout(
    interactions: Interactions, fraction: float | None, by_time: bool, seed: int
) -> np.ndarray:
    """Boolean mask of validation rows: each user's last (by time) or random `fraction` (None: one
    interaction per user with two or more; ties in time are broken by a seeded draw).

    In the sorted order each user's rows are one block, its training rows first: the mask in that
    order is one `np.repeat` of False/True per user, put back in row order with one scatter (no
    per-row positions, which cost five 20-million-row arrays)."""
    rng = np.random.default_rng(seed)
    if by_time:
        if interactions.timestamps is None:
            raise DataError("a time-based split needs timestamps; the interactions have none.")
        # The tiebreak of a row is rng.random(n)[row], drawn only for rows tied on user and time.
        n = len(interactions)
        order = sort_order(
            interactions.users, interactions.timestamps, tiebreak=lambda rows: _draws_at(rng, rows, n)
        )
    else:
        order = sort_order(interactions.users, rng.random(len(interactions)))
    counts = interactions.user_counts()
    n_val = holdout_counts(counts, fraction)
    blocks = np.column_stack([counts - n_val, n_val]).ravel()
    is_val = np.empty(len(interactions), dtype=bool)
    is_val[order] = np.repeat(np.tile([False, True], interactions.n_users), blocks)
    return is_val


def _draws_at(rng: np.random.Generator, rows: np.ndarray, n: int) -> np.ndarray:
    """`rng.random(n)[rows]`, drawn block by block into one reused buffer: the generator fills
    doubles in sequence, so the numbers are those of one call for all `n`, without holding them."""
    if len(rows) > n // 8:  # most rows: the one call is simpler and as small
        return rng.random(n)[rows]
    wanted = np.sort(rows)
    values = np.empty(len(wanted))
    buffer = np.empty(min(n, DRAW_BLOCK))
    bounds = np.searchsorted(wanted, np.arange(0, n + DRAW_BLOCK, DRAW_BLOCK))
    last = int(wanted[-1]) if len(wanted) else -1
    for block, start in enumerate(range(0, last + 1, DRAW_BLOCK)):  # ~20 blocks, not rows
        size = min(DRAW_BLOCK, n - start)
        rng.random(out=buffer[:size])
        first, stop = bounds[block], bounds[block + 1]
        values[first:stop] = buffer[wanted[first:stop] - start]
    return values[np.searchsorted(wanted, rows)]


def _empty_global_split(interactions: Interactions, description: dict) -> str:
    """Why a global-time split left no validation interactions, in words: every timestamp equal,
    nothing after the cutoff, or only users with no history before it."""
    assert interactions.timestamps is not None  # the split checked them
    low, high = float(interactions.timestamps.min()), float(interactions.timestamps.max())
    cutoff, quantile = description["cutoff"], description["quantile"]
    if low == high:
        cause = f"every interaction has the same timestamp ({low:g}), so none is after a cutoff"
    elif not (interactions.timestamps > cutoff).any():
        cause = (
            f"no interaction is after the cutoff {cutoff:g} (global_time_cutoff_quantile {quantile}): "
            "the latest timestamps are all equal"
        )
    else:
        cause = (
            f"the {description['moved_to_train_no_history']:,} interactions after the cutoff {cutoff:g} "
            "all belong to users with no interaction before it, and stay in training"
        )
    return (
        f"the global_time split left no validation interactions: {cause}; lower "
        "global_time_cutoff_quantile, or use split_strategy 'time' (each user's latest) or 'random'."
    )


def global_time_holdout(interactions: Interactions, quantile: float) -> tuple[np.ndarray, float, int]:
    """Validation rows after the time cutoff; users left with no training rows go wholly to training."""
    timestamps = interactions.timestamps
    if timestamps is None:
        raise DataError("a time-based split needs timestamps; the interactions have none.")
    cutoff = float(np.quantile(timestamps, quantile))
    is_val = timestamps > cutoff
    train_counts = np.bincount(interactions.users[~is_val], minlength=interactions.n_users)
    no_history = train_counts[interactions.users] == 0
    moved = int((is_val & no_history).sum())
    return is_val & ~no_history, cutoff, moved


def split_interactions(interactions: Interactions, config: Config) -> Split:
    """Split by `config.split_strategy` ('auto' = 'time' when timestamps exist, else 'random')."""
    strategy = config.split_strategy
    has_time = interactions.timestamps is not None
    if strategy == "auto":
        strategy = "time" if has_time else "random"
    if strategy in TIME_SPLITS and not has_time:
        raise ConfigError(
            f"split_strategy={strategy!r} needs timestamps; "
            "set timestamp_column in config.py or use 'random'."
        )
    description: dict[str, Any] = {"strategy": strategy, "seed": config.seed}
    if strategy == "global_time":
        is_val, cutoff, moved = global_time_holdout(interactions, config.global_time_cutoff_quantile)
        description.update(
            cutoff=cutoff, quantile=config.global_time_cutoff_quantile, moved_to_train_no_history=moved
        )
        if moved:
            say(
                f"  {plural(moved, 'interaction')} after the cutoff belong to users "
                "with no earlier history: kept in training."
            )
    elif strategy == "leave_last_out":
        is_val = per_user_holdout(interactions, None, True, config.seed)
    else:
        is_val = per_user_holdout(interactions, config.per_user_val_fraction, strategy == "time", config.seed)
        description["per_user_val_fraction"] = config.per_user_val_fraction
    split = Split(interactions.subset(~is_val), interactions.subset(is_val), description)
    n_single = int((interactions.user_counts() == 1).sum())
    description.update(
        train_interactions=len(split.train),
        validation_interactions=len(split.validation),
        validation_users=int(np.count_nonzero(split.validation.user_counts())),
        single_interaction_users_train_only=n_single,
    )
    if len(split.validation) == 0 and strategy == "global_time":
        raise ConfigError(_empty_global_split(interactions, description))
    if len(split.validation) == 0:
        raise ConfigError(
            f"the split left no validation interactions: {n_single:,} of {interactions.n_users:,} users "
            "have a single interaction, which stays in training; set min_interactions_per_user to 2 or more, "
            "or use more data."
        )
    say(
        f"  split ({strategy}): {plural(len(split.train), 'training interaction')}, "
        f"{plural(len(split.validation), 'validation interaction')} "
        f"of {plural(description['validation_users'], 'user')}."
    )
    return split
