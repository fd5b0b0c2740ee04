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
    metrics.json          metrics, best epoch, split description, data report (optional on load)
    history.csv           per-epoch loss and metrics (optional on load; absent without history)

Saving writes the folder whole to a temporary folder beside it, manifest last, and swaps it into
place under the output folder's lock (`recsys.io_utils.atomic_directory`): at every instant either
the old bundle or the complete new one can be loaded, even if the process is killed mid-swap; the
next save or load repairs what an interrupted swap left behind (`recover_directory`).

Loading trusts nothing it cannot check: the manifest must be present and valid, every required
file must have its recorded size and SHA-256 (an edited, swapped or replaced file is refused by
name), the vocabularies must be sorted and unique with the model's number of users and items, as
must `seen.npz`'s shape, the counts must match the manifest's, and the weights must load into the
model rebuilt from its spec. `metrics.json` and `history.csv` are not needed for predictions: when
missing, unreadable or changed, loading goes on with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recsys.config import Config
from recsys.errors import ArtifactError
from recsys.io_utils import atomic_directory, recover_directory
from recsys.log import warn
from recsys.model import EmbeddingModel
from recsys.vocabulary import Vocabulary

if TYPE_CHECKING:  # imported lazily at run time, in load_bundle
    from recsys.features import FeatureEncoder

WEIGHTS = "model.weights.h5"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "recsys model bundle"
FORMAT_VERSION = 1
# Files every bundle has; feature encoders are required when the manifest lists them; the rest
# are informative only and never stop a load.
REQUIRED_FILES = (
    WEIGHTS,
    "model_spec.json",
    "config.json",
    "user_vocab.parquet",
    "item_vocab.parquet",
    "seen.npz",
)
ENCODER_FILES = ("user_features.json", "item_features.json")
OPTIONAL_FILES = ("metrics.json", "history.csv")
# A save by another process into the same folder takes seconds: wait this long for its lock before
# giving up with the "in use by another run" error (a whole run holding the folder takes longer).
SAVE_LOCK_WAIT_S = 30.0
_FIX = "retrain or restore the bundle"


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
    manifest: dict = field(default_factory=dict)  # as loaded (load_bundle) or last saved (save)

    def embeddings(self, which: str) -> np.ndarray:
        """All user or item embeddings (computed once per bundle, then cached)."""
        from recsys.model import compute_embeddings

        cache = self.__dict__.setdefault("_embeddings", {})
        if which not in cache:
            cache[which] = compute_embeddings(self.model, which)
        return cache[which]

    def save(self, path: str | Path) -> Path:
        """Write the bundle folder (layout in the module doc) and swap it into place atomically.

        Refused before anything is written when the parts do not fit together (a vocabulary that is
        unsorted, repeats an id, or does not match the model's or `seen`'s size), since such a
        bundle would be refused on load. Takes the folder's lock, waiting up to SAVE_LOCK_WAIT_S for
        another process's save (re-entrant: a run that holds its output folder saves at once)."""
        path = Path(path)
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
        with atomic_directory(path, lock_wait=SAVE_LOCK_WAIT_S) as tmp:
            # The model's own weights only: a trained model's save_weights also writes the
            # optimizer's state (two thirds of the file), which predictions never use.
            self.model.without_optimizer(spec).save_weights(str(tmp / WEIGHTS))
            (tmp / "model_spec.json").write_text(spec_text)
            (tmp / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2, sort_keys=True))
            self.user_vocab.save(tmp / "user_vocab.parquet")
            self.item_vocab.save(tmp / "item_vocab.parquet")
            for name, encoder in (("user", self.user_encoder), ("item", self.item_encoder)):
                if encoder is not None:
                    encoder.save(tmp / f"{name}_features.json")
            sp.save_npz(tmp / "seen.npz", seen)
            (tmp / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=_json_default))
            if self.history:
                pl.DataFrame(
                    {"epoch": np.arange(1, len(next(iter(self.history.values()))) + 1), **self.history}
                ).write_csv(tmp / "history.csv")
            counts = _counts(spec, self.user_vocab, self.item_vocab, seen)
            manifest = write_manifest(tmp, counts, self.metrics.get("identity"))
        self.manifest = manifest
        return path


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _one_line(exc: BaseException) -> str:
    """An exception as one short line (Keras and h5py messages span several)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _counts(spec: dict, user_vocab: Vocabulary, item_vocab: Vocabulary, seen: sp.csr_matrix) -> dict:
    return {
        "users": len(user_vocab),
        "items": len(item_vocab),
        "seen_nnz": int(seen.nnz),
        "embedding_dim": int(spec["embedding_dim"]),
    }


def write_manifest(folder: Path, counts: dict, identity: dict | None) -> dict:
    """Write `folder/manifest.json` describing the bundle files now in `folder` (size, SHA-256,
    whether a load needs them), the counts and the run's identity; returns the manifest."""
    names = [*REQUIRED_FILES, *ENCODER_FILES, *OPTIONAL_FILES]
    files = {
        name: {
            "bytes": (folder / name).stat().st_size,
            "sha256": _sha256(folder / name),
            "required": name not in OPTIONAL_FILES,
        }
        for name in names
        if (folder / name).is_file()
    }
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise ArtifactError(f"cannot write the manifest of {folder}: {', '.join(missing)} not written.")
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": FORMAT_VERSION,
        "files": files,
        "counts": counts,
        "identity": identity,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_json_default))
    return manifest


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.exists():
        if not (folder / WEIGHTS).exists():
            raise ArtifactError(
                f"no trained model at {folder} (missing {WEIGHTS}). Run the training action first "
                "(python main.py train_production_model, or train_validation_model)."
            )
        raise ArtifactError(
            f"{folder}/ has no {MANIFEST} (written by an older recsys, or the manifest was removed), so "
            "its files cannot be checked; retrain (python main.py train_production_model)."
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is unreadable or not JSON ({_one_line(exc)}); {_FIX}.") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(files, dict)
    ):
        raise ArtifactError(f"{path} is not a recsys bundle manifest; {_FIX}.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has format version {manifest.get('format_version')!r}; this recsys reads version "
            f"{FORMAT_VERSION}. Retrain with this version."
        )
    known = {*REQUIRED_FILES, *ENCODER_FILES, *OPTIONAL_FILES}
    for name, entry in files.items():
        valid = isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
        if name not in known or not valid or not isinstance(entry.get("sha256"), str):
            raise ArtifactError(f"{path} lists {name!r} oddly (unknown file or entry {entry!r}); {_FIX}.")
    unlisted = [name for name in REQUIRED_FILES if name not in files]
    if unlisted:
        raise ArtifactError(f"{path} does not list {', '.join(unlisted)}; {_FIX}.")
    return manifest


def _file_problem(file: Path, entry: dict) -> str | None:
    """Why `file` is not the file the manifest entry describes, or None when it is."""
    if not file.is_file():
        return "is missing"
    size = file.stat().st_size
    if size != entry["bytes"]:
        written = entry["bytes"]
        return f"was changed after the bundle was written (size {size:,} bytes, written {written:,})"
    if _sha256(file) != entry["sha256"]:
        return "was changed after the bundle was written (SHA-256 differs)"
    return None


def verify_bundle(path: str | Path) -> dict:
    """Check a bundle folder's files against its manifest and return the manifest.

    Raises an ArtifactError naming the first file at fault: no manifest (or not valid JSON), a
    required file missing or with another size or SHA-256, an encoder file the manifest does not
    list. Optional files (metrics.json, history.csv) are not checked here: they never stop a load.
    The model-level checks (vocabularies, counts, weights) are `load_bundle`'s."""
    folder = Path(path)
    manifest = _read_manifest(folder)
    for name, entry in manifest["files"].items():
        problem = None if name in OPTIONAL_FILES else _file_problem(folder / name, entry)
        if problem:
            raise ArtifactError(f"{folder / name} {problem}; retrain or restore it.")
    for name in ENCODER_FILES:
        if name not in manifest["files"] and (folder / name).exists():
            raise ArtifactError(
                f"{folder / name} is not in {MANIFEST}: it was added after the bundle was written; "
                "remove it or retrain."
            )
    return manifest


def check_consistency(
    spec: dict,
    user_vocab: Vocabulary,
    item_vocab: Vocabulary,
    seen_shape: tuple,
    where: str,
    fix: str = _FIX,
) -> None:
    """Vocabularies sorted, unique (a repeated id would map two indices to one id, and write a JSON
    key twice) and as long as the model's users and items; `seen` users x items. Each message
    starts with `where` (a folder, or "cannot save PATH: its ") and ends with `fix`."""
    for vocab, what, expected in (
        (user_vocab, "user", spec["num_users"]),
        (item_vocab, "item", spec["num_items"]),
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
    expected_shape = (spec["num_users"], spec["num_items"])
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
    problem = _file_problem(file, entry)
    if problem == "is missing":
        warn(f"{file} is missing; the bundle loads without it (predictions do not need it).")
        return default
    if problem:
        warn(f"{file} {problem}; read as it is now (predictions do not need it).")
    try:
        return read(file)
    except Exception as exc:
        warn(f"{file} is unreadable ({_one_line(exc)}); the bundle loads without it.")
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
    changes the folder's identity), so a load never mixes files of two bundles."""
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
        spec = json.loads((folder / "model_spec.json").read_text())
        config = Config.load_json(folder / "config.json")
        model = EmbeddingModel(**spec)
        model.build()
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(
            f"could not rebuild the model of {folder}: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc
    try:
        model.load_weights(str(folder / WEIGHTS))
    except Exception as exc:
        raise ArtifactError(
            f"{folder / WEIGHTS} does not fit the model of {folder / 'model_spec.json'} "
            f"({_one_line(exc)}); {_FIX}."
        ) from exc
    user_vocab = Vocabulary.load(folder / "user_vocab.parquet", "user")
    item_vocab = Vocabulary.load(folder / "item_vocab.parquet", "item")
    try:
        seen = sp.load_npz(folder / "seen.npz").tocsr()
    except Exception as exc:
        raise ArtifactError(f"could not read {folder / 'seen.npz'}: {_one_line(exc)}") from exc
    check_consistency(spec, user_vocab, item_vocab, seen.shape, f"{folder}/")
    counts = _counts(spec, user_vocab, item_vocab, seen)
    recorded = manifest.get("counts") or {}
    differing = [f"{k} {recorded.get(k)!r} (files: {v!r})" for k, v in counts.items() if recorded.get(k) != v]
    if differing:
        raise ArtifactError(
            f"{folder / MANIFEST} records {', '.join(differing)}: the files do not match the bundle "
            f"that was written; {_FIX}."
        )
    encoders: dict[str, Any] = {}
    for name in ("user", "item"):
        if f"{name}_features.json" in manifest["files"]:
            from recsys.features import FeatureEncoder

            encoders[name] = FeatureEncoder.load(folder / f"{name}_features.json")
    metrics = _read_optional(folder, "metrics.json", manifest, _read_metrics, {})
    history = _read_optional(folder, "history.csv", manifest, _read_history, {})
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
        manifest,
    )


def _read_metrics(path: Path) -> dict:
    metrics = json.loads(path.read_text())
    if not isinstance(metrics, dict):
        raise ValueError(f"a JSON {type(metrics).__name__}, not an object")
    return metrics


def _read_history(path: Path) -> dict:
    frame = pl.read_csv(path)
    return {c: frame[c].to_list() for c in frame.columns if c != "epoch"}
