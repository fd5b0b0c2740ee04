"""How sure a difference between two systems is: a paired bootstrap over test users.

Two systems ranked for the same users give two per-user arrays of one metric
(`recsys.eval.evaluation.evaluate_per_user`). The difference reported is relative, in per cent:
100 · (mean(system) / mean(reference) − 1). Its 95 % interval comes from resampling the users
with replacement, the same resample for both systems (so what both find easy or hard cancels),
recomputing the relative difference on each resample, and taking the 2.5th and 97.5th
percentiles. If the test users are a sample of the users a system will serve, about 95 of 100
such intervals contain the true difference. A win is claimed only when the lower bound is above
zero; an interval that contains zero means "within noise" at this number of users.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.random(2000)
    >>> difference = paired_bootstrap(reference * 1.1, reference)
    >>> round(difference.change, 1), difference.verdict
    (10.0, 'better')
    >>> paired_bootstrap(reference, reference).verdict
    'within noise'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.errors import DataError

__all__ = ["RESAMPLES", "RelativeDifference", "paired_bootstrap"]

RESAMPLES = 2000
_DRAWS_PER_BLOCK = 1 << 22  # user indices drawn at once (32 MB of int64)


@dataclass(frozen=True)
class RelativeDifference:
    """A system's relative difference to a reference, in per cent, with its interval.

    Attributes:
        change: 100 · (mean(system) / mean(reference) − 1) on the users as measured.
        low: The interval's lower bound (per cent).
        high: The interval's upper bound (per cent).
        level: The interval's coverage (0.95 for a 95 % interval).
        users: How many paired users it rests on.
    """

    change: float
    low: float
    high: float
    level: float = 0.95
    users: int = 0

    @property
    def verdict(self) -> str:
        """'better' (lower bound above 0), 'worse' (upper bound below 0) or 'within noise'."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "within noise"

    def __str__(self) -> str:
        """'+1.5 % [-0.3, +3.2]'."""
        return f"{self.change:+.1f} % [{self.low:+.1f}, {self.high:+.1f}]"


def paired_bootstrap(
    system: np.ndarray,
    reference: np.ndarray,
    resamples: int = RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> RelativeDifference:
    """The relative difference of `system` to `reference` with a paired percentile-bootstrap interval.

    Args:
        system: One metric value per user (e.g. NDCG@20), float.
        reference: The same metric for the same users, in the same order.
        resamples: Bootstrap resamples of the users.
        level: The interval's coverage, in (0, 1).
        seed: Seeds the resampling (the same seed gives the same interval).

    Returns:
        The `RelativeDifference` (change and bounds in per cent).

    Raises:
        DataError: the arrays differ in length, are empty, or the reference's mean is 0 (a relative
            difference to nothing is undefined).

    Example:
        >>> import numpy as np
        >>> str(paired_bootstrap(np.array([1.0, 1.0]), np.array([1.0, 1.0])))
        '+0.0 % [+0.0, +0.0]'
    """
    system = np.asarray(system, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    if system.shape != reference.shape:
        raise DataError(
            f"a paired interval needs one value per user from both systems: got {len(system):,} and "
            f"{len(reference):,} values; evaluate both on the same held-out matrix."
        )
    n = len(system)
    if n == 0:
        raise DataError("a paired interval needs at least one user; the held-out matrix has none.")
    if not 0 < level < 1:
        raise DataError(f"level must be in (0, 1), e.g. 0.95; got {level}.")
    if reference.sum() == 0:
        raise DataError(
            "the reference system scores 0 for every user: a relative difference to it is undefined."
        )
    rng = np.random.default_rng(seed)
    ratios = np.empty(resamples)
    block = max(1, _DRAWS_PER_BLOCK // n)
    for start in range(0, resamples, block):  # a handful of blocks, not one per resample
        stop = min(resamples, start + block)
        drawn = rng.integers(0, n, size=(stop - start, n))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start:stop] = system[drawn].sum(axis=1) / reference[drawn].sum(axis=1)
    changes = 100.0 * (ratios - 1.0)
    changes = changes[np.isfinite(changes)]  # a resample whose reference sums to 0 has no ratio
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(changes, [tail, 100.0 - tail]) if len(changes) else (np.nan, np.nan)
    change = 100.0 * (system.sum() / reference.sum() - 1.0)
    return RelativeDifference(float(change), float(low), float(high), level, n)
