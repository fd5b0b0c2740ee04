"""A bundle's manifest: what `manifest.json` records of the files beside it (size, SHA-256,
whether a load needs them), the counts and the run's identity, and the check of a folder against
it (`verify_bundle`), so that an edited, swapped or replaced file is refused by name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from recsys.errors import ArtifactError, one_line
from recsys.files import json_ready
from recsys.layout import BundleFiles

__all__ = [
    "FIX",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MANIFEST_FORMAT",
    "file_problem",
    "is_bundle_folder",
    "read_manifest",
    "verify_bundle",
    "write_manifest",
]

MANIFEST_FORMAT = "recsys model bundle"
# 2: model specs count users and items as n_users / n_items (1: num_users / num_items, still read:
# `recsys.model.spec.upgrade_spec` renames them on load).
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
FIX = "retrain or restore the bundle"
MANIFEST = BundleFiles.MANIFEST
REQUIRED_FILES, LISTED_FILES, OPTIONAL_FILES = (
    BundleFiles.REQUIRED,
    BundleFiles.WHEN_LISTED,
    BundleFiles.OPTIONAL,
)
WEIGHTS = BundleFiles.WEIGHTS


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_manifest(folder: Path, counts: dict, identity: dict | None) -> dict:
    """Write `folder/manifest.json` describing the bundle files now in `folder` (size, SHA-256,
    whether a load needs them), the counts and the run's identity; returns the manifest."""
    names = [*REQUIRED_FILES, *LISTED_FILES, *OPTIONAL_FILES]
    files = {
        name: {
            "bytes": (folder / name).stat().st_size,
            "sha256": sha256(folder / name),
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
    (folder / MANIFEST).write_text(json.dumps(json_ready(manifest), indent=2))
    return manifest


def read_manifest(folder: Path) -> dict:
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
        raise ArtifactError(f"{path} is unreadable or not JSON ({one_line(exc)}); {FIX}.") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(files, dict)
    ):
        raise ArtifactError(f"{path} is not a recsys bundle manifest; {FIX}.")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise ArtifactError(
            f"{path} has format version {manifest.get('format_version')!r}; this recsys reads versions "
            f"{' and '.join(map(str, READABLE_VERSIONS))}. Retrain with this version."
        )
    known = {*REQUIRED_FILES, *LISTED_FILES, *OPTIONAL_FILES}
    for name, entry in files.items():
        valid = isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
        if name not in known or not valid or not isinstance(entry.get("sha256"), str):
            raise ArtifactError(f"{path} lists {name!r} oddly (unknown file or entry {entry!r}); {FIX}.")
    unlisted = [name for name in REQUIRED_FILES if name not in files]
    if unlisted:
        raise ArtifactError(f"{path} does not list {', '.join(unlisted)}; {FIX}.")
    return manifest


def is_bundle_folder(folder: Path) -> bool:
    """Whether `folder` holds a model bundle (a manifest of this format): the only kind of folder a
    save may replace.

    Args:
        folder: Any path.

    Returns:
        True when `folder/manifest.json` is a bundle manifest (of any version).
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT


def file_problem(file: Path, entry: dict) -> str | None:
    """Why `file` is not the file the manifest entry describes, or None when it is."""
    if not file.is_file():
        return "is missing"
    size = file.stat().st_size
    if size != entry["bytes"]:
        written = entry["bytes"]
        return f"was changed after the bundle was written (size {size:,} bytes, written {written:,})"
    if sha256(file) != entry["sha256"]:
        return "was changed after the bundle was written (SHA-256 differs)"
    return None


def verify_bundle(path: str | Path) -> dict:
    """Check a bundle folder's files against its manifest and return the manifest.

    Raises an ArtifactError naming the first file at fault: no manifest (or not valid JSON), a
    required file missing or with another size or SHA-256, an encoder file (or disliked pairs)
    that the manifest does not list. Optional files (metrics.json, history.csv) are not checked
    here: they never stop a load. The model-level checks (vocabularies, counts, weights) are
    `load_bundle`'s."""
    folder = Path(path)
    manifest = read_manifest(folder)
    for name, entry in manifest["files"].items():
        problem = None if name in OPTIONAL_FILES else file_problem(folder / name, entry)
        if problem:
            raise ArtifactError(f"{folder / name} {problem}; retrain or restore it.")
    for name in LISTED_FILES:
        if name not in manifest["files"] and (folder / name).exists():
            raise ArtifactError(
                f"{folder / name} is not in {MANIFEST}: it was added after the bundle was written; "
                "remove it or retrain."
            )
    return manifest
