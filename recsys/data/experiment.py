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
    >>> from recsys.data.experiment import Experiment
    >>> experiment = Experiment(Config(demo_num_users=300))
    >>> train, validation = experiment.split.train, experiment.split.validation
    >>> experiment.train_matrix.shape == (experiment.prepared.n_users, experiment.prepared.n_items)
    True
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.data.demo import generate_demo
from recsys.data.features import EncodedFeatures, encode_features
from recsys.data.hook import GET_RAW_DATA, HookSource, RawDataHook, call_hook, load_from_hook
from recsys.data.loading import load_from_files
from recsys.data.preparation import PreparedData, prepare
from recsys.data.raw import RawData
from recsys.data.splitting import Split, split_interactions
from recsys.data.summary import summarize
from recsys.log import say

__all__ = ["Experiment", "data_fingerprint", "load_raw_data"]


def load_raw_data(
    config: Config, hook: RawDataHook | None = None, origin: HookSource = GET_RAW_DATA
) -> RawData:
    """The configured file, else the hook's data (the template's `get_raw_data()`, or what the
    caller handed over; `origin` names it in messages), else the demo."""
    if config.raw_data_fpath:
        say(f"Reading interactions from {config.raw_data_fpath}")
        return load_from_files(config)
    if hook is not None:
        result = call_hook(hook)
        if result is not None:
            say(f"Reading interactions from {origin.read_from}")
            return load_from_hook(result, config.timestamp_format, origin)
    say(f"No raw_data_fpath configured: using the built-in demo dataset ({config.demo_num_users:,} players).")
    # seed 0: the same data whatever the training seed
    return generate_demo(n_users=config.demo_num_users, seed=0, score=config.demo_score)


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
        digest.update(b"-" if table is None else _flat(table).write_csv().encode())
    return {
        "interactions": len(interactions),
        "users": prepared.n_users,
        "items": prepared.n_items,
        "sha256": digest.hexdigest()[:32],
    }


def _flat(table: pl.DataFrame) -> pl.DataFrame:
    """The table with its nested columns as text, so that it writes as CSV: a list of values (a
    multi-valued feature, e.g. from Parquet) joined by the unit separator, a struct as JSON."""
    flat = []
    for name, dtype in table.schema.items():
        if isinstance(dtype, (pl.List, pl.Array)):
            flat.append(
                pl.col(name)
                .cast(pl.List(dtype.inner))
                .list.eval(pl.element().cast(pl.String))
                .list.join("\x1f")
            )
        elif isinstance(dtype, pl.Struct):
            flat.append(pl.col(name).struct.json_encode())
    return table.with_columns(flat) if flat else table


class Experiment:
    """The data of one run, each stage computed once on first use (see the module doc)."""

    def __init__(self, config: Config, hook: RawDataHook | None = None, origin: HookSource = GET_RAW_DATA):
        self.config = config
        self.hook = hook
        self.origin = origin  # what the hook is, for messages

    @cached_property
    def raw(self) -> RawData:
        """The interactions and feature tables as loaded (before filtering)."""
        return load_raw_data(self.config, self.hook, self.origin)

    @cached_property
    def summary(self) -> dict:
        """EDA's summary numbers of the raw data (`recsys.data.summary.summarize`), for the EDA action and
        the report alike."""
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
    def fingerprint(self) -> dict:
        return data_fingerprint(self.prepared)

    @property
    def identity(self) -> dict:
        """What a bundle records about the run that made it: the data's fingerprint and the hash
        of the settings that shape the model (`Config.fingerprint`)."""
        return {"data": self.fingerprint, "config": self.config.fingerprint()}
