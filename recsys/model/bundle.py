"""The model bundle: one folder holding everything needed to reproduce predictions.

    manifest.json         format version; every file below with its size and SHA-256; counts (users,
                          items, seen interactions, embedding size); the run's identity (data
                          fingerprint and config hash, as in metrics.json). Written last.
    model.weights.h5      Keras weights (id embeddings, MLPs, constant feature and log-q tables);
                          the model's only: no optimizer state
    model_spec.json       shapes and settings to rebuild the model before loading the weights
    config.json           the full config used for the run
    user_vocab.parquet    user ids in index order (sorted, unique, types kept)
    item_vocab.parquet    item ids in index order
    user_features.json    fitted feature encoders (when features were used)
    item_features.json
    seen.npz              users x items matrix of the interactions trained on (masked at prediction)
    disliked.npz          users x items matrix of the dislikes dropped before training (negative
                          scores; always masked at prediction; only when there are any)
    metrics.json          metrics, best epoch, split description, data report (optional on load)
    history.csv           per-epoch loss and metrics (optional on load; absent without history)
    item_names.parquet    each item's display name (`item_name_column`), in item index order, null
                          where unnamed (optional on load; absent without names)

Saving writes the folder whole to a temporary folder beside it, manifest last, and swaps it into
place under the output folder's lock (`recsys.files.atomic_directory`): at every instant either
the old bundle or the complete new one can be loaded, even if the process is killed mid-swap; the
next save or load repairs what an interrupted swap left behind (`recover_directory`).

Loading trusts nothing it cannot check: the manifest must be present and valid, every required
file must have its recorded size and SHA-256 (an edited, swapped or replaced file is refused by
name), the vocabularies must be sorted and unique with the model's number of users and items, as
must `seen.npz`'s shape, the counts must match the manifest's, and the weights must load into the
model rebuilt from its spec. `metrics.json`, `history.csv` and `item_names.parquet` are not needed
for predictions: when missing, unreadable or changed, loading goes on with a warning.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.data.features import FeatureEncoder
from recsys.data.names import display_names
from recsys.data.vocabulary import Vocabulary
from recsys.errors import ArtifactError, one_line
from recsys.files import atomic_directory, json_ready, recover_directory
from recsys.layout import BundleFiles
from recsys.log import warn
from recsys.model.manifest import FIX, file_problem, is_bundle_folder, verify_bundle, write_manifest
from recsys.model.spec import upgrade_spec
from recsys.model.towers import EmbeddingModel, compute_embeddings

__all__ = ["SAVE_LOCK_WAIT_S", "ModelBundle", "check_consistency", "check_save_target", "load_bundle"]

# A save by another process into the same folder takes seconds: wait this long for its lock before
# giving up with the "in use by another run" error (a whole run holding the folder takes longer).
SAVE_LOCK_WAIT_S = 30.0
F = BundleFiles


@dataclass(kw_only=True)
class ModelBundle:
    """A trained model with everything its predictions need: the vocabularies that map ids to its
    indices, the feature encoders, the users x items matrix of what it must not recommend again
    (`seen`), and what the run measured. Built by keyword (`ModelBundle(model=..., ...)`), or from a
    run by `from_run`; saved by `save`, loaded by `load_bundle`.

    Embeddings are computed once per bundle (`embeddings`) and shared by
    everything that ranks with it.

    Example:
        >>> bundle = load_bundle("artifacts/production_model")  # doctest: +SKIP
        >>> items = bundle.embeddings("item")  # doctest: +SKIP
    """

    model: EmbeddingModel
    config: Config
    user_vocab: Vocabulary
    item_vocab: Vocabulary
    seen: sp.csr_matrix
    user_encoder: FeatureEncoder | None = None
    item_encoder: FeatureEncoder | None = None
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    disliked: sp.csr_matrix | None = None  # users x items: dislikes, never recommended back
    item_names: pl.Series | None = None  # display names in item index order (null: unnamed)
    manifest: dict = field(default_factory=dict)  # as loaded (load_bundle) or last saved (save)

    @classmethod
    def from_run(
        cls,
        experiment: Experiment,
        model: EmbeddingModel,
        seen: sp.csr_matrix,
        metrics: dict,
        history: dict | None = None,
    ) -> ModelBundle:
        """A bundle of a model trained on the experiment's data: its vocabularies and encoders, and
        metrics with the data report and the run's identity added.

        Args:
            experiment: The run's data (prepared, its features encoded).
            model: The trained model.
            seen: users x items, what the model's recommendations exclude (the interactions trained on).
            metrics: What the run measured (best epoch, validation metrics, ...).
            history: Per-epoch loss and metrics.

        Returns:
            The bundle (not yet saved).
        """
        prepared, features = experiment.prepared, experiment.features
        return cls(
            model=model,
            config=experiment.config,
            user_vocab=prepared.user_vocab,
            item_vocab=prepared.item_vocab,
            seen=seen,
            user_encoder=features.user_encoder,
            item_encoder=features.item_encoder,
            metrics={**metrics, "data": prepared.report, "identity": experiment.identity},
            history=dict(history or {}),
            disliked=prepared.disliked,
            item_names=display_names(
                experiment.raw.item_features, prepared.item_vocab.ids, experiment.config.item_name_column
            ),
        )

    def embeddings(self, which: str) -> np.ndarray:
        """All user or item embeddings, computed once per bundle and shared.

        Args:
            which: "user" or "item".

        Returns:
            float32 array, users (or items) x embedding_dim, in vocabulary order.
        """
        return self._embeddings[which] if which in self._embeddings else self._embed(which)

    @cached_property
    def _embeddings(self) -> dict[str, np.ndarray]:
        return {}

    def _embed(self, which: str) -> np.ndarray:
        self._embeddings[which] = compute_embeddings(self.model, which)
        return self._embeddings[which]

    def replace(self, **changes: Any) -> ModelBundle:
        """A copy with some parts replaced (e.g. a grown catalogue); its embeddings are computed anew."""
        return dataclasses.replace(self, **changes)

    def save(self, path: str | Path) -> Path:
        """Write the bundle folder (layout in the module doc) and swap it into place atomically.

        Refused before anything is written when the parts do not fit together (a vocabulary that is
        unsorted, repeats an id, or does not match the model's or `seen`'s size), since such a
        bundle would be refused on load. Takes the folder's lock, waiting up to SAVE_LOCK_WAIT_S for
        another process's save (re-entrant: a run that holds its output folder saves at once).

        Args:
            path: The bundle folder to write: a new folder, an empty one, or an earlier bundle
                (replaced whole). A folder that holds anything else is refused, never emptied.

        Returns:
            The folder's path.

        Raises:
            ArtifactError: `path` is a file, names no folder ('.', '..'), or is a folder that is not
                a model bundle; or the parts do not fit together.
        """
        path = Path(path)
        check_save_target(path)
        seen = self.seen.tocsr().astype(np.float32)
        # Id tables unpadded (row_multiple 1): a model-parallel run's bundle loads on one device.
        spec_text = json.dumps({**self.model.spec(), "row_multiple": 1}, indent=2)
        spec = json.loads(spec_text)
        check_consistency(
            spec,
            self.user_vocab,
            self.item_vocab,
            seen.shape,
            f"cannot save {path}: its ",
            "give the bundle the vocabularies and matrix the model was trained with",
        )
        names = (
            None if self.item_names is None else _checked_names(self.item_names, len(self.item_vocab), path)
        )
        with atomic_directory(path, lock_wait=SAVE_LOCK_WAIT_S) as tmp:
            # The model's own weights only: a trained model's save_weights also writes the
            # optimizer's state (two thirds of the file), which predictions never use.
            self.model.without_optimizer(spec).save_weights(str(tmp / F.WEIGHTS))
            (tmp / F.SPEC).write_text(spec_text)
            (tmp / F.CONFIG).write_text(json.dumps(self.config.to_dict(), indent=2, sort_keys=True))
            self.user_vocab.save(tmp / F.USER_VOCAB)
            self.item_vocab.save(tmp / F.ITEM_VOCAB)
            for side, encoder in (("user", self.user_encoder), ("item", self.item_encoder)):
                if encoder is not None:
                    encoder.save(tmp / F.encoder(side))
            sp.save_npz(tmp / F.SEEN, seen)
            if self.disliked is not None and self.disliked.nnz:
                sp.save_npz(tmp / F.DISLIKED, _checked_disliked(self.disliked, seen.shape, path))
            (tmp / F.METRICS).write_text(json.dumps(json_ready(self.metrics), indent=2))
            if names is not None:
                names.to_frame("name").write_parquet(tmp / F.ITEM_NAMES)
            if self.history:
                pl.DataFrame(
                    {"epoch": np.arange(1, len(next(iter(self.history.values()))) + 1), **self.history}
                ).write_csv(tmp / F.HISTORY)
            counts = _counts(spec, self.user_vocab, self.item_vocab, seen)
            manifest = write_manifest(tmp, counts, self.metrics.get("identity"))
        self.manifest = manifest
        return path


def _checked_disliked(disliked: sp.csr_matrix, shape: tuple, where: Path) -> sp.csr_matrix:
    """The disliked pairs, checked to be users x items like the seen matrix."""
    if tuple(disliked.shape) != tuple(shape):
        raise ArtifactError(
            f"{where}: the disliked pairs are {tuple(disliked.shape)}, the seen matrix {tuple(shape)}; "
            "both must be users x items of the bundle."
        )
    return disliked.tocsr().astype(np.float32)


def _checked_names(names: pl.Series, n_items: int, where: Path) -> pl.Series:
    """The item names as text, checked to hold one name per item of the vocabulary."""
    if names.len() != n_items:
        raise ArtifactError(
            f"{where}: the item names hold {names.len():,} names for {n_items:,} items; give one name "
            "(or null) per item of the item vocabulary, in its order."
        )
    return names.cast(pl.String)


def check_save_target(path: Path) -> None:
    """Refuse to save where a save would lose anything: a save replaces its folder whole, so the
    folder must be new, empty, or a model bundle (`is_bundle_folder`).

    Args:
        path: Where a bundle is to be saved.

    Raises:
        ArtifactError: one line naming the folder, what it holds and what to do instead.
    """
    if path.name in ("", ".", ".."):
        raise ArtifactError(
            f"cannot save a model bundle as {str(path)!r}: name a new folder for it, e.g. "
            f"{str(path / 'model')!r} (a save replaces its folder whole)."
        )
    if not path.exists():
        return
    if not path.is_dir():
        raise ArtifactError(f"cannot save a model bundle to {path}: it is a file; name a new folder.")
    entries = sorted(entry.name for entry in path.iterdir())
    if entries and not is_bundle_folder(path):
        held = f"{len(entries):,} {'entry' if len(entries) == 1 else 'entries'}, e.g. {entries[0]!r}"
        raise ArtifactError(
            f"cannot save a model bundle to {path}: the folder exists and is not a model bundle (it "
            f"holds {held}), and a save replaces its folder whole; save to a new folder, e.g. "
            f"{path / 'model'}."
        )


def _counts(spec: dict, user_vocab: Vocabulary, item_vocab: Vocabulary, seen: sp.csr_matrix) -> dict:
    return {
        "users": len(user_vocab),
        "items": len(item_vocab),
        "seen_nnz": int(seen.nnz),
        "embedding_dim": int(spec["embedding_dim"]),
    }


def check_consistency(
    spec: dict,
    user_vocab: Vocabulary,
    item_vocab: Vocabulary,
    seen_shape: tuple,
    where: str,
    fix: str = FIX,
) -> None:
    """Vocabularies sorted, unique (a repeated id would map two indices to one id, and write a JSON
    key twice) and as long as the model's users and items; `seen` users x items. Each message
    starts with `where` (a folder, or "cannot save PATH: its ") and ends with `fix`."""
    for vocab, what, expected in (
        (user_vocab, "user", spec["n_users"]),
        (item_vocab, "item", spec["n_items"]),
    ):
        ids, file = vocab.ids, f"{where}{what}_vocab.parquet"
        if ids.null_count():
            raise ArtifactError(f"{file} holds a missing (null) {what} id; {fix}.")
        if ids.len() > 1:
            increasing = (ids.slice(1) > ids.slice(0, ids.len() - 1)).to_numpy()
            if not increasing.all():
                at = int(np.flatnonzero(~increasing)[0])
                before, after = ids[at], ids[at + 1]
                problem = (
                    f"repeats the {what} id {after!r}"
                    if before == after
                    else f"is not in sorted order ({before!r} before {after!r} at index {at})"
                )
                raise ArtifactError(f"{file} {problem}; {fix}.")
        if ids.len() != expected:
            raise ArtifactError(
                f"{file} holds {ids.len():,} {what}s but the model (model_spec.json) has {expected:,}: "
                f"the files do not belong together; {fix}."
            )
    expected_shape = (spec["n_users"], spec["n_items"])
    if tuple(seen_shape) != expected_shape:
        raise ArtifactError(
            f"{where}seen.npz is {seen_shape[0]:,} x {seen_shape[1]:,} but the model has "
            f"{expected_shape[0]:,} users x {expected_shape[1]:,} items; {fix}."
        )


def _read_optional(folder: Path, name: str, manifest: dict, read, default):
    """An informative file, or `default` (with a warning) when it is missing, changed or unreadable:
    predictions do not need it. Silent when the bundle never had it (e.g. no history)."""
    entry = manifest["files"].get(name)
    if entry is None:
        return default
    file = folder / name
    problem = file_problem(file, entry)
    if problem == "is missing":
        warn(f"{file} is missing; the bundle loads without it (predictions do not need it).")
        return default
    if problem:
        warn(f"{file} {problem}; read as it is now (predictions do not need it).")
    try:
        return read(file)
    except Exception as exc:
        warn(f"{file} is unreadable ({one_line(exc)}); the bundle loads without it.")
        return default


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(folder)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def load_bundle(path: str | Path) -> ModelBundle:
    """Rebuild the model from its spec, load its weights and every artifact beside it, after
    repairing an interrupted swap and verifying the bundle (module doc); ArtifactError otherwise.

    A bundle replaced by another process's save while it is read is read again (a folder swap
    changes the folder's identity), so a load never mixes files of two bundles.

    Args:
        path: The bundle folder (as `ModelBundle.save` wrote it).

    Returns:
        The `ModelBundle`.

    Raises:
        ArtifactError: the folder is missing, or a file is missing, changed or does not fit the
            others (the message names it).

    Example:
        >>> bundle = load_bundle("artifacts/production_model")  # doctest: +SKIP
        >>> bundle.embeddings("item").shape  # doctest: +SKIP
        (50, 128)
    """
    path = Path(path)
    for _ in range(3):
        folder = recover_directory(path)
        before = _folder_identity(folder)
        try:
            bundle = _load_verified(folder)
        except ArtifactError:
            if _folder_identity(folder) == before:
                raise
            continue  # replaced while being read
        if _folder_identity(folder) == before:
            return bundle
    raise ArtifactError(
        f"{path} was replaced three times while it was being read (another process keeps saving it); "
        "try again."
    )


def _load_verified(folder: Path) -> ModelBundle:
    manifest = verify_bundle(folder)
    try:
        spec = upgrade_spec(json.loads((folder / F.SPEC).read_text()))
        config = Config.load_json(folder / F.CONFIG)
        model = EmbeddingModel(**spec)
        model.build()
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(
            f"could not rebuild the model of {folder}: {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    try:
        model.load_weights(str(folder / F.WEIGHTS))
    except Exception as exc:
        raise ArtifactError(
            f"{folder / F.WEIGHTS} does not fit the model of {folder / F.SPEC} ({one_line(exc)}); {FIX}."
        ) from exc
    user_vocab = Vocabulary.load(folder / F.USER_VOCAB, "user")
    item_vocab = Vocabulary.load(folder / F.ITEM_VOCAB, "item")
    try:
        seen = sp.load_npz(folder / F.SEEN).tocsr()
    except Exception as exc:
        raise ArtifactError(f"could not read {folder / F.SEEN}: {one_line(exc)}") from exc
    check_consistency(spec, user_vocab, item_vocab, seen.shape, f"{folder}/")
    counts = _counts(spec, user_vocab, item_vocab, seen)
    recorded = manifest.get("counts") or {}
    differing = [f"{k} {recorded.get(k)!r} (files: {v!r})" for k, v in counts.items() if recorded.get(k) != v]
    if differing:
        raise ArtifactError(
            f"{folder / F.MANIFEST} records {', '.join(differing)}: the files do not match the bundle "
            f"that was written; {FIX}."
        )
    disliked = None
    if F.DISLIKED in manifest["files"]:
        try:
            disliked = sp.load_npz(folder / F.DISLIKED).tocsr()
        except Exception as exc:
            raise ArtifactError(f"could not read {folder / F.DISLIKED}: {one_line(exc)}") from exc
        _checked_disliked(disliked, seen.shape, folder)
    encoders: dict[str, Any] = {}
    for side in ("user", "item"):
        if F.encoder(side) in manifest["files"]:
            encoders[side] = FeatureEncoder.load(folder / F.encoder(side))
    return ModelBundle(
        model=model,
        config=config,
        user_vocab=user_vocab,
        item_vocab=item_vocab,
        seen=seen,
        user_encoder=encoders.get("user"),
        item_encoder=encoders.get("item"),
        metrics=_read_optional(folder, F.METRICS, manifest, _read_metrics, {}),
        history=_read_optional(folder, F.HISTORY, manifest, _read_history, {}),
        item_names=_read_optional(
            folder, F.ITEM_NAMES, manifest, lambda file: _read_names(file, len(item_vocab)), None
        ),
        manifest=manifest,
        disliked=disliked,
    )


def _read_metrics(path: Path) -> dict:
    metrics = json.loads(path.read_text())
    if not isinstance(metrics, dict):
        raise ValueError(f"a JSON {type(metrics).__name__}, not an object")
    return metrics


def _read_names(path: Path, n_items: int) -> pl.Series:
    return _checked_names(pl.read_parquet(path)["name"], n_items, path)


def _read_history(path: Path) -> dict:
    frame = pl.read_csv(path)
    return {c: frame[c].to_list() for c in frame.columns if c != "epoch"}
