"""Where a run writes what: every artifact path, derived from the settings in one place.

`RunLayout.of(config)` gives the paths of one run (the two model bundles, the checkpoint, the
comparison table, the figures, the recommendations, the report); `BundleFiles` names the files
inside a bundle folder; `EDA_FIGURES` and `TRAINING_FIGURES` name the figures. Every module that
writes or reads a run's files takes the names from here, so a renamed file is renamed once.

Example:
    >>> from recsys.config import Config
    >>> layout = RunLayout.of(Config(output_dir="out"))
    >>> str(layout.validation_bundle), str(layout.validation_metrics)
    ('out/validation_model', 'out/validation_model/metrics.json')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.config import Config

__all__ = [
    "COMPARISON_FIGURE",
    "EDA_FIGURES",
    "PRODUCTION_HISTORY_FIGURE",
    "TRAINING_FIGURES",
    "VALIDATION_HISTORY_FIGURE",
    "BundleFiles",
    "EdaFigure",
    "RunLayout",
]


class BundleFiles:
    """The files of a model bundle folder (see `recsys.model.bundle` for what each holds)."""

    WEIGHTS = "model.weights.h5"
    SPEC = "model_spec.json"
    CONFIG = "config.json"
    USER_VOCAB = "user_vocab.parquet"
    ITEM_VOCAB = "item_vocab.parquet"
    SEEN = "seen.npz"
    DISLIKED = "disliked.npz"
    USER_FEATURES = "user_features.json"
    ITEM_FEATURES = "item_features.json"
    METRICS = "metrics.json"
    HISTORY = "history.csv"
    ITEM_NAMES = "item_names.parquet"
    MANIFEST = "manifest.json"
    # Every bundle has these; feature encoders and the disliked pairs are required when the
    # manifest lists them; the rest are informative only and never stop a load.
    REQUIRED = (WEIGHTS, SPEC, CONFIG, USER_VOCAB, ITEM_VOCAB, SEEN)
    ENCODERS = (USER_FEATURES, ITEM_FEATURES)
    WHEN_LISTED = (*ENCODERS, DISLIKED)
    OPTIONAL = (METRICS, HISTORY, ITEM_NAMES)

    @staticmethod
    def encoder(side: str) -> str:
        """The feature encoder file of a side ("user" or "item")."""
        return f"{side}_features.json"


class EdaFigure:
    """File names of the exploratory figures (`recsys.report.eda`)."""

    PER_USER = "interactions_per_user.png"
    PER_ITEM = "interactions_per_item.png"
    LONG_TAIL = "popularity_long_tail.png"
    SCORES = "score_distribution.png"
    ITEM_MEAN_SCORE = "item_mean_score.png"
    TIME = "interactions_over_time.png"


# Every figure the EDA may write: the set one run replaces as a whole (those it does not draw are
# deleted, so a folder never mixes this run's figures with a stale one from an earlier dataset).
EDA_FIGURES = (
    EdaFigure.PER_USER,
    EdaFigure.PER_ITEM,
    EdaFigure.LONG_TAIL,
    EdaFigure.SCORES,
    EdaFigure.ITEM_MEAN_SCORE,
    EdaFigure.TIME,
)
VALIDATION_HISTORY_FIGURE = "validation_history.png"
PRODUCTION_HISTORY_FIGURE = "production_history.png"
COMPARISON_FIGURE = "model_comparison.png"
TRAINING_FIGURES = (VALIDATION_HISTORY_FIGURE, PRODUCTION_HISTORY_FIGURE, COMPARISON_FIGURE)


@dataclass(frozen=True)
class RunLayout:
    """The paths one run writes and reads, from its settings (`output_dir`, `figures_dir`,
    `recommendations_fpath`, `similar_items_fpath`, `report_fpath`)."""

    output_dir: Path
    figures_dir: Path
    recommendations: Path
    similar_items: Path
    report: Path

    @classmethod
    def of(cls, config: Config) -> RunLayout:
        """The layout of a run with these settings.

        Args:
            config: The run's settings.

        Returns:
            Its `RunLayout`.
        """
        return cls(
            output_dir=Path(config.output_dir),
            figures_dir=Path(config.figures_dir),
            recommendations=Path(config.recommendations_fpath),
            similar_items=Path(config.similar_items_fpath),
            report=Path(config.report_fpath),
        )

    @property
    def validation_bundle(self) -> Path:
        """The validation run's model bundle (trained on the training split)."""
        return self.output_dir / "validation_model"

    @property
    def production_bundle(self) -> Path:
        """The production run's model bundle (trained on every interaction)."""
        return self.output_dir / "production_model"

    @property
    def validation_metrics(self) -> Path:
        """The validation bundle's metrics (best epoch, metrics beside most popular, split)."""
        return self.validation_bundle / BundleFiles.METRICS

    @property
    def checkpoint(self) -> Path:
        """The weights of the validation run's best epoch so far, written while it trains."""
        return self.output_dir / "checkpoints" / "validation.weights.h5"

    @property
    def comparison_csv(self) -> Path:
        """compare_models' table as CSV."""
        return self.output_dir / "comparison.csv"

    @property
    def comparison_markdown(self) -> Path:
        """compare_models' table as Markdown."""
        return self.output_dir / "comparison.md"

    def figure(self, name: str) -> Path:
        """A figure's path in the figures folder, e.g. `figure(EdaFigure.LONG_TAIL)`."""
        return self.figures_dir / name
