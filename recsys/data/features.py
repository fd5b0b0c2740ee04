"""Feature encoding: turn a user or item feature table into a dense float32 matrix for a tower.

A `FeatureEncoder` is fitted once on a table whose rows are aligned with the id indices (the output
of `recsys.data.preparation.align_features`: no id column, nulls where an id has no feature row) and
then transforms any frame with the same columns. Per column:

* categorical: one-hot over the values seen at fit time, plus one unknown/missing bucket;
* multi_categorical: multi-hot over the tokens of e.g. "Action|Comedy", plus an unknown bucket
  (set when a row has a token unseen at fit time, or no token at all: missing or empty);
* numeric: standardised with the fit mean/std; missing values become the mean (0 after
  standardising), plus a 0/1 "was missing" column when the fit table had missing values.

At serving time, `transform_records` encodes raw records (`{feature: value}` dicts, e.g. of a new
user or item for cold start) with a saved encoder exactly as `transform` encoded the training table.

Undeclared column types are inferred with three fixed rules (numeric dtype -> numeric; text
containing the separator in some row -> multi_categorical; other text/booleans -> categorical) and
the result is printed, so a wrong guess is visible and can be fixed in `config.feature_types`.
An undeclared categorical column where nearly every row differs (over 100 distinct values and more
than half the rows: titles, names, identifiers) is skipped with a printed note, since its one-hot
would be wide and teach nothing beyond the id; declaring its type includes it anyway.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recsys.config import FEATURE_TYPES, Config
from recsys.data.feature_columns import (
    CATEGORICAL,
    MULTI,
    NUMERIC,
    UNKNOWN,
    as_numbers,
    as_text,
    frequent_values,
    index_of,
    infer_type,
    names_text,
    record_column,
    tokens,
    width,
)
from recsys.data.preparation import PreparedData
from recsys.errors import ArtifactError, ConfigError, DataError
from recsys.files import atomic_write_text
from recsys.log import plural, say

__all__ = ["EncodedFeatures", "FeatureEncoder", "encode_features", "encode_tables", "infer_type"]

FORMAT = "recsys.FeatureEncoder"
VERSION = 1


# --------------------------------------------------------------------------------------------
# the encoder
# --------------------------------------------------------------------------------------------
class FeatureEncoder:
    """Fitted per-column encoders; `transform` maps a frame to a float32 matrix (rows kept in order)."""

    def __init__(
        self, features: list[dict], separator: str = "|", name: str = "item", skipped: list[str] | None = None
    ):
        self.features = features
        self.separator = separator
        self.name = name
        self.skipped = list(skipped or [])  # undeclared near-unique text columns left out at fit

    # --- fitting ----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        feature_types: dict | None = None,
        separator: str = "|",
        name: str = "item",
        min_count: int = 1,
        max_categories: int | None = 1000,
    ) -> FeatureEncoder:
        """Learn vocabularies and statistics from `frame` (every column is a feature).

        `feature_types` maps column -> 'categorical' | 'numeric' | 'multi_categorical'; names not
        in the frame are ignored here (see `encode_tables` for the check across both tables).
        Category values seen fewer than `min_count` times, or beyond the `max_categories` most
        frequent, go to the unknown bucket.
        """
        feature_types = dict(feature_types or {})
        for column, kind in feature_types.items():
            if kind not in FEATURE_TYPES:
                raise ConfigError(
                    f"feature_types gives {column!r} the type {kind!r}; "
                    f"expected one of {', '.join(FEATURE_TYPES)}."
                )
        if not separator:
            raise ConfigError("multi_value_separator must be a non-empty string.")
        if min_count < 1:
            raise ConfigError(f"min_count must be at least 1, got {min_count}.")
        source = f"{name} features"
        if frame.width == 0:
            raise DataError(f"{source}: the table has no feature columns.")
        say(f"Encoding {name} features ({plural(frame.height, 'row')}):")
        features: list[dict] = []
        skipped: list[str] = []
        for column in frame.columns:
            series = frame[column]
            declared = column in feature_types
            kind = feature_types[column] if declared else infer_type(series, separator)
            spec: dict = {"name": column, "type": kind, "inferred": not declared}
            if kind == NUMERIC:
                numbers = as_numbers(series, column, source)
                missing = np.isnan(numbers)
                present = numbers[~missing]
                mean = float(present.mean()) if present.size else 0.0
                std = float(present.std()) if present.size else 1.0
                spec.update(
                    mean=mean,
                    std=std if std > 0 and np.isfinite(std) else 1.0,
                    missing_flag=bool(missing.any()),
                )
                detail = f"mean {mean:.4g}, std {std:.4g}"
                if missing.any():
                    detail += f", {missing.mean():.1%} missing -> +1 missing-flag column"
            else:
                values = (
                    tokens(series, separator, column, source)["token"]
                    if kind == MULTI
                    else as_text(series, column, source)
                )
                distinct = values.n_unique() - int(values.null_count() > 0)
                non_null = values.len() - values.null_count()
                if not declared and kind == CATEGORICAL and distinct > 100 and distinct > 0.5 * non_null:
                    # One-hot of near-unique text (titles, names, ids) adds width but no generalisation.
                    say(
                        f"  {column}: skipped ({distinct:,} distinct values in {plural(non_null, 'row')}: "
                        "an identifier or free text?); declare it in config feature_types to use it anyway."
                    )
                    skipped.append(column)
                    continue
                vocabulary, distinct = frequent_values(values, min_count, max_categories)
                spec["vocabulary"] = vocabulary
                unit = "token" if kind == MULTI else "value"
                detail = f"{plural(len(vocabulary), unit)} + unknown"
                if len(vocabulary) < distinct:
                    detail += f" ({distinct - len(vocabulary):,} rare {unit}s of {distinct:,} go to unknown)"
            features.append(spec)
            encoder_width = width(spec)
            how = "declared" if declared else "inferred"
            say(f"  {column}: {kind} ({how}) -> {plural(encoder_width, 'column')}; {detail}")
        encoder = cls(features, separator, name, skipped)
        say(f"  {name} feature matrix: {plural(encoder.output_dim, 'column')}.")
        return encoder

    # --- shape ------------------------------------------------------------------------------
    @property
    def output_dim(self) -> int:
        return sum(width(spec) for spec in self.features)

    @property
    def column_names(self) -> list[str]:
        """Label of each output column, e.g. 'genres=Action', 'genres=<unknown>', 'age', 'age:missing'."""
        names: list[str] = []
        for spec in self.features:
            column = spec["name"]
            if spec["type"] == NUMERIC:
                names.append(column)
                if spec["missing_flag"]:
                    names.append(f"{column}:missing")
            else:
                names.extend(f"{column}={value}" for value in spec["vocabulary"])
                names.append(f"{column}={UNKNOWN}")
        return names

    @property
    def input_columns(self) -> list[str]:
        return [spec["name"] for spec in self.features]

    def __repr__(self) -> str:
        return f"FeatureEncoder({self.name}, {len(self.features)} features -> {self.output_dim} columns)"

    # --- transforming -----------------------------------------------------------------------
    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Encode `frame` (same feature columns as at fit; extra columns ignored) to float32
        (rows x output_dim)."""
        source = f"{self.name} features"
        missing = [column for column in self.input_columns if column not in frame.columns]
        if missing:
            raise DataError(
                f"{source}: missing column(s) {', '.join(map(repr, missing))} "
                f"that the encoder was fitted on; columns found: {', '.join(map(repr, frame.columns))}."
            )
        n = frame.height
        out = np.zeros((n, self.output_dim), dtype=np.float32)
        rows = np.arange(n)
        offset = 0
        for spec in self.features:
            column, kind = spec["name"], spec["type"]
            series = frame[column]
            if kind == NUMERIC:
                values = as_numbers(series, column, source)
                missing_mask = np.isnan(values)
                out[:, offset] = np.where(missing_mask, 0.0, (values - spec["mean"]) / spec["std"])
                if spec["missing_flag"]:
                    out[:, offset + 1] = missing_mask
            elif kind == CATEGORICAL:
                index = index_of(as_text(series, column, source), spec["vocabulary"])
                out[rows, offset + index] = 1.0
            else:
                long = tokens(series, self.separator, column, source)
                vocabulary = spec["vocabulary"]
                token_rows = long["row"].to_numpy()
                index = index_of(long["token"], vocabulary)
                out[token_rows, offset + index] = 1.0
                # Rows without any known token (missing, empty, only unseen tokens) -> unknown bucket.
                known = np.bincount(token_rows[index < len(vocabulary)], minlength=n) > 0
                out[~known, offset + len(vocabulary)] = 1.0
            offset += width(spec)
        return out

    def transform_records(
        self, records: Iterable[Mapping[str, Any]] | pl.DataFrame, ignore: Iterable[str] = ()
    ) -> np.ndarray:
        """Encode raw records to float32 (rows x output_dim), exactly as `transform` encoded the
        same values in the training table: for serving, e.g. the features of a new user or item.

        `records` is a list (any iterable) of `{feature name: value}` dicts, one per row, or a
        polars DataFrame. A
        missing key (or column) is a missing value: unknown category bucket, or the mean with the
        missing flag for a numeric feature. Values are read as the training table's were: numbers
        or numeric text for numeric features; text, numbers or booleans for categorical ones; text
        with the separator ("Action|RPG") or a list of values for multi-valued ones. A name the
        encoder does not know is a DataError (never silently dropped: it is usually a typo); the
        columns skipped at fit (near-unique text) are accepted and ignored, and so are the names
        in `ignore` (fields that are not features, such as the id column).

        Example:
            >>> table = pl.DataFrame({"genres": ["Action|RPG", "Puzzle"], "price": [19.99, 4.99]})
            >>> encoder = FeatureEncoder.fit(table, {"genres": "multi_categorical", "price": "numeric"})
            >>> rows = encoder.transform_records([{"genres": "Action|RPG", "price": 9.99}])
            >>> rows.shape == (1, encoder.output_dim)
            True
        """
        source = f"{self.name} features"
        known = {*self.input_columns, *self.skipped, *([ignore] if isinstance(ignore, str) else ignore)}
        if isinstance(records, pl.DataFrame):
            unknown = [column for column in records.columns if column not in known]
            if unknown:
                raise DataError(
                    f"{source}: unknown feature column(s) {names_text(unknown)}; {self._known_names_hint()}"
                )
            absent = [column for column in self.input_columns if column not in records.columns]
            return self.transform(records.with_columns(pl.lit(None).alias(column) for column in absent))
        if isinstance(records, (Mapping, str, bytes)) or not isinstance(records, Iterable):
            raise DataError(
                f"{source}: records must be a list of {{feature: value}} dicts or a polars DataFrame, "
                f"got {type(records).__name__}."
            )
        records = list(records)
        for row, record in enumerate(records):
            if not isinstance(record, Mapping):
                kind = type(record).__name__
                raise DataError(f"{source}: record {row + 1} is a {kind}, not a {{feature: value}} dict.")
            unknown = [key for key in record if key not in known]
            if unknown:
                raise DataError(
                    f"{source}: record {row + 1} has unknown feature name(s) {names_text(unknown)}; "
                    f"{self._known_names_hint()}"
                )
        if not self.features:  # every column was skipped at fit: nothing to encode
            return np.zeros((len(records), 0), dtype=np.float32)
        columns = [
            record_column([record.get(spec["name"]) for record in records], spec, self.separator, source)
            for spec in self.features
        ]
        return self.transform(pl.DataFrame(columns))

    def _known_names_hint(self) -> str:
        hint = f"the encoder knows {names_text(self.input_columns) or 'no features'}"
        if self.skipped:
            hint += f" (and ignores {names_text(self.skipped)})"
        return hint + "; pass ignore=[...] for fields that are not features, such as the id."

    # --- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "separator": self.separator,
            "features": self.features,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "feature encoder") -> FeatureEncoder:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArtifactError(f"{source}: not a saved FeatureEncoder (expected format {FORMAT!r}).")
        if data.get("version") != VERSION:
            raise ArtifactError(
                f"{source}: FeatureEncoder version {data.get('version')!r}; "
                f"this code reads version {VERSION}."
            )
        features = data.get("features")
        required = {
            NUMERIC: ("mean", "std", "missing_flag"),
            CATEGORICAL: ("vocabulary",),
            MULTI: ("vocabulary",),
        }
        if not isinstance(features, list):
            raise ArtifactError(f"{source}: 'features' must be a list.")
        for spec in features:
            kind = spec.get("type") if isinstance(spec, dict) else None
            if kind not in required or "name" not in spec or any(key not in spec for key in required[kind]):
                raise ArtifactError(f"{source}: malformed feature entry {spec!r}.")
        return cls(features, data.get("separator", "|"), data.get("name", "item"), data.get("skipped", []))

    def save(self, path: str | Path) -> None:
        """Write the encoder as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> FeatureEncoder:
        path = Path(path)
        if not path.exists():
            raise ArtifactError(f"feature encoder file {path} does not exist.")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"could not read feature encoder {path}: {exc}") from exc
        return cls.from_dict(data, source=f"feature encoder {path}")


# --------------------------------------------------------------------------------------------
# both tables from the config
# --------------------------------------------------------------------------------------------
def encode_tables(user_frame: pl.DataFrame | None, item_frame: pl.DataFrame | None, config: Config):
    """Fit and apply encoders to the aligned user and item feature tables.

    Returns (user_matrix, item_matrix, user_encoder, item_encoder); each is None when its table is
    None, has no usable columns, or is switched off by `use_user_features` / `use_item_features`.
    `config.feature_types` may name columns of either table; a name in neither is a ConfigError.
    """
    feature_types = dict(getattr(config, "feature_types", None) or {})
    separator = getattr(config, "multi_value_separator", "|")
    frames = {"user": user_frame, "item": item_frame}
    known = {column for frame in frames.values() if frame is not None for column in frame.columns}
    unknown = sorted(set(feature_types) - known)
    if unknown:
        available = {
            kind: (frame.columns if frame is not None else "no table") for kind, frame in frames.items()
        }
        raise ConfigError(
            f"config 'feature_types' names {', '.join(map(repr, unknown))}, "
            "which is not a column of the user or item feature tables "
            f"(user columns: {available['user']}; item columns: {available['item']})."
        )
    results: dict[str, tuple] = {}
    for kind, frame in frames.items():
        if frame is None or frame.width == 0:
            results[kind] = (None, None)
            continue
        if not getattr(config, f"use_{kind}_features", True):
            say(f"{kind} features present but use_{kind}_features=False: not used.")
            results[kind] = (None, None)
            continue
        name_column = getattr(config, f"{kind}_name_column", None)
        if name_column is not None and name_column in frame.columns:  # a display name, not a feature
            frame = frame.drop(name_column)
        types = {column: kind_ for column, kind_ in feature_types.items() if column in frame.columns}
        encoder = FeatureEncoder.fit(frame, types, separator, name=kind)
        if encoder.output_dim == 0:
            say(f"  no usable {kind} features: the {kind} tower uses ids only.")
            results[kind] = (None, None)
            continue
        results[kind] = (encoder.transform(frame), encoder)
    (user_matrix, user_encoder), (item_matrix, item_encoder) = results["user"], results["item"]
    return user_matrix, item_matrix, user_encoder, item_encoder


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


def encode_features(prepared: PreparedData, config: Config) -> EncodedFeatures:
    """Fit the feature encoders on the aligned feature tables (features are inputs, not labels)."""
    if prepared.user_features is None and prepared.item_features is None:
        return EncodedFeatures()
    return EncodedFeatures(*encode_tables(prepared.user_features, prepared.item_features, config))
