"""The model bundle: one folder holding everything needed to reproduce predictions.

    model.weights.h5      Keras weights (id embeddings, MLPs, constant feature and log-q tables)
    model_spec.json       shapes and settings to rebuild the model before loading the weights
    config.json           the full config used for the run
    user_vocab.parquet    user ids in index order (types kept)
    item_vocab.parquet    item ids in index order
    user_features.json    fitted feature encoders (when features were used)
    item_features.json
    seen.npz              users x items matrix of the interactions trained on (masked at prediction)
    metrics.json          metrics, best epoch, split description, data report
    history.csv           per-epoch loss and metrics

The folder is written whole to a temporary folder and renamed into place (atomic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.errors import ArtifactError, DataError
from recsys.io_utils import atomic_directory
from recsys.model import EmbeddingModel
from recsys.vocabulary import Vocabulary

if TYPE_CHECKING:  # imported lazily at run time, in load_bundle
    from recsys.features import FeatureEncoder

WEIGHTS = "model.weights.h5"


@dataclass
class ModelBundle:
    model: EmbeddingModel
    config: Config
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    seen: sp.csr_matrix
    user_encoder: FeatureEncoder | None = None
    item_encoder: FeatureEncoder | None = None
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)

    def embeddings(self, which: str) -> np.ndarray:
        """All user or item embeddings (computed once per bundle, then cached)."""
        from recsys.model import compute_embeddings

        cache = self.__dict__.setdefault("_embeddings", {})
        if which not in cache:
            cache[which] = compute_embeddings(self.model, which)
        return cache[which]

    def _index_of(self, vocab: Vocabulary, external_id, what: str) -> int:
        index = int(vocab.indices_of(pl.Series([external_id]))[0])
        if index < 0:
            raise DataError(
                f"unknown {what} id {external_id!r}: the model was trained on {len(vocab):,} {what}s "
                f"(ids like {vocab.ids.head(3).to_list()})."
            )
        return index

    def recommend(self, user_id, n: int = 10, exclude_seen: bool = True) -> list[tuple]:
        """Top-n (item id, affinity) for one user, items the user interacted with excluded."""
        from recsys.topn import top_k_unseen

        user = self._index_of(self.user_vocab, user_id, "user")
        seen = self.seen[[user]] if exclude_seen else None
        items, scores = top_k_unseen(self.embeddings("user")[[user]], self.embeddings("item"), n, seen=seen)
        keep = items[0] >= 0
        return list(zip(self.item_vocab.to_python(items[0][keep]), scores[0][keep].tolist()))

    def similar_items(self, item_id, n: int = 10) -> list[tuple]:
        """The n items whose embeddings are closest (cosine) to the item's, itself excluded."""
        from recsys.recommend import similar_items

        item = self._index_of(self.item_vocab, item_id, "item")
        items, scores = similar_items(self.embeddings("item"), n, item_indices=np.array([item]))
        keep = items[0] >= 0
        return list(zip(self.item_vocab.to_python(items[0][keep]), scores[0][keep].tolist()))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_directory(path) as tmp:
            self.model.save_weights(str(tmp / WEIGHTS))
            (tmp / "model_spec.json").write_text(json.dumps(self.model.spec(), indent=2))
            (tmp / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2, sort_keys=True))
            self.user_vocab.save(tmp / "user_vocab.parquet")
            self.item_vocab.save(tmp / "item_vocab.parquet")
            for name, encoder in (("user", self.user_encoder), ("item", self.item_encoder)):
                if encoder is not None:
                    encoder.save(tmp / f"{name}_features.json")
            sp.save_npz(tmp / "seen.npz", self.seen.tocsr().astype(np.float32))
            (tmp / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=_json_default))
            if self.history:
                pl.DataFrame(
                    {"epoch": np.arange(1, len(next(iter(self.history.values()))) + 1), **self.history}
                ).write_csv(tmp / "history.csv")
        return path


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_bundle(path: str | Path) -> ModelBundle:
    """Rebuild the model from its spec, load its weights and every artifact beside it."""
    path = Path(path)
    if not (path / WEIGHTS).exists():
        raise ArtifactError(
            f"no trained model at {path} (missing {WEIGHTS}). Run the training action first "
            "(python main.py train_production_model, or train_validation_model)."
        )
    try:
        spec = json.loads((path / "model_spec.json").read_text())
        config = Config.load_json(path / "config.json")
        model = EmbeddingModel(**spec)
        model.build()
        model.load_weights(str(path / WEIGHTS))
        user_vocab = Vocabulary.load(path / "user_vocab.parquet", "user")
        item_vocab = Vocabulary.load(path / "item_vocab.parquet", "item")
        seen = sp.load_npz(path / "seen.npz").tocsr()
        metrics = json.loads((path / "metrics.json").read_text())
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(
            f"could not load the model bundle at {path}: {type(exc).__name__}: {exc}"
        ) from exc
    encoders = {}
    for name in ("user", "item"):
        encoder_path = path / f"{name}_features.json"
        if encoder_path.exists():
            from recsys.features import FeatureEncoder

            encoders[name] = FeatureEncoder.load(encoder_path)
    history = {}
    if (path / "history.csv").exists():
        frame = pl.read_csv(path / "history.csv")
        history = {c: frame[c].to_list() for c in frame.columns if c != "epoch"}
    return ModelBundle(
        model,
        config,
        user_vocab,
        item_vocab,
        seen,
        encoders.get("user"),
        encoders.get("item"),
        metrics,
        history,
    )
