"""The offline quality protocol shared by the benchmark scripts.

- Data: MovieLens `ratings.csv`, every rating an interaction (binary for the peers; the rating is
  the interaction's score), no minimum-count filter; or the built-in demo data
  (`load_demo_interactions`), likewise unfiltered.
- Test: per user, 20 % of the interactions (floor, at least one; users with one interaction keep
  it in training), chosen at random (seeded) or the last ones by time.
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
from recsys.data.interactions import Interactions
from recsys.data.loading import load_from_files
from recsys.data.preparation import prepare
from recsys.data.splitting import per_user_holdout
from recsys.errors import DataError
from recsys.log import plural, say

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2
KS = (10, 20)
DEFAULT_MOVIELENS = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-latest-small" / "ratings.csv"
)


def load_movielens_interactions(path: str | Path = DEFAULT_MOVIELENS) -> Interactions:
    """MovieLens ratings (userId, movieId, rating, timestamp) as indexed interactions: every rating
    counts, no user or item is filtered out."""
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"MovieLens ratings file {path} does not exist; pass the path to ml-latest-small/ratings.csv "
            "(columns userId, movieId, rating, timestamp)."
        )
    config = Config(
        raw_data_fpath=str(path),
        user_column="userId",
        item_column="movieId",
        score_column="rating",
        timestamp_column="timestamp",
        min_interactions_per_user=1,
        min_interactions_per_item=1,
    ).validate()
    return prepare(load_from_files(config), config).interactions


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


def protocol_splits(interactions: Interactions, by_time: bool, seed: int) -> ProtocolSplits:
    """Per-user test holdout (20 %, random or last by time), then a validation holdout carved the same
    way from what remains. Unpacks as (train, validation, test)."""
    if by_time and interactions.timestamps is None:
        raise DataError("a time-based split needs timestamps; the interactions have none.")
    is_test = per_user_holdout(interactions, TEST_FRACTION, by_time, seed)
    train, test = interactions.subset(~is_test), interactions.subset(is_test)
    is_validation = per_user_holdout(train, VALIDATION_FRACTION, by_time, seed + 1)
    splits = ProtocolSplits(train, train.subset(is_validation), test)
    say(
        f"  split ({'last 20 % by time' if by_time else 'random 20 %'}, seed {seed}): "
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
