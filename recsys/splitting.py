"""Split interactions into training and validation parts.

- 'time': the last `fraction` of each user's interactions by time (the honest default when
  timestamps exist: a random split leaks the future and flatters the model);
- 'random': a seeded random `fraction` of each user's interactions;
- 'global_time': everything after one time cutoff (a quantile of all timestamps).

Invariants: every user in validation keeps at least one training interaction; users with a single
interaction stay in training only. The result records how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsys.errors import ConfigError, DataError
from recsys.interactions import Interactions, per_user_positions, sort_order
from recsys.log import plural, say


@dataclass
class Split:
    train: Interactions
    validation: Interactions
    description: dict = field(default_factory=dict)


def holdout_counts(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Interactions each user holds out: floor(fraction * n), at least 1, at most n - 1 (0 for n < 2)."""
    n_val = np.maximum(1, np.floor(fraction * counts).astype(np.int64))
    return np.where(counts >= 2, np.minimum(n_val, counts - 1), 0)


def per_user_holdout(interactions: Interactions, fraction: float, by_time: bool, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: each user's last (by time) or random `fraction`."""
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(interactions))
    if by_time:
        if interactions.timestamps is None:
            raise DataError("a time-based split needs timestamps; the interactions have none.")
        order = sort_order(interactions.users, interactions.timestamps, tiebreak)
    else:
        order = sort_order(interactions.users, tiebreak)
    positions, counts = per_user_positions(interactions.users, order, interactions.n_users)
    n_val = holdout_counts(counts, fraction)
    return positions >= (counts - n_val)[interactions.users]


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


def split_interactions(interactions: Interactions, config) -> Split:
    """Split by `config.split_strategy` ('auto' = 'time' when timestamps exist, else 'random')."""
    strategy = config.split_strategy
    has_time = interactions.timestamps is not None
    if strategy == "auto":
        strategy = "time" if has_time else "random"
    if strategy in ("time", "global_time") and not has_time:
        raise ConfigError(
            f"split_strategy={strategy!r} needs timestamps; "
            "set timestamp_column in config.py or use 'random'."
        )
    description = {"strategy": strategy, "seed": config.seed}
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
    else:
        is_val = per_user_holdout(interactions, config.per_user_val_fraction, strategy == "time", config.seed)
        description["per_user_val_fraction"] = config.per_user_val_fraction
    split = Split(interactions.subset(~is_val), interactions.subset(is_val), description)
    n_single = int((interactions.user_counts() == 1).sum())
    description.update(
        train_interactions=len(split.train),
        validation_interactions=len(split.validation),
        validation_users=int(np.unique(split.validation.users).size),
        single_interaction_users_train_only=n_single,
    )
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
