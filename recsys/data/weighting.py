"""How much each positive interaction weighs in training: by its score and by its recency.

- Scores: 'linear' (score / mean) for ratings on a small scale, 'log' (1 + log(1 + score /
  median)) for counts such as plays, clicks or minutes; 'auto' chooses from the scores
  (`choose_score_weighting`).
- Recency: exp(s (p - 1)), p the interaction's time-rank percentile in its user's history
  (`recency_percentiles`), so a user's newest interactions weigh most.

Plain numpy (no Keras), so the baselines share the same definitions: recency-weighted EASE weighs
its scoring history by `recency_weights`, and iALS' log confidence is built on `log_count_scale`.

Example (three ratings of one user, the newest last):
    >>> from recsys.data.interactions import Interactions
    >>> ratings = Interactions(np.zeros(3, np.int32), np.arange(3, dtype=np.int32), 1, 3,
    ...                        scores=np.array([1.0, 3.0, 5.0]), timestamps=np.array([1.0, 2.0, 3.0]))
    >>> [round(float(w), 2) for w in positive_weights(ratings, use_scores=True, recency=0.0)]  # score / mean
    [0.33, 1.0, 1.67]
    >>> recency_weights(ratings, 2.0).round(2).tolist()  # exp(2 (p - 1)), p = 0, 1/2, 1
    [0.14, 0.37, 1.0]
"""

from __future__ import annotations

import numpy as np

from recsys.data.arrays import per_user_positions, sort_order
from recsys.data.interactions import Interactions
from recsys.errors import DataError

__all__ = [
    "RATING_SCALE_MAX",
    "SCORE_WEIGHTINGS",
    "choose_score_weighting",
    "log_count_scale",
    "positive_weights",
    "recency_percentiles",
    "recency_weights",
    "score_weights",
]

RATING_SCALE_MAX = 10.0  # scores within [0, 10] read as ratings (stars, points); larger as counts
# What each score weighting does, in words for the log.
SCORE_WEIGHTINGS = {"linear": "linearly (score / mean)", "log": "by 1 + log(1 + score / median)"}


def choose_score_weighting(scores: np.ndarray, setting: str = "auto") -> tuple[str, str]:
    """The score weighting in force and why, in words for the log: `setting` itself unless 'auto';
    then 'linear' for ratings on a small fixed scale (every score within [0, 10]) and 'log' for
    anything larger (plays, clicks, minutes: heavy-tailed counts, where score / mean would let a
    handful of pairs dominate the loss)."""
    low, high = float(scores.min()), float(scores.max())
    span = f"scores {_readable(low)} to {_readable(high)}"
    if setting != "auto":
        return setting, f"score_weighting = {setting!r}; {span}"
    if low >= 0 and high <= RATING_SCALE_MAX:
        return "linear", f"{span} look like ratings"
    return "log", f"{span} look like counts (median {_readable(float(np.median(scores)))})"


def _readable(value: float) -> str:
    """350,000 rather than 3.5e+05; 0.1 and 4.5 as they are."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:,.4g}"


def log_count_scale(scores: np.ndarray) -> np.ndarray:
    """log(1 + score / median positive score): the log scaling of counts (Hu, Koren & Volinsky,
    with the median as epsilon), scale-free (hours or seconds give the same values). The two-tower
    model's 'log' weights and iALS' 'log' confidence (`recsys.eval.baselines.confidence_matrix`) are
    1 + (alpha x) this."""
    scores = np.maximum(scores.astype(np.float64), 0.0)
    positive = scores[scores > 0]
    return np.log1p(scores / (float(np.median(positive)) if positive.size else 1.0))


def score_weights(scores: np.ndarray, weighting: str) -> np.ndarray:
    """Per-positive weight from its score, before normalisation: 'linear' is the score itself;
    'log' is 1 + `log_count_scale`, which grows slowly, so the heaviest pair weighs tens of times
    the lightest, not thousands. A score of 0 weighs as the lowest positive score does (the
    `zero_scores = 'keep'` policy), so all-zero scores weigh alike, and one non-zero score changes
    nothing for the zeros.

    Example:
        >>> (score_weights(np.array([0.0, 2.0, 4.0]), "linear") == [2.0, 2.0, 4.0]).all()
        np.True_
        >>> score_weights(np.zeros(3), "linear").tolist()
        [1.0, 1.0, 1.0]
    """
    scores = np.maximum(scores.astype(np.float64), 0.0)
    weights = 1.0 + log_count_scale(scores) if weighting == "log" else scores.copy()
    positive = scores > 0
    weights[~positive] = weights[positive].min() if positive.any() else 1.0
    return weights


def positive_weights(
    interactions: Interactions, use_scores: bool, recency: float, score_weighting: str = "linear"
) -> np.ndarray:
    """Per-interaction weight, mean 1: the score's weight (if asked and present; see
    `score_weights`, `score_weighting` 'auto' resolved by `choose_score_weighting`), times the
    recency weight."""
    weights = np.ones(len(interactions), dtype=np.float64)
    if use_scores and interactions.scores is not None:
        scores = interactions.scores.astype(np.float64)
        if scores.min() >= 0:
            kind, _ = choose_score_weighting(scores, score_weighting)
            weights *= score_weights(scores, kind)
    if recency and interactions.timestamps is not None:
        weights *= recency_weights(interactions, recency)
    return (weights / weights.mean()).astype(np.float32)


def recency_weights(interactions: Interactions, strength: float) -> np.ndarray:
    """exp(strength * (p - 1)) with p the time-rank percentile of each interaction in its user's
    history (`recency_percentiles`: 1 for the newest, shared by simultaneous interactions)."""
    return np.exp(strength * (recency_percentiles(interactions) - 1.0))


def recency_percentiles(interactions: Interactions) -> np.ndarray:
    """Each interaction's time-rank percentile p in its user's history: rank / (count - 1), 0 for
    the oldest and 1 for the newest; interactions at the same time share the rank of the newest of
    them, and a user with a single interaction (or all at one time) has p = 1 throughout.

    The recency of both the two-tower model's positive weights and recency-weighted EASE's
    history (`recsys.eval.baselines.recency_history`), through `recency_weights`."""
    users, timestamps = interactions.users, interactions.timestamps
    if timestamps is None:
        raise DataError("recency weighting needs timestamps; the interactions have none.")
    order = sort_order(users, timestamps)
    positions, counts = per_user_positions(users, order, interactions.n_users)
    sorted_users, sorted_times = users[order], timestamps[order]
    starts_group = np.ones(len(order), dtype=bool)  # a group: one user's interactions at one time
    starts_group[1:] = (sorted_users[1:] != sorted_users[:-1]) | (sorted_times[1:] != sorted_times[:-1])
    group_of = np.cumsum(starts_group) - 1
    last_of_group = np.append(np.flatnonzero(starts_group)[1:] - 1, len(order) - 1)
    rank = np.empty(len(order), dtype=np.float64)
    rank[order] = positions[order][last_of_group[group_of]]
    user_count = counts[users]
    return np.where(user_count > 1, rank / np.maximum(user_count - 1, 1), 1.0)
