"""One run's data: loaded, prepared, split and encoded once, and shared by every action of the run.

An `Experiment` computes each stage on first use and keeps it, so `python main.py` (EDA,
validation, production, predictions) reads the data and calls `get_raw_data()` once, builds each
user x item matrix once, and fits the feature encoders once; `compare` and `tune` take the same
object. Stages that an action does not need are never computed (predictions from a saved bundle
read no data at all).

The data fingerprint (counts plus a hash of the ids, interactions and feature tables) is saved
with every bundle, so that a later run can tell whether a saved validation result was made on
the same data.

Example:
    >>> from recsys.config import Config
    >>> from recsys.experiment import Experiment
    >>> experiment = Experiment(Config(demo_num_users=300))
    >>> train, validation = experiment.split.train, experiment.split.validation
    >>> experiment.train_matrix.shape == (experiment.prepared.n_users, experiment.prepared.n_items)
    True
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.errors import DataError, RecsysError
from recsys.features import FeatureEncoder
from recsys.loading import RawData, load_from_files, load_from_hook
from recsys.log import say
from recsys.preparation import PreparedData, prepare
from recsys.splitting import Split, split_interactions

RawDataHook = Callable[[], Any]


@dataclass
class EncodedFeatures:
    """Feature matrices aligned with the id indices, and the encoders that made them (None when absent)."""

    user_matrix: np.ndarray | None = None
    item_matrix: np.ndarray | None = None
    user_encoder: FeatureEncoder | None = None
    item_encoder: FeatureEncoder | None = None

    @property
    def any(self) -> bool:
        return self.user_matrix is not None or self.item_matrix is not None


def load_raw_data(config: Config, hook: RawDataHook | None = None) -> RawData:
    """The configured file, else the hook's data (the template's `get_raw_data()`), else the demo."""
    if config.raw_data_fpath:
        say(f"Reading interactions from {config.raw_data_fpath}")
        return load_from_files(config)
    if hook is not None:
        result = call_hook(hook)
        if result is not None:
            say("Reading interactions from get_raw_data() in data.py")
            return load_from_hook(result, config.timestamp_format)
    from recsys.demo_data import generate_demo

    say(f"No raw_data_fpath configured: using the built-in demo dataset ({config.demo_num_users:,} players).")
    # seed 0: the same data whatever the training seed
    return generate_demo(num_users=config.demo_num_users, seed=0, score=config.demo_score)


def call_hook(hook: RawDataHook) -> Any:
    """Call the user's `get_raw_data()`; an exception inside it becomes one DataError line naming
    the exception and the line of the hook's file where it happened (or where it called the code
    that raised), since the mistake is in the user's file, not in the engine."""
    try:
        return hook()
    except RecsysError:
        raise
    except Exception as exc:
        hook_file = getattr(getattr(hook, "__code__", None), "co_filename", "")
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == hook_file]
        where = f" ({Path(hook_file).name}, line {frames[-1].lineno})" if frames else ""
        lines = str(exc).strip().splitlines() or [""]
        text = lines[0][:300] + (" ..." if len(lines) > 1 or len(lines[0]) > 300 else "")
        raise DataError(f"get_raw_data() raised {type(exc).__name__}: {text}{where}") from None


def encode_features(prepared: PreparedData, config: Config) -> EncodedFeatures:
    """Fit the feature encoders on the aligned feature tables (features are inputs, not labels)."""
    if prepared.user_features is None and prepared.item_features is None:
        return EncodedFeatures()
    from recsys.features import encode_tables

    return EncodedFeatures(*encode_tables(prepared.user_features, prepared.item_features, config))


def data_fingerprint(prepared: PreparedData) -> dict:
    """Counts and a SHA-256 of the prepared data: ids, interactions (with scores and times) and
    feature tables. Two runs on the same data after the same preparation get the same hash."""
    digest = hashlib.sha256()
    for vocab in (prepared.user_vocab, prepared.item_vocab):
        digest.update(str(vocab.ids.dtype).encode())
        digest.update(vocab.ids.cast(pl.String).str.join("\x1f").item().encode())
    interactions = prepared.interactions
    for array in (interactions.users, interactions.items, interactions.scores, interactions.timestamps):
        digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    for table in (prepared.user_features, prepared.item_features):
        digest.update(b"-" if table is None else table.write_csv().encode())
    return {
        "interactions": len(interactions),
        "users": prepared.n_users,
        "items": prepared.n_items,
        "sha256": digest.hexdigest()[:32],
    }


class Experiment:
    """The data of one run, each stage computed once on first use (see the module doc)."""

    def __init__(self, config: Config, hook: RawDataHook | None = None):
        self.config = config
        self.hook = hook

    @cached_property
    def raw(self) -> RawData:
        """The interactions and feature tables as loaded (before filtering)."""
        return load_raw_data(self.config, self.hook)

    @cached_property
    def summary(self) -> dict:
        """EDA's summary numbers of the raw data (`recsys.eda.summarize`), for the EDA action and
        the report alike."""
        from recsys.eda import summarize

        return summarize(self.raw)

    @cached_property
    def prepared(self) -> PreparedData:
        """Duplicates merged, rare users and items filtered, ids indexed, features aligned."""
        return prepare(self.raw, self.config)

    @cached_property
    def split(self) -> Split:
        """Training and validation interactions, by `config.split_strategy`."""
        return split_interactions(self.prepared.interactions, self.config)

    @cached_property
    def features(self) -> EncodedFeatures:
        return encode_features(self.prepared, self.config)

    @cached_property
    def train_matrix(self) -> sp.csr_matrix:
        """users x items, the training part of the split (what validation excludes from rankings)."""
        return self.split.train.user_item_matrix()

    @cached_property
    def validation_matrix(self) -> sp.csr_matrix:
        return self.split.validation.user_item_matrix()

    @cached_property
    def full_matrix(self) -> sp.csr_matrix:
        """users x items, every interaction (what the production model's recommendations exclude)."""
        return self.prepared.interactions.user_item_matrix()

    @cached_property
    def baseline(self) -> dict:
        """Most-popular metrics on the validation split: the bar every model must clear."""
        from recsys.baselines import MostPopular
        from recsys.evaluation import evaluate

        popular = MostPopular().fit(self.train_matrix)
        return evaluate(popular.scorer(), self.train_matrix, self.validation_matrix, self.config.metrics_k)

    @cached_property
    def fingerprint(self) -> dict:
        return data_fingerprint(self.prepared)
