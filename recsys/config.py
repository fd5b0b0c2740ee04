"""One typed configuration object: every setting with its default, allowed values and a one-line doc.

The template's root `config.py` assigns some of these names as plain module variables;
`load_config` reads them (unknown names are an error, so a typo never goes unnoticed) and the
command line can override any field with `--set name=value`.
"""

from __future__ import annotations

import dataclasses
import json
import runpy
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from recsys.errors import ConfigError


def _f(default: Any, doc: str, choices: tuple | None = None):
    """A dataclass field carrying its documentation (and enumerated choices) as metadata."""
    meta = {"doc": doc}
    if choices:
        meta["choices"] = choices
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


LOSSES = ("softmax", "bce", "bpr", "mse")
SPLITS = ("auto", "time", "random", "global_time")
DUPLICATE_POLICIES = ("last", "max", "sum", "error")
FEATURE_TYPES = ("categorical", "numeric", "multi_categorical")
OUTPUT_FORMATS = ("json", "jsonl", "parquet")


@dataclass
class Config:
    """All settings of a run. Field docs are shown by `recsys config` and in the README."""

    # --- data -------------------------------------------------------------------------------
    raw_data_fpath: Optional[str] = _f(None, "Interactions file (CSV or Parquet). None: the built-in demo dataset (or get_raw_data() in data.py).")
    user_column: str = _f("user", "Column of the interactions file holding user ids.")
    item_column: str = _f("item", "Column of the interactions file holding item ids.")
    score_column: Optional[str] = _f(None, "Optional column with a score/rating per interaction; None: every interaction counts 1.")
    timestamp_column: Optional[str] = _f(None, "Optional column with the interaction time (number, or ISO date/datetime).")
    csv_separator: str = _f(",", "Field separator of CSV files.")
    user_features_fpath: Optional[str] = _f(None, "Optional user feature table (CSV/Parquet), one row per user.")
    item_features_fpath: Optional[str] = _f(None, "Optional item feature table (CSV/Parquet), one row per item.")
    user_features_id_column: str = _f("user", "Id column of the user feature table.")
    item_features_id_column: str = _f("item", "Id column of the item feature table.")
    feature_types: dict = _f({}, "Feature name -> 'categorical' | 'numeric' | 'multi_categorical'; undeclared features are inferred (and the inference printed).")
    multi_value_separator: str = _f("|", "Separator inside multi-valued categorical features, e.g. 'Action|Comedy'.")
    duplicate_policy: str = _f("last", "Repeated (user, item) pairs: keep the 'last' (by time, else file order), the 'max' score, the 'sum' of scores, or 'error'.", DUPLICATE_POLICIES)
    min_interactions_per_user: int = _f(5, "Users with fewer interactions are removed (applied with the item minimum until stable).")
    min_interactions_per_item: int = _f(5, "Items with fewer interactions are removed (applied with the user minimum until stable).")
    demo_num_users: int = _f(3000, "Size of the built-in demo dataset: number of users (items and interactions scale with it).")

    # --- split ------------------------------------------------------------------------------
    per_user_val_fraction: float = _f(0.2, "Fraction of each user's interactions held out for validation (at least one; users with one interaction stay in training).")
    split_strategy: str = _f("auto", "'time': last interactions of each user; 'random': seeded random; 'global_time': one cutoff for all; 'auto': time when timestamps exist, else random.", SPLITS)
    global_time_cutoff_quantile: float = _f(0.8, "With split_strategy='global_time': interactions after this quantile of all timestamps go to validation.")
    seed: int = _f(42, "Seed for splitting, sampling, initialisation: a run is reproducible for a seed.")

    # --- model ------------------------------------------------------------------------------
    embedding_dim: int = _f(256, "Size of the user and item embeddings whose dot product is the affinity.")
    use_user_features: bool = _f(True, "Feed the user features (if any) into the user tower.")
    use_item_features: bool = _f(True, "Feed the item features (if any) into the item tower.")
    feature_hidden_dim: int = _f(128, "Hidden width of the small MLP that maps features into a tower.")
    normalize_embeddings: bool = _f(True, "L2-normalise both embeddings, so the affinity is a cosine divided by the temperature.")
    temperature: float = _f(0.15, "Softmax temperature applied to normalised affinities (lower = sharper).")
    loss: str = _f("softmax", "'softmax': in-batch sampled softmax with log-q correction; 'bce': binary cross-entropy with sampled negatives; 'bpr'; 'mse': the seed's squared error on positives/negatives.", LOSSES)
    logq_correction: bool = _f(True, "Subtract log(item sampling probability) from in-batch logits (softmax loss); essential for ranking quality.")
    num_negatives: int = _f(4, "Sampled negatives per positive for the 'bce', 'bpr' and 'mse' losses.")
    negative_sampling: str = _f("uniform", "How negatives are drawn for pointwise/pairwise losses: 'uniform' or 'popularity'.", ("uniform", "popularity"))
    use_scores_as_weights: bool = _f(True, "When scores exist, weight each positive by its score divided by the mean score.")
    recency_weighting: Optional[float] = _f(None, "Weight positives by exp(r*(p-1)), p the time-rank percentile in the user's history; 0: off; None: 2.0 when timestamps exist and the split is by time (recent tastes predict the future), else 0.")
    embedding_l2: float = _f(0.0, "L2 penalty on the id embeddings.")
    id_dropout: float = _f(0.3, "With features: share of training rows whose id embedding is dropped, so the feature path learns to describe cold users/items alone.")

    # --- training ---------------------------------------------------------------------------
    batch_size: int = _f(1024, "Positive interactions per training batch (also the number of in-batch negatives for 'softmax').")
    learning_rate: float = _f(4e-3, "Adam learning rate (cosine-decayed over max_epochs).")
    max_epochs: int = _f(100, "Upper bound on training epochs; early stopping usually ends sooner.")
    early_stopping_patience: int = _f(15, "Epochs without improvement of the monitored metric before training stops.")
    monitor_metric: str = _f("NDCG@20", "Validation ranking metric for early stopping and checkpoints (e.g. 'Recall@10', 'NDCG@20').")
    metrics_k: list = _f([10, 20], "Cut-offs K at which ranking metrics are reported.")
    production_epochs: Optional[int] = _f(None, "Epochs for the production model; None: the best epoch found by the validation run (else max_epochs).")

    # --- outputs ----------------------------------------------------------------------------
    output_dir: str = _f("artifacts", "Where model bundles, histories, metrics and the config used are written.")
    figures_dir: str = _f("figures", "Where EDA and training figures are written.")
    top_n: int = _f(50, "Number of recommendations per user.")
    recommendations_fpath: str = _f("recommendations.json", "Where compute_predictions writes recommendations.")
    recommendations_format: str = _f("json", "'json': the seed's {user: [[item, score], ...]}; 'jsonl' / 'parquet': one row per (user, rank, item, score).", OUTPUT_FORMATS)
    similar_items_n: int = _f(20, "Number of similar items per item written by the similar_items action.")
    similar_items_fpath: str = _f("similar_items.json", "Where the similar_items action writes {item: [[item, score], ...]}.")

    def effective_recency_weighting(self, has_timestamps: bool) -> float:
        """The recency strength in force: the configured one, or the automatic choice (see its doc)."""
        if self.recency_weighting is not None:
            return float(self.recency_weighting)
        return 2.0 if has_timestamps and self.split_strategy in ("auto", "time", "global_time") else 0.0

    def validate(self) -> "Config":
        """Check choices and ranges; raise ConfigError naming the field."""
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ConfigError(f"config '{f.name}' is {getattr(self, f.name)!r}; expected one of {', '.join(map(repr, choices))}.")
        for name in ("min_interactions_per_user", "min_interactions_per_item"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config '{name}' must be at least 1, got {getattr(self, name)}.")
        for name in ("embedding_dim", "batch_size", "max_epochs", "top_n", "demo_num_users", "feature_hidden_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config '{name}' must be a positive integer, got {getattr(self, name)}.")
        if not 0.0 < self.per_user_val_fraction < 1.0:
            raise ConfigError(f"config 'per_user_val_fraction' must be between 0 and 1 (exclusive), got {self.per_user_val_fraction}.")
        if not 0.0 < self.global_time_cutoff_quantile < 1.0:
            raise ConfigError(f"config 'global_time_cutoff_quantile' must be between 0 and 1, got {self.global_time_cutoff_quantile}.")
        if not 0.0 <= self.id_dropout < 1.0:
            raise ConfigError(f"config 'id_dropout' must be in [0, 1), got {self.id_dropout}.")
        if self.temperature <= 0 or self.learning_rate <= 0:
            raise ConfigError("config 'temperature' and 'learning_rate' must be positive.")
        if not self.metrics_k or any(int(k) < 1 for k in self.metrics_k):
            raise ConfigError(f"config 'metrics_k' must be a non-empty list of positive integers, got {self.metrics_k}.")
        for name, kind in self.feature_types.items():
            if kind not in FEATURE_TYPES:
                raise ConfigError(f"config 'feature_types' gives {name!r} the type {kind!r}; expected one of {', '.join(FEATURE_TYPES)}.")
        from recsys.metrics import parse_metric_name  # local: metrics imports nothing from config

        parse_metric_name(self.monitor_metric)
        return self

    # --- conversions ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}. Known settings: {', '.join(sorted(names))}.")
        return cls(**values).validate()

    def replace(self, **changes) -> "Config":
        return Config.from_dict({**self.to_dict(), **changes})

    def save(self, path: str | Path) -> None:
        from recsys.io_utils import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load_json(cls, path: str | Path) -> "Config":
        return cls.from_dict(json.loads(Path(path).read_text()), source=str(path))


def field_docs() -> dict[str, str]:
    """Setting name -> one-line documentation (with choices)."""
    docs = {}
    for f in dataclasses.fields(Config):
        doc = f.metadata.get("doc", "")
        if "choices" in f.metadata:
            doc += f" Choices: {', '.join(map(str, f.metadata['choices']))}."
        docs[f.name] = doc
    return docs


def load_config(path: str | Path | None = None) -> Config:
    """Read a template-style `config.py` (module-level assignments) into a Config.

    Private names (leading underscore), modules, functions and classes are ignored; any other
    name must be a known setting.
    """
    if path is None:
        return Config().validate()
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist.")
    if path.suffix == ".json":
        return Config.load_json(path)
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:  # a syntax error in the user's file: say where
        raise ConfigError(f"could not read config file {path}: {type(exc).__name__}: {exc}") from exc
    values = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, type(typing))
    }
    return Config.from_dict(values, source=str(path))


def parse_override(text: str, config: Config) -> tuple[str, Any]:
    """Parse one `--set name=value` into (name, typed value) using the field's declared type."""
    if "=" not in text:
        raise ConfigError(f"--set expects name=value, got {text!r}.")
    name, raw = text.split("=", 1)
    name = name.strip()
    fields = {f.name: f for f in dataclasses.fields(Config)}
    if name not in fields:
        raise ConfigError(f"--set: unknown setting {name!r}. Known settings: {', '.join(sorted(fields))}.")
    current = getattr(config, name)
    raw = raw.strip()
    if raw.lower() in ("none", "null"):
        return name, None
    hint = str(fields[name].type)
    try:
        if isinstance(current, bool) or "bool" in hint:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return name, raw.lower() in ("true", "1", "yes")
        if isinstance(current, int) or hint.endswith("int]") or hint == "int":
            return name, int(raw)
        if isinstance(current, float) or "float" in hint:
            return name, float(raw)
        if isinstance(current, (list, dict)) or hint in ("list", "dict"):
            return name, json.loads(raw)
    except (ValueError, json.JSONDecodeError):
        raise ConfigError(f"--set {name}: cannot read {raw!r} as the setting's type ({hint}).") from None
    return name, raw


def apply_overrides(config: Config, overrides: list[str] | None) -> Config:
    changes = dict(parse_override(text, config) for text in overrides or [])
    return config.replace(**changes) if changes else config
