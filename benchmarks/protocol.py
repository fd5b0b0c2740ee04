"""The offline quality protocol shared by the benchmark scripts.

- Data: a MovieLens folder of either layout (`ml-latest-small`'s ratings.csv, `ml-1m`'s
  ratings.dat; `recsys.data.movielens`), every rating an interaction (binary for the peers; the
  rating is the interaction's score), no minimum-count filter; or the built-in demo data
  (`load_demo_interactions`), likewise unfiltered.
- Test: per user, 20 % of the interactions (floor, at least one; users with one interaction keep
  it in training), chosen at random (seeded) or the last ones by time; or, leave-last-out, each
  user's last interaction by time (the published sequential protocol).
- Validation: carved the same way from the training part. Hyper-parameters are chosen on it, with
  models trained on train-minus-validation; the final model is then retrained on the whole
  training part with the chosen settings and evaluated once on test.
- Ranking over the full catalogue, each user's training items excluded (`recsys.eval.evaluation`):
  Recall@K = hits / min(K, |held-out|); NDCG@K with binary gains and the ideal DCG over
  min(K, |held-out|) positions (`recsys.eval.metrics`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from recsys.config import Config
from recsys.data.hook import load_from_hook
from recsys.data.interactions import Interactions
from recsys.data.movielens import load_movielens
from recsys.data.preparation import prepare
from recsys.data.splitting import per_user_holdout
from recsys.errors import DataError
from recsys.log import plural, say

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2
KS = (10, 20)
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DEFAULT_MOVIELENS = SHARED_DATASETS / "ml-latest-small"


def movielens_folder(path: str | Path) -> Path | None:
    """The MovieLens folder at `path` (a folder, or its ratings.csv / ratings.dat), None if absent."""
    path = Path(path)
    folder = path.parent if path.name in ("ratings.csv", "ratings.dat") else path
    has_ratings = (folder / "ratings.csv").is_file() or (folder / "ratings.dat").is_file()
    return folder if has_ratings else None


def load_movielens_interactions(path: str | Path = DEFAULT_MOVIELENS) -> Interactions:
    """MovieLens ratings (either layout, `recsys.data.movielens`) as indexed interactions: every
    rating counts, no user or item is filtered out."""
    folder = movielens_folder(path)
    if folder is None:
        raise DataError(
            f"no MovieLens ratings at {path}; pass a folder holding ratings.csv (ml-latest-small) or "
            "ratings.dat (ml-1m)."
        )
    config = Config(min_interactions_per_user=1, min_interactions_per_item=1).validate()
    return prepare(load_from_hook(load_movielens(folder, with_features=False)), config).interactions


def load_demo_interactions(n_users: int, seed: int, score: str) -> Interactions:
    """The built-in demo data, `recsys.data.demo.generate_demo(n_users, seed=seed, score=score)`
    (score 'rating': 1-5 stars; 'hours': hours played; the same interactions either way), as
    indexed interactions with scores and timestamps: no user or item is filtered out."""
    from recsys.data.demo import generate_demo

    config = Config(min_interactions_per_user=1, min_interactions_per_item=1).validate()
    return prepare(generate_demo(n_users=n_users, seed=seed, score=score), config).interactions


def _pair_keys(interactions: Interactions) -> np.ndarray:
    return interactions.users.astype(np.int64) * np.int64(interactions.n_items) + interactions.items


class ProtocolSplits(NamedTuple):
    """(train, validation, test); `validation` is a subset of `train`, `test` is disjoint from both."""

    train: Interactions  # the whole training part: the final model is fitted here
    validation: Interactions  # held out of `train` for choosing hyper-parameters
    test: Interactions

    @property
    def tuning_train(self) -> Interactions:
        """train minus validation: what models are fitted on while hyper-parameters are chosen."""
        return self.train.subset(~np.isin(_pair_keys(self.train), _pair_keys(self.validation)))


def protocol_splits(
    interactions: Interactions, by_time: bool, seed: int, leave_last_out: bool = False
) -> ProtocolSplits:
    """Per-user test holdout (20 %, random or last by time; with `leave_last_out` each user's last
    interaction by time), then a validation holdout carved the same way from what remains. Unpacks
    as (train, validation, test)."""
    by_time = by_time or leave_last_out
    if by_time and interactions.timestamps is None:
        raise DataError("a time-based split needs timestamps; the interactions have none.")
    test_fraction = None if leave_last_out else TEST_FRACTION
    validation_fraction = None if leave_last_out else VALIDATION_FRACTION
    is_test = per_user_holdout(interactions, test_fraction, by_time, seed)
    train, test = interactions.subset(~is_test), interactions.subset(is_test)
    is_validation = per_user_holdout(train, validation_fraction, by_time, seed + 1)
    splits = ProtocolSplits(train, train.subset(is_validation), test)
    kind = "leave last out" if leave_last_out else "last 20 % by time" if by_time else "random 20 %"
    say(
        f"  split ({kind}, seed {seed}): "
        f"{plural(len(train), 'training interaction')} "
        f"(of which {plural(len(splits.validation), 'validation interaction')}), "
        f"{plural(len(test), 'test interaction')}."
    )
    return splits


def without_timestamps(splits: ProtocolSplits) -> ProtocolSplits:
    """The same split with the timestamps removed, for models that must not see them (a split by
    time still decided which interactions are test)."""
    return ProtocolSplits(
        *(
            dataclasses.replace(part, timestamps=None)
            for part in (splits.train, splits.validation, splits.test)
        )
    )


def matrix(interactions: Interactions) -> sp.csr_matrix:
    """Binary users x items matrix (full catalogue shape)."""
    return interactions.user_item_matrix("binary")
