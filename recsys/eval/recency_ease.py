"""`RecencyWeightedEASE`: EASE's item x item matrix B, but each item of a user's history counts by
its recency, scores = (X ∘ W)_u B with W = exp(s (p - 1)), p the item's time-rank percentile in the
user's history (1 for the newest): a time-aware peer for data with timestamps; s = 0 is plain EASE."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.data.interactions import Interactions
from recsys.data.weighting import recency_weights
from recsys.errors import ConfigError, DataError, RecsysError
from recsys.eval.ease import EASE
from recsys.eval.evaluation import Scorer

__all__ = ["RecencyWeightedEASE", "check_strength", "recency_history", "require_timestamps"]


def check_strength(strength) -> float:
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise ConfigError(f"recency strength s must be a number >= 0, got {strength!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"recency strength s must be a number >= 0, got {strength!r}.")
    return value


def require_timestamps(interactions: Interactions) -> None:
    if not isinstance(interactions, Interactions):
        raise DataError(
            "recency-weighted EASE fits on Interactions (with timestamps), "
            f"got {type(interactions).__name__}."
        )
    if interactions.timestamps is None:
        raise DataError("recency-weighted EASE needs the interactions' timestamps; these have none.")
    if len(interactions) == 0:
        raise DataError("recency-weighted EASE: the training interactions are empty.")


def recency_history(interactions: Interactions, strength: float) -> sp.csr_matrix:
    """users x items float32 CSR of recency weights exp(s (p - 1)), p each interaction's time-rank
    percentile in its user's history (`recency_percentiles`); a pair that occurs more than once
    keeps its largest (newest) weight, so s = 0 gives exactly the binary matrix."""
    require_timestamps(interactions)
    strength = check_strength(strength)
    weights = recency_weights(interactions, strength).astype(np.float32)
    keys = interactions.users.astype(np.int64) * np.int64(interactions.n_items) + interactions.items
    order = np.lexsort((weights, keys))  # by pair, the largest weight last
    is_last = np.append(keys[order][1:] != keys[order][:-1], True)
    kept = order[is_last]
    matrix = sp.csr_matrix(
        (weights[kept], (interactions.users[kept], interactions.items[kept])),
        shape=(interactions.n_users, interactions.n_items),
        dtype=np.float32,
    )
    matrix.sort_indices()
    return matrix


class RecencyWeightedEASE:
    """EASE whose user representation weighs each history item by its recency.

    B is plain EASE's item x item matrix on the binary training matrix (L2 penalty l2); a user's
    scores are h_u B with h_u their recency weights exp(s (p - 1)) (`recency_history`). s = 0 is
    plain EASE; a larger s lets the latest items decide more of what comes next, which helps when
    tastes drift and the test items are each user's latest.
    """

    def __init__(self, memory_limit_bytes: int | None = None, method: str = "auto"):
        self.ease = EASE(memory_limit_bytes, method)
        self.strength: float | None = None
        self._history: sp.csr_matrix | None = None

    @property
    def l2(self) -> float | None:
        return self.ease.l2

    def fit(self, train: Interactions, l2: float = 500.0, strength: float = 2.0) -> RecencyWeightedEASE:
        """Fit B on the binary matrix of `train` and weigh its histories with recency strength s."""
        require_timestamps(train)
        history = recency_history(train, strength)
        self.ease.fit(train.user_item_matrix("binary"), l2=l2)
        return self._set(history, strength)

    def _set(self, history: sp.csr_matrix, strength: float) -> RecencyWeightedEASE:
        self._history, self.strength = history, check_strength(strength)
        return self

    def scorer(self) -> Scorer:
        """Scores (X ∘ W)_u B for the users' training histories."""
        if self._history is None:
            raise RecsysError(
                "RecencyWeightedEASE is not fitted yet; call fit(train, l2=..., strength=...) first."
            )
        return self.ease.scorer(self._history)
