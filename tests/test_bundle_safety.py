"""A bundle save killed at any step of its folder swap never loses the bundle; one run per folder.

A child process (tests/bundle_swap_child.py) saves a bundle over an existing one and pauses at swap
step k (RECSYS_PAUSE_AT_SWAP_STEP, see recsys.files); the test then sends SIGKILL or SIGINT.
Afterwards the folder must load (old or new bundle, verified), and the next save must leave no
`.NAME.*` folder behind. SIGINT goes through the command line's guard, as Ctrl-C in `python main.py`
does: exit 130, the lock released, nothing left behind at once.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from test_bundle import tiny_bundle

from recsys.errors import ArtifactError
from recsys.files import PAUSE_ENV, old_version_path, output_lock
from recsys.model.bundle import load_bundle

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("bundle_swap_child.py")
NAME = "production_model"
TIMEOUT = 60  # seconds, for every wait on a child


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Two saved bundles of the same shapes with different weights: the old and the new."""
    folder = tmp_path_factory.mktemp("sources")
    old, new = tiny_bundle(0), tiny_bundle(1)
    old.save(folder / "old")
    new.save(folder / "new")
    return folder, new


class Child:
    """A bundle_swap_child.py process whose stdout lines arrive on a queue (None at the end)."""

    def __init__(self, *args: str, pause: int | None = None):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
        env.pop(PAUSE_ENV, None)
        if pause is not None:
            env[PAUSE_ENV] = str(pause)
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # a signal for the child never reaches pytest
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, marker: str) -> None:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                self.kill()
                pytest.fail(f"no {marker!r} from the child within {TIMEOUT} s")
            if line is None:
                stderr = self.finish()[1]
                pytest.fail(f"the child ended before {marker!r}: {stderr[-2000:]}")
            if marker in line:
                return

    def finish(self) -> tuple[int, str]:
        """Exit code and stderr (the child is killed if it has not ended within TIMEOUT)."""
        try:
            _, stderr = self.process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            _, stderr = self.process.communicate(timeout=TIMEOUT)
        return self.process.returncode, stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        self.process.wait(timeout=TIMEOUT)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{NAME}."))


def manifest_of(folder: Path) -> bytes:
    return (folder / "manifest.json").read_bytes()


def assert_lock_is_free(folder: Path) -> None:
    """Taken in another thread, so that a hold of this test's own thread cannot hide a leak."""
    errors: list[BaseException] = []

    def take() -> None:
        try:
            with output_lock(folder):
                pass
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=take)
    thread.start()
    thread.join(TIMEOUT)
    assert not errors, errors


# Where each step leaves the folder: step 1 temporary folder made, nothing written; 2 written in full,
# nothing renamed; 3 old bundle moved to .NAME.old, new one not yet in place; 4 new one in place,
# .NAME.old not yet deleted. A kill before the second rename keeps the old bundle, after it the new.
NEW_AFTER_STEP = {1: False, 2: False, 3: False, 4: True}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("step", sorted(NEW_AFTER_STEP))
def test_a_save_killed_at_any_step_of_the_swap_loses_nothing(sources, tmp_path, step, sig):
    source, new_bundle = sources
    target = tmp_path / NAME
    shutil.copytree(source / "old", target)
    with Child("copy", str(source / "new"), str(target), pause=step) as child:
        child.wait_for(f"paused at swap step {step}")
        child.process.send_signal(sig)
        code, stderr = child.finish()
    if sig == signal.SIGINT:  # Ctrl-C: the guard's "interrupted", everything settled at once
        assert code == 130 and stderr.strip().splitlines()[-1] == "interrupted", stderr[-2000:]
        assert leftovers(tmp_path) == []
    else:
        assert code == -signal.SIGKILL
        temporaries = [name for name in leftovers(tmp_path) if name != f".{NAME}.old"]
        assert target.exists() == (step != 3) and old_version_path(target).exists() == (step >= 3)
        assert len(temporaries) == (step <= 3)
        # A copy of what the kill left, repaired by the next save alone (below: by a load first).
        twin = tmp_path / "twin"
        for name in [NAME, *leftovers(tmp_path)]:
            if (tmp_path / name).exists():
                shutil.copytree(tmp_path / name, twin / name)
        new_bundle.save(twin / NAME)
        assert leftovers(twin) == []
        assert np.array_equal(load_bundle(twin / NAME).embeddings("user"), new_bundle.embeddings("user"))
    assert_lock_is_free(tmp_path)
    expected = source / ("new" if NEW_AFTER_STEP[step] else "old")
    loaded = load_bundle(target)  # repairs an interrupted swap first, then verifies every file
    assert manifest_of(target) == manifest_of(expected)
    assert loaded.manifest["files"] == load_bundle(expected).manifest["files"]
    assert not old_version_path(target).exists()  # the load finished what the kill left
    new_bundle.save(target)  # the next save clears whatever else the kill left behind
    assert leftovers(tmp_path) == []
    assert np.array_equal(load_bundle(target).embeddings("user"), new_bundle.embeddings("user"))


def test_a_real_save_killed_between_the_renames_keeps_the_old_bundle(sources, tmp_path):
    """ModelBundle.save itself (Keras in the child), SIGINT and SIGKILL in the dangerous window."""
    source, _ = sources
    children = {}
    for sig in (signal.SIGINT, signal.SIGKILL):
        folder = tmp_path / sig.name
        shutil.copytree(source / "old", folder / NAME)
        children[sig] = Child("save", str(folder / NAME), "7", pause=3)
    try:
        for sig, child in children.items():
            child.wait_for("paused at swap step 3")
            assert not (tmp_path / sig.name / NAME).exists()  # really between the two renames
            child.process.send_signal(sig)
        codes = {sig: child.finish() for sig, child in children.items()}
    finally:
        for child in children.values():
            child.__exit__()
    assert codes[signal.SIGINT][0] == 130 and "interrupted" in codes[signal.SIGINT][1]
    assert codes[signal.SIGKILL][0] == -signal.SIGKILL
    assert leftovers(tmp_path / "SIGINT") == []
    for sig in children:
        folder = tmp_path / sig.name
        load_bundle(folder / NAME)
        assert manifest_of(folder / NAME) == manifest_of(source / "old")


def test_a_second_thread_cannot_take_a_held_lock(tmp_path):
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with output_lock(tmp_path):
            held.set()
            release.wait(TIMEOUT)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(TIMEOUT)
        with pytest.raises(ArtifactError) as refusal, output_lock(tmp_path):
            pass
        message = str(refusal.value)
        assert message.startswith(f"{tmp_path}/ is in use by another run") and "\n" not in message
    finally:
        release.set()
        thread.join(TIMEOUT)
    with output_lock(tmp_path), output_lock(tmp_path):  # free again, and re-entrant in one thread
        tiny_bundle(0).save(tmp_path / NAME)  # a save inside a run's own hold does not wait
    assert (tmp_path / ".lock").exists() and leftovers(tmp_path) == []


def test_a_second_run_in_a_held_folder_stops_at_once_with_one_line(sources, tmp_path, monkeypatch, capsys):
    from recsys.cli import main, run_template
    from recsys.model import bundle as bundle_module

    source, new_bundle = sources
    output = tmp_path / "artifacts"
    shutil.copytree(source / "old", output / NAME)
    monkeypatch.chdir(tmp_path)  # no config.py here: defaults
    with Child("hold", str(output)) as child:
        child.wait_for("holding the lock")
        settings = ["--set", f"output_dir={output}", "--set", f"figures_dir={tmp_path / 'figures'}"]
        assert main(["--data", "none.py", *settings, "eda"]) == 1
        err = capsys.readouterr().err
        assert err == (
            f"error: {output}/ is in use by another run (it holds {output}/.lock); wait for that run to "
            "finish, or set a different output_dir.\n"
        )
        assert main(["--data", "none.py", *settings, "config"]) == 0  # reads nothing, takes no lock
        capsys.readouterr()
        (tmp_path / "config.py").write_text("")
        assert run_template(["exploratory_data_analysis", *settings], "config.py", "none.py") == 1
        assert "is in use by another run" in capsys.readouterr().err
        # A save from Python waits (briefly here) for the holder, then says the same.
        monkeypatch.setattr(bundle_module, "SAVE_LOCK_WAIT_S", 0.2)
        with pytest.raises(ArtifactError, match="is in use by another run"):
            new_bundle.save(output / NAME)
        # Loading needs no lock: a complete bundle loads, and so does one caught between the renames
        # by a kill, read where it waits while the holder keeps the folder (it repairs nothing).
        expected = json.loads(manifest_of(source / "old"))
        assert load_bundle(output / NAME).manifest == expected
        (output / NAME).rename(old_version_path(output / NAME))
        assert load_bundle(output / NAME).manifest == expected
        assert not (output / NAME).exists()
    assert load_bundle(output / NAME).manifest == expected  # holder gone: the load repairs the folder
    assert (output / NAME).exists() and leftovers(output) == []
    assert not (tmp_path / "figures").exists()  # refused before any work


# --- where a save may write ------------------------------------------------------------------------
def test_a_save_into_a_folder_that_is_not_a_bundle_is_refused_and_keeps_its_files(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    (work / "data").mkdir()
    with pytest.raises(
        ArtifactError, match=r"not a model bundle \(it holds 2 entries, e.g. 'data'\)"
    ) as refusal:
        tiny_bundle(0).save(work)
    assert "\n" not in str(refusal.value) and str(work / "model") in str(refusal.value)
    assert sorted(p.name for p in work.iterdir()) == ["data", "notes.txt"]
    assert (work / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", [".", "..", "sub/.."])
def test_a_save_to_a_path_that_names_no_folder_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ArtifactError, match="name a new folder"):
        tiny_bundle(0).save(name)
    assert (tmp_path / "keep.txt").read_text() == "x"


def test_a_save_to_a_file_is_refused(tmp_path):
    (tmp_path / "model").write_text("a file")
    with pytest.raises(ArtifactError, match="it is a file"):
        tiny_bundle(0).save(tmp_path / "model")
    assert (tmp_path / "model").read_text() == "a file"


def test_a_save_replaces_an_earlier_bundle_and_fills_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    tiny_bundle(0).save(tmp_path / "empty")
    tiny_bundle(1).save(tmp_path / "empty")  # a bundle now: replaced whole
    again = load_bundle(tmp_path / "empty")
    np.testing.assert_array_equal(again.embeddings("item"), tiny_bundle(1).embeddings("item"))


def test_the_recommender_save_is_refused_the_same_way(tmp_path):
    from recsys.serve.recommender import Recommender

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="not a model bundle"):
        Recommender(tiny_bundle(0)).save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
