"""Safe file output: atomic files, atomic folders that survive a kill mid-swap, one lock per
output folder, and values made ready for JSON (`json_ready`).

Files (`atomic_path`, `atomic_write_text`) are written to a temporary file beside the target and
renamed over it, so an interrupted run leaves either the old file or the new one, never half a file.

Folders (`atomic_directory`, used for model bundles) cannot be replaced by one rename, so the swap
of `NAME` takes two, and every instant of it is recoverable:

    1. `.NAME.XXXXXXXX/` (a `mkdtemp` folder beside `NAME`) is created and written in full;
    2. the current `NAME/` is renamed to `.NAME.old/`;
    3. `.NAME.XXXXXXXX/` is renamed to `NAME/`;
    4. `.NAME.old/` is deleted.

`NAME/` is therefore always either the old version or the complete new one, except between steps
2 and 3, when it is missing and the old version waits whole in `.NAME.old/`. A folder becomes
`NAME/` only by a rename made after it was written in full, so whatever sits at `NAME/` is
complete. An error or Ctrl-C during the swap puts things right at once: the old version goes back
if `NAME/` is missing (the new one is kept if that rename fails: nothing is deleted while it is
the only complete copy), then `.NAME.old/` and the temporary folder are deleted. After a kill
(SIGKILL, a power-off of the process), `recover_directory` does the same on the next save or load:
`NAME/` missing but `.NAME.old/` present -> rename it back (the interrupted save did not happen);
`NAME/` and `.NAME.old/` both present -> the swap had put the new version in place: delete
`.NAME.old/`; leftover `.NAME.XXXXXXXX/` folders -> delete. Only folders of exactly this naming
scheme are touched, and only while holding the folder's lock, so a live save is never disturbed.

The lock (`output_lock`) is a file `.lock` in the output folder, held by a whole `recsys` or
`python main.py` run and by every folder swap. A second run in the same folder stops at once with
a one-line error instead of crashing on a half-written checkpoint or waiting silently. It is
re-entrant within one thread (a run's own bundle saves take it again freely) and exclusive across
threads and processes; the operating system releases it when its process dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from recsys.errors import ArtifactError

__all__ = [
    "LOCK_NAME",
    "PAUSE_ENV",
    "atomic_directory",
    "atomic_path",
    "atomic_write_text",
    "json_ready",
    "old_version_path",
    "output_lock",
    "recover_directory",
    "temporary_folders",
]

LOCK_NAME = ".lock"
# Test-only: with RECSYS_PAUSE_AT_SWAP_STEP=k, a folder swap prints a marker and sleeps at step k
# (1: temporary folder made, nothing written; 2: written in full, nothing renamed; 3: old version
# moved to .NAME.old, new not in place; 4: new in place, .NAME.old not deleted), so that
# tests/test_bundle_safety.py can kill the process at exactly that point. Never set it otherwise.
PAUSE_ENV = "RECSYS_PAUSE_AT_SWAP_STEP"
_PAUSE_SECONDS = 60.0
# mkdtemp names: prefix + 8 characters of this alphabet (tempfile._RandomNameSequence).
_TEMP_SUFFIX = re.compile(r"[a-z0-9_]{8}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None):
    """Yield a temporary path in the target's folder; on success rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def json_ready(value: Any) -> Any:
    """`value` as plain JSON data: numpy scalars and arrays as Python numbers and lists, tuples as
    lists, keys as strings, and non-finite floats (NaN metrics, infinite scores) as None, since JSON
    has neither NaN nor infinity.

    Example:
        >>> json_ready({1: np.float32(0.5), "x": (float("nan"), np.int64(3))})
        {'1': 0.5, 'x': [None, 3]}
    """
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@contextlib.contextmanager
def output_lock(output_dir: str | Path, wait: float = 0.0) -> Iterator[Path]:
    """Hold the exclusive lock of `output_dir` (the file `output_dir/.lock`, folder created if
    needed) for the `with` block; yields the folder.

    Re-entrant in the thread that holds it, so a run that holds its output folder can save bundles
    into it; another thread or process gets an `ArtifactError` naming the folder, after trying for
    `wait` seconds (0: one attempt, so a second run stops at once rather than hanging)."""
    folder = Path(output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # One instance per absolute path (is_singleton), so that re-entry finds its own hold.
        lock = FileLock(str(folder.resolve() / LOCK_NAME), is_singleton=True)
        lock.acquire(timeout=wait)
    except Timeout:
        raise ArtifactError(
            f"{folder}/ is in use by another run (it holds {folder / LOCK_NAME}); wait for that run to "
            "finish, or set a different output_dir."
        ) from None
    except OSError as exc:
        raise ArtifactError(
            f"cannot lock {folder}/ for writing ({exc.strerror or type(exc).__name__}); "
            "choose a writable output_dir."
        ) from None
    try:
        yield folder
    finally:
        lock.release()


def _pause_for_tests(step: int) -> None:
    """Test-only hook, see `PAUSE_ENV`."""
    if os.environ.get(PAUSE_ENV) == str(step):
        print(f"recsys: paused at swap step {step}", flush=True)
        time.sleep(_PAUSE_SECONDS)


def old_version_path(path: Path) -> Path:
    """Where the swap parks the previous version of `path` (`.NAME.old` beside it)."""
    return path.with_name(f".{path.name}.old")


def temporary_folders(path: Path) -> list[Path]:
    """Folders beside `path` named as `atomic_directory` makes them (`.NAME.` + 8 mkdtemp
    characters): unfinished versions of `path`. Nothing else beside it matches."""
    prefix = f".{path.name}."
    if not path.parent.is_dir():
        return []
    return sorted(
        entry
        for entry in path.parent.iterdir()
        if entry.name.startswith(prefix)
        and _TEMP_SUFFIX.fullmatch(entry.name[len(prefix) :])
        and entry.is_dir()
        and not entry.is_symlink()
    )


def _settle(path: Path, new: Path | None = None) -> None:
    """Leave `path` holding one complete version and nothing beside it (call with the lock held).

    `path` missing but `.NAME.old` present means a swap stopped between its two renames: the old
    version goes back (or, if that rename fails, the fully written `new`). Once `path` is in place,
    `.NAME.old` and every temporary folder are leftovers and are deleted; while it is not, nothing
    is deleted, since a leftover may then be the only complete copy."""
    old = old_version_path(path)
    if not path.exists() and old.exists():
        for source in (old, new):
            if source is not None and source.exists():
                with contextlib.suppress(OSError):
                    os.replace(source, path)
                    break
    if path.exists() or not old.exists():
        shutil.rmtree(old, ignore_errors=True)
        for temporary in temporary_folders(path):
            shutil.rmtree(temporary, ignore_errors=True)


def _has_leftovers(path: Path) -> bool:
    return old_version_path(path).exists() or bool(temporary_folders(path))


def recover_directory(path: str | Path, wait: float = 2.0) -> Path:
    """Repair an interrupted swap of `path` (see the module doc) and return the folder that holds
    its current version: `path`, unless another process holds the lock and `path` stays missing
    for `wait` seconds, when the old version is read where it waits (`.NAME.old`).

    Costs one directory listing when there is nothing to repair; takes the lock only to repair."""
    path = Path(path)
    if not _has_leftovers(path):
        return path
    try:
        with output_lock(path.parent):
            _settle(path)
        return path
    except ArtifactError:  # busy (another process may be mid-swap) or not writable: read, don't repair
        deadline = time.monotonic() + wait
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        old = old_version_path(path)
        return old if not path.exists() and old.exists() else path


@contextlib.contextmanager
def atomic_directory(path: str | Path, lock_wait: float = 0.0) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; when the block ends without error it replaces `path`
    whole (the four steps and the recovery in the module doc).

    The whole write and swap hold the lock of `path`'s folder (waiting up to `lock_wait` seconds for
    another process's hold), which first settles what an earlier interrupted swap left behind."""
    path = Path(path)
    with output_lock(path.parent, wait=lock_wait):
        _settle(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            _pause_for_tests(1)
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())
            _pause_for_tests(2)
            if path.exists():
                os.replace(path, old_version_path(path))
                _pause_for_tests(3)
            os.replace(tmp, path)
            _pause_for_tests(4)
            shutil.rmtree(old_version_path(path), ignore_errors=True)
        except BaseException:
            _settle(path, new=tmp)
            raise
