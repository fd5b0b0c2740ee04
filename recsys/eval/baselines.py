"""The reference recommenders beside the two-tower model: one protocol, one registry.

- `MostPopular` (`recsys.eval.popular`): every user gets the items with the most training
  interactions (the floor to beat).
- `EASE` (`recsys.eval.ease`, Steck 2019): a closed-form item x item linear model.
- `RecencyWeightedEASE` (`recsys.eval.recency_ease`): EASE whose user histories weigh each item by
  its recency, a time-aware peer for data with timestamps.
- `IALS` (`recsys.eval.ials`): implicit-feedback matrix factorisation through `implicit`.

The protocol (`Baseline`): a model is fitted (`fit(train, ...)`, on a users x items sparse matrix,
or for `RecencyWeightedEASE` on the `Interactions` with their timestamps) and then `scorer()` maps
user indices to a dense float32 (users x items) score block, the contract of
`recsys.eval.evaluation.evaluate`, so every baseline is ranked and scored by the same code as the
two-tower model.

The registry (`TUNED_BASELINES`): each tunable baseline, the tuner that chooses its
hyper-parameters on a validation holdout (`recsys.eval.tuners`), and when it applies. `compare`
runs every entry that applies; a new baseline is one module and one entry here.

Example:
    >>> [baseline.name for baseline in TUNED_BASELINES]
    ['EASE', 'EASE, recency-weighted', 'iALS']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import scipy.sparse as sp

from recsys.data.interactions import Interactions
from recsys.eval import tuners
from recsys.eval.evaluation import Scorer

__all__ = ["TUNED_BASELINES", "Baseline", "TunedBaseline", "TuningData"]


class Baseline(Protocol):
    """What every baseline offers once fitted: a scorer of user blocks."""

    def scorer(self) -> Scorer:
        """user indices -> float32 scores (users x items)."""
        ...


@dataclass(frozen=True)
class TuningData:
    """What a tuner sees: the training and validation matrices (users x items), the cut-offs, the
    seed, and the training interactions behind `train_matrix` (with their timestamps, if any)."""

    train_matrix: sp.csr_matrix
    validation_matrix: sp.csr_matrix
    ks: list[int]
    seed: int = 0
    train: Interactions | None = None

    @property
    def has_timestamps(self) -> bool:
        return self.train is not None and self.train.timestamps is not None


@dataclass(frozen=True)
class TunedBaseline:
    """A baseline as compare runs it: its name, its tuner (returning the fitted model, the chosen
    settings and one row per trial) and whether it applies to the data."""

    name: str
    tune: Callable[[TuningData], tuple[Baseline, Any, list[dict]]]
    applies: Callable[[TuningData], bool] = lambda data: True


def _recency_ease(data: TuningData) -> tuple[Baseline, Any, list[dict]]:
    assert data.train is not None  # `applies` requires the timestamped interactions
    return tuners.tune_recency_ease(data.train, data.validation_matrix, data.ks)


# In the order compare's table lists them (after most popular). Tuners are looked up when called,
# so a test may replace one in `recsys.eval.tuners`.
TUNED_BASELINES = (
    TunedBaseline("EASE", lambda data: tuners.tune_ease(data.train_matrix, data.validation_matrix, data.ks)),
    TunedBaseline("EASE, recency-weighted", _recency_ease, applies=lambda data: data.has_timestamps),
    TunedBaseline(
        "iALS",
        lambda data: tuners.tune_ials(data.train_matrix, data.validation_matrix, data.ks, seed=data.seed),
    ),
)
