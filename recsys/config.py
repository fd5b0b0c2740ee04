"""One typed configuration object: every setting with its type, default, range and a one-line doc.

The template's root `config.py` assigns some of these names as plain module variables;
`load_config` reads them (unknown names are an error, so a typo never goes unnoticed) and the
command line can override any field with `--set name=value`.

Each field's annotation is its contract, checked strictly (pydantic's strict mode) whenever a
`Config` is made: a string is not a number, a bool is not an integer, a float must be finite, a
choice must be one of its `Literal` values, and ranges come from `annotated_types` bounds. A
mistake is one `ConfigError` line naming the setting, the value and what was expected. The
`Literal` types are the single source of every choice list (`LOSSES`, `FEATURE_TYPES`, ...).

Example:
    >>> from recsys.config import Config
    >>> Config(embedding_dim=64, loss="bpr").embedding_dim
    64
    >>> Config(top_n="ten")
    Traceback (most recent call last):
    recsys.errors.ConfigError: config 'top_n' is 'ten' (str); expected a valid integer.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, Len, Lt, MinLen

from recsys.errors import ConfigError, closest_names
from recsys.files import atomic_write_text
from recsys.metric_names import parse_metric_name

__all__ = [
    "DUPLICATE_POLICIES",
    "FEATURE_TYPES",
    "LOSSES",
    "NEGATIVE_SAMPLING",
    "NEGATIVE_SCORE_POLICIES",
    "ZERO_SCORE_POLICIES",
    "OUTPUT_FORMATS",
    "OUTPUT_ONLY_SETTINGS",
    "SPLITS",
    "Config",
    "choices",
    "field_docs",
    "type_text",
]

# --- choice lists: each Literal is the one source of its values ------------------------------
Loss = Literal["softmax", "full_softmax", "bce", "bpr", "mse"]
UserTower = Literal["id", "history", "auto"]
SplitStrategy = Literal["auto", "time", "random", "global_time", "leave_last_out"]
DuplicatePolicy = Literal["last", "max", "sum", "error"]
NegativeScores = Literal["drop", "error"]
ZeroScores = Literal["keep", "drop"]
FeatureType = Literal["categorical", "numeric", "multi_categorical"]
OutputFormat = Literal["json", "jsonl", "parquet"]
NegativeSampling = Literal["uniform", "popularity"]
ScoreWeighting = Literal["auto", "linear", "log"]
DemoScore = Literal["rating", "hours"]
Distribution = Literal["none", "data_parallel", "model_parallel"]

LOSSES: tuple[str, ...] = typing.get_args(Loss)
SPLITS: tuple[str, ...] = typing.get_args(SplitStrategy)
TIME_SPLITS: tuple[str, ...] = ("time", "global_time", "leave_last_out")  # the splits that need timestamps
DUPLICATE_POLICIES: tuple[str, ...] = typing.get_args(DuplicatePolicy)
NEGATIVE_SCORE_POLICIES: tuple[str, ...] = typing.get_args(NegativeScores)
ZERO_SCORE_POLICIES: tuple[str, ...] = typing.get_args(ZeroScores)
FEATURE_TYPES: tuple[str, ...] = typing.get_args(FeatureType)
OUTPUT_FORMATS: tuple[str, ...] = typing.get_args(OutputFormat)
NEGATIVE_SAMPLING: tuple[str, ...] = typing.get_args(NegativeSampling)

# --- constrained scalar types ---------------------------------------------------------------
PositiveInt = Annotated[int, Ge(1)]
NonNegativeInt = Annotated[int, Ge(0)]
PositiveFloat = Annotated[float, Gt(0)]
NonNegativeFloat = Annotated[float, Ge(0)]
OpenFraction = Annotated[float, Gt(0), Lt(1)]
Name = Annotated[str, MinLen(1)]
Character = Annotated[str, Len(1, 1)]
Verbosity = Annotated[int, Ge(0), Le(2)]

# Settings that change what a run writes or prints, never the model it trains: a validation run
# still applies to a production run that differs from it only in these.
OUTPUT_ONLY_SETTINGS = frozenset(
    {
        "verbosity",
        "output_dir",
        "figures_dir",
        "top_n",
        "recommendations_fpath",
        "recommendations_format",
        "similar_items_n",
        "report_fpath",
        "similar_items_fpath",
        "production_epochs",
    }
)


def _f(default: Any, doc: str) -> Any:
    """A dataclass field carrying its one-line documentation as metadata."""
    if isinstance(default, (list, dict)):
        return field(default_factory=functools.partial(type(default), default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass
class Config:
    """All settings of a run, checked on creation. Field docs are shown by `recsys config` and in
    the README (generated from here by `python -m recsys.settings_table`)."""

    # --- data -------------------------------------------------------------------------------
    raw_data_fpath: str | None = _f(
        None,
        "Interactions file (CSV or Parquet), or a folder of Parquet files read as one. None: "
        "get_raw_data() in data.py, else the built-in demo dataset.",
    )
    user_column: Name = _f("user", "Column of the interactions file holding user ids.")
    item_column: Name = _f("item", "Column of the interactions file holding item ids.")
    score_column: Name | None = _f(
        None, "Optional column with a score/rating per interaction; None: every interaction counts 1."
    )
    timestamp_column: Name | None = _f(
        None, "Optional column with the interaction time (number, ISO date/datetime, or timestamp_format)."
    )
    timestamp_format: Name | None = _f(
        None,
        "Format (strftime) of text timestamps in the interactions file, e.g. '%m/%d/%Y' or "
        "'%d.%m.%Y %H:%M'; every value must match it. None: numbers and ISO-8601 dates only "
        "(other dates are refused, never guessed).",
    )
    csv_separator: Character = _f(",", "Field separator of CSV files: one character, e.g. ';' or '\\t'.")
    csv_quote_char: Character | None = _f(
        '"',
        "Quote character of CSV files (a value holding the separator is quoted with it); None for "
        "files that quote nothing, as .dat and .tsv files usually do (a value may then hold quotes, "
        'e.g. "Weird Al" Yankovic).',
    )
    csv_decimal_comma: bool = _f(
        False,
        "Numbers in CSV files are written with a decimal comma ('5,00'): read them as numbers (needs a "
        "csv_separator other than ','). Left False, such a column is read as text, with a warning.",
    )
    user_features_fpath: str | None = _f(None, "Optional user feature table (CSV/Parquet), one row per user.")
    item_features_fpath: str | None = _f(None, "Optional item feature table (CSV/Parquet), one row per item.")
    user_features_id_column: Name = _f("user", "Column of the user feature table holding user ids.")
    item_features_id_column: Name = _f("item", "Column of the item feature table holding item ids.")
    item_name_column: Name | None = _f(
        None,
        "Column of the item feature table holding each item's name (a title, a URL): shown in the "
        "report, similar_items and the jsonl/parquet recommendations, kept in the model bundle for "
        "the Python API (`names`) and the service (`?fields=name`); never a model feature.",
    )
    user_name_column: Name | None = _f(
        None,
        "Column of the user feature table holding each user's name: shown in the report's sample "
        "users and as `user_name` in the jsonl/parquet recommendations; never a model feature.",
    )
    feature_types: dict[str, FeatureType] = _f(
        {}, "Feature name -> its type; undeclared features are inferred (and the inference printed)."
    )
    multi_value_separator: Name = _f(
        "|", "Separator inside multi-valued categorical features, e.g. 'Action|Comedy'."
    )
    duplicate_policy: DuplicatePolicy = _f(
        "last",
        "Repeated (user, item) pairs: keep the 'last' (by time, else file order), the 'max' score, "
        "the 'sum' of scores, or stop with an 'error'.",
    )
    negative_scores: NegativeScores = _f(
        "drop",
        "Interactions with a score below 0 (dislikes, never trained as likes): 'drop' removes them "
        "after merging repeated pairs and before filtering (and says how many), 'error' stops at the "
        "first.",
    )
    zero_scores: ZeroScores = _f(
        "keep",
        "Interactions with a score of 0 (e.g. added but never played): 'keep' trains them with the "
        "weight of the lowest positive score and never recommends them back (as every interaction); "
        "'drop' removes them with the negative scores. Either way, whatever the other scores are.",
    )
    min_interactions_per_user: PositiveInt = _f(
        5, "Users with fewer interactions are removed (applied with the item minimum until stable)."
    )
    min_interactions_per_item: PositiveInt = _f(
        5, "Items with fewer interactions are removed (applied with the user minimum until stable)."
    )
    demo_num_users: PositiveInt = _f(
        3000, "Size of the built-in demo dataset: number of users (items and interactions scale with it)."
    )
    demo_score: DemoScore = _f(
        "rating",
        "Score of the built-in demo: 'rating' (1-5 stars) or 'hours' (hours played, heavy-tailed "
        "counts); the same interactions either way.",
    )

    # --- split ------------------------------------------------------------------------------
    per_user_val_fraction: OpenFraction = _f(
        0.2,
        "Fraction of each user's interactions held out for validation (at least one; users with "
        "one interaction stay in training).",
    )
    split_strategy: SplitStrategy = _f(
        "auto",
        "'time': last interactions of each user; 'random': seeded random; 'global_time': one "
        "cutoff for all; 'leave_last_out': each user's last interaction; 'auto': time when "
        "timestamps exist, else random.",
    )
    global_time_cutoff_quantile: OpenFraction = _f(
        0.8,
        "With split_strategy='global_time': interactions after this quantile of all timestamps "
        "go to validation.",
    )
    seed: NonNegativeInt = _f(
        42, "Seed for splitting, sampling, initialisation: a run is reproducible for a seed."
    )

    # --- model ------------------------------------------------------------------------------
    embedding_dim: PositiveInt = _f(
        256, "Size of the user and item embeddings whose dot product is the affinity."
    )
    use_user_features: bool = _f(True, "Feed the user features (if any) into the user tower.")
    use_item_features: bool = _f(True, "Feed the item features (if any) into the item tower.")
    feature_hidden_dim: PositiveInt = _f(
        128, "Hidden width of the small MLP that maps features into a tower."
    )
    normalize_embeddings: bool = _f(
        True, "L2-normalise both embeddings, so the affinity is a cosine divided by the temperature."
    )
    temperature: PositiveFloat = _f(
        0.15, "Softmax temperature applied to normalised affinities (lower = sharper)."
    )
    loss: Loss = _f(
        "softmax",
        "'softmax': in-batch sampled softmax with log-q correction; 'full_softmax': softmax over "
        "the whole catalogue (each step embeds every item: for catalogues up to some tens of "
        "thousands); 'bce': binary cross-entropy with sampled negatives; 'bpr'; 'mse': the seed's "
        "squared error on positives/negatives.",
    )
    logq_correction: bool = _f(
        True,
        "Subtract log(item sampling probability) from in-batch logits (softmax loss); essential "
        "for ranking quality.",
    )
    num_negatives: PositiveInt = _f(
        4, "Sampled negatives per positive for the 'bce', 'bpr' and 'mse' losses."
    )
    negative_sampling: NegativeSampling = _f(
        "uniform", "How negatives are drawn for pointwise/pairwise losses: uniformly or by popularity."
    )
    use_scores_as_weights: bool = _f(
        True, "When scores exist, weight each positive by its score divided by the mean score."
    )
    score_weighting: ScoreWeighting = _f(
        "auto",
        "How a score becomes a positive's weight (with use_scores_as_weights): 'linear': score / "
        "mean; 'log': 1 + log(1 + score / median), for counts (plays, clicks, minutes); 'auto': "
        "'linear' for ratings on a small scale (0 to 10), 'log' otherwise (the choice is printed).",
    )
    recency_weighting: NonNegativeFloat | None = _f(
        None,
        "Weight positives by exp(r*(p-1)), p the time-rank percentile in the user's history; "
        "0: off; None: 2.0 when timestamps exist and the split is by time, else 0.",
    )
    popularity_bias: NonNegativeFloat = _f(
        0.0,
        "Weight of the items' popularity added to every score of the model when it ranks: "
        "affinity + w * (log(1 + item's training interactions) - its mean), for known users, "
        "histories read by the history tower and users given by features (the validation metrics "
        "too; not similar items, and the id tower's fold-in keeps its own prior). 0: off.",
    )
    embedding_l2: NonNegativeFloat = _f(0.0, "L2 penalty on the id embeddings.")
    id_dropout: Annotated[float, Ge(0), Lt(1)] = _f(
        0.1,
        "With features: share of training rows whose id embedding is dropped, so the feature path "
        "learns to describe cold users/items alone.",
    )
    user_tower: UserTower = _f(
        "id",
        "'id': an embedding per user id (plus the user features); 'history': an attention "
        "encoder of the user's latest history_length items (plus the user features), trained on "
        "the next item, which serves any history without retraining; 'auto': where the "
        "interactions have timestamps the validation run trains both and keeps the one with the "
        "better monitor_metric (the production run and Recommender.fit follow it), else 'id'; "
        "the choice is printed.",
    )
    history_length: PositiveInt = _f(50, "With the history tower: items of each user's history it reads.")
    history_blocks: NonNegativeInt = _f(
        0,
        "With the history tower: causal self-attention blocks over the history before its attention "
        "pooling (0: the pooling alone).",
    )
    history_heads: PositiveInt = _f(
        2, "With the history tower: attention heads (embedding_dim must be a multiple)."
    )
    history_dropout: Annotated[float, Ge(0), Lt(1)] = _f(
        0.1,
        "With the history tower: share of each history's items hidden in training (never the most "
        "recent), and the dropout of its attention and feed-forward outputs.",
    )
    history_shares_items: bool = _f(
        True,
        "With the history tower: read history items through the item tower's id embeddings (measured "
        "better on MovieLens by time, and fewer weights) instead of a table of its own.",
    )
    history_time_gaps: bool = _f(
        False,
        "With the history tower and timestamps: add an embedding of each history item's age (time "
        "before the history's latest item, in 16 quantile buckets); histories served without times "
        "read as unknown ages.",
    )

    # --- training ---------------------------------------------------------------------------
    batch_size: PositiveInt = _f(
        1024,
        "Positive interactions per training batch (also the number of in-batch negatives for 'softmax').",
    )
    distribution: Distribution = _f(
        "none",
        "Training across devices (JAX only, through keras.distribution): 'data_parallel' splits "
        "each batch over all devices; 'model_parallel' also shards the id tables by rows over them.",
    )
    learning_rate: PositiveFloat = _f(4e-3, "Adam learning rate (cosine-decayed over max_epochs).")
    sparse_table_updates: bool = _f(
        True,
        "On JAX, Adam updates only the id-table rows each batch looks up (lazy Adam), several times "
        "faster on large catalogues; False: Keras' dense Adam over whole tables (always used on "
        "TensorFlow and PyTorch, and when embedding_l2 > 0).",
    )
    max_epochs: PositiveInt = _f(100, "Upper bound on training epochs; early stopping usually ends sooner.")
    early_stopping_patience: PositiveInt = _f(
        15, "Epochs without improvement of the monitored metric before training stops."
    )
    early_stopping_min_delta: NonNegativeFloat = _f(
        0.001,
        "Smallest rise of the monitored metric that counts as an improvement (for early stopping, "
        "the best epoch and its checkpoint), so a plateau's noise does not prolong training.",
    )
    monitor_metric: Name = _f(
        "NDCG@20",
        "Validation ranking metric for early stopping and checkpoints (e.g. 'Recall@10'); "
        "its K must be in metrics_k.",
    )
    metrics_k: Annotated[list[PositiveInt], MinLen(1)] = _f(
        [10, 20], "Cut-offs K at which ranking metrics are reported."
    )
    production_epochs: PositiveInt | None = _f(
        None,
        "Epochs for the production model; None: the best epoch of a validation run on the same "
        "data and settings (else max_epochs).",
    )

    # --- outputs ----------------------------------------------------------------------------
    output_dir: Name = _f(
        "artifacts", "Where model bundles, histories, metrics and the config used are written."
    )
    figures_dir: Name = _f("figures", "Where EDA and training figures are written.")
    top_n: PositiveInt = _f(50, "Number of recommendations per user.")
    recommendations_fpath: Name = _f(
        "recommendations.json", "Where compute_predictions writes recommendations."
    )
    recommendations_format: OutputFormat = _f(
        "json",
        "'json': the seed's {user: [[item, score], ...]}; 'jsonl' / 'parquet': one row per "
        "(user, rank, item, score).",
    )
    report_fpath: Name = _f(
        "report.html",
        "Where each run writes its report: one self-contained HTML page (EDA, metrics, curves, "
        "sample users' histories beside their recommendations).",
    )
    similar_items_n: PositiveInt = _f(
        20, "Number of similar items per item written by the similar_items action."
    )
    similar_items_fpath: Name = _f(
        "similar_items.json", "Where the similar_items action writes {item: [[item, score], ...]}."
    )
    verbosity: Verbosity = _f(
        1,
        "0: warnings and errors only; 1: progress, one line per epoch; 2: also details (per-column "
        "feature encoding, every metric each epoch).",
    )

    def __post_init__(self) -> None:
        self.validate()

    def effective_user_tower(self) -> str:
        """The user tower a model is built with: the configured one, or for 'auto' the id tower.
        'auto' is a choice made by validation (`recsys.eval.validation.fit_choosing_tower`); a
        model built from an unresolved 'auto' (no validation run to follow) gets the default."""
        return "id" if self.user_tower == "auto" else self.user_tower

    def effective_recency_weighting(self, has_timestamps: bool) -> float:
        """The recency strength in force: the configured one, or the automatic choice (see its doc)."""
        if self.recency_weighting is not None:
            return float(self.recency_weighting)
        return 2.0 if has_timestamps and self.split_strategy in TIME_SPLITS + ("auto",) else 0.0

    def validate(self) -> Config:
        """Check every field against its annotation (types, choices, ranges) and the cross-field
        rules; raise one ConfigError line naming the setting. Valid ints given for float fields
        become floats, so a config round-trips through JSON unchanged."""
        for name, adapter in _adapters().items():
            value = getattr(self, name)
            object.__setattr__(self, name, _check_field(name, value, adapter))
        self._check_columns()
        _, k = parse_metric_name(self.monitor_metric)
        if k is not None and k not in self.metrics_k:
            raise ConfigError(
                f"config 'monitor_metric' is {self.monitor_metric!r}, but {k} is not in metrics_k "
                f"{self.metrics_k}; add {k} to metrics_k or monitor another metric."
            )
        if self.user_tower != "id" and self.embedding_dim % self.history_heads:
            raise ConfigError(
                f"config 'history_heads' is {self.history_heads}, but embedding_dim {self.embedding_dim} "
                "is not a multiple of it; choose heads that divide embedding_dim."
            )
        return self

    def _check_columns(self) -> None:
        """Cross-field rules of the data settings: one column per role, a separator polars can use
        (a single byte, not the quote or a line break), a timestamp format with a % directive."""
        roles = {
            "user_column": self.user_column,
            "item_column": self.item_column,
            "score_column": self.score_column,
            "timestamp_column": self.timestamp_column,
        }
        seen: dict[str, str] = {}
        for setting, column in roles.items():
            if column is None:
                continue
            if column in seen:
                raise ConfigError(
                    f"config {seen[column]!r} and {setting!r} both name the column {column!r}; "
                    "each role needs its own column."
                )
            seen[column] = setting
        separator = self.csv_separator
        if len(separator.encode()) != 1 or separator in '"\r\n':
            raise ConfigError(
                f"config 'csv_separator' is {separator!r} (str); expected one single-byte character other "
                "than a quote or a line break, e.g. ',', ';' or '\\t'."
            )
        quote = self.csv_quote_char
        if quote is not None and (len(quote.encode()) != 1 or quote in "\r\n" or quote == separator):
            raise ConfigError(
                f"config 'csv_quote_char' is {quote!r} (str); expected one single-byte character other "
                "than the separator or a line break (e.g. '\"' or \"'\"), or None for files that quote "
                "nothing."
            )
        if self.csv_decimal_comma and separator == ",":
            raise ConfigError(
                "config 'csv_decimal_comma' is True with csv_separator ','; a decimal comma needs another "
                "field separator, e.g. csv_separator = ';'."
            )
        if self.timestamp_format is not None and "%" not in self.timestamp_format:
            raise ConfigError(
                f"config 'timestamp_format' is {self.timestamp_format!r} (str); expected a strftime format "
                "with % directives, e.g. '%m/%d/%Y'."
            )

    # --- conversions ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> Config:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            listing = "`python -m recsys config` lists every setting"
            raise ConfigError(
                f"{source}: unknown setting{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; {closest_names(unknown, names, listing)}"
            )
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        return Config.from_dict({**self.to_dict(), **changes})

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load_json(cls, path: str | Path) -> Config:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"could not read settings file {path}: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"settings file {path} must hold a JSON object of settings.")
        return cls.from_dict(values, source=str(path))

    # --- run identity -----------------------------------------------------------------------
    def model_settings(self) -> dict:
        """The settings that shape the trained model (all but OUTPUT_ONLY_SETTINGS)."""
        return {k: v for k, v in self.to_dict().items() if k not in OUTPUT_ONLY_SETTINGS}

    def fingerprint(self) -> str:
        """A hash of `model_settings()`: equal for two runs that train the same model."""
        text = json.dumps(self.model_settings(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _adapters() -> dict[str, Any]:
    """Field name -> a strict pydantic TypeAdapter for its annotation (built once)."""
    from pydantic import ConfigDict, TypeAdapter

    strict = ConfigDict(strict=True, allow_inf_nan=False)
    hints = typing.get_type_hints(Config, include_extras=True)
    return {f.name: TypeAdapter(hints[f.name], config=strict) for f in dataclasses.fields(Config)}


def _check_field(name: str, value: Any, adapter: Any) -> Any:
    from pydantic import ValidationError

    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "".join(f"[{part!r}]" for part in error["loc"])
        shown = error.get("input", value)
        expected = error["msg"]
        for prefix in ("Input should be ", "Value should have ", "String should have "):
            expected = expected.removeprefix(prefix)
        raise ConfigError(
            f"config {name!r}{where} is {shown!r} ({type(shown).__name__}); expected {expected}."
        ) from None


def choices(name: str) -> tuple[str, ...]:
    """The allowed values of a choice setting (its Literal's values), or () for other settings."""
    hint = typing.get_type_hints(Config)[name]
    options = [hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options += list(typing.get_args(hint))  # Optional[Literal[...]] has the Literal inside
    for option in options:
        if typing.get_origin(option) is Literal:
            return typing.get_args(option)
    return ()


def type_text(name: str) -> str:
    """A short readable type of a setting, e.g. 'int >= 1', 'str or None', 'one of a, b'."""
    hint = typing.get_type_hints(Config, include_extras=True)[name]
    return _describe(hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *bounds = typing.get_args(hint)
        limits = [_bound_text(b) for b in bounds]
        return " ".join([_describe(base), ", ".join(t for t in limits if t)]).strip()
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(a) for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(parts) + " or None"
    if origin in (list, dict):
        return f"{origin.__name__} of " + ", ".join(_describe(a) for a in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def _bound_text(bound: Any) -> str:
    for attribute, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if hasattr(bound, attribute):
            return f"{symbol} {getattr(bound, attribute)}"
    low, high = getattr(bound, "min_length", None), getattr(bound, "max_length", None)
    if low == high == 1:
        return "(one character)"
    if low is not None:
        return "(non-empty)"
    return ""


def field_docs() -> dict[str, str]:
    """Setting name -> one-line documentation (with its choices)."""
    docs = {}
    for f in dataclasses.fields(Config):
        doc = f.metadata.get("doc", "")
        if choices(f.name):
            doc += f" Choices: {', '.join(choices(f.name))}."
        docs[f.name] = doc
    return docs
