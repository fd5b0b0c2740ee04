"""Child process for tests/test_bundle_safety.py (not a test module): saves a bundle, or holds an
output folder's lock, the way a `recsys` run does, so that the test can kill it at a chosen point.

    python tests/bundle_swap_child.py copy SRC DEST   # swap a copy of bundle folder SRC in at DEST
    python tests/bundle_swap_child.py save DEST SEED  # train-free tiny model, ModelBundle.save(DEST)
    python tests/bundle_swap_child.py hold DIR        # hold DIR's lock until killed

`copy` and `save` run under the command line's guard and lock (`run_guarded`, `output_lock`), as
`python main.py` does; with RECSYS_PAUSE_AT_SWAP_STEP=k the swap prints a marker and sleeps at step
k. `copy` imports no Keras, so it starts in a fraction of a second.
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path

HOLDING = "recsys-test: holding the lock"


def copy_bundle(source: Path, target: Path) -> None:
    """The same folder swap as ModelBundle.save, its files copied from a saved bundle."""
    from recsys.files import atomic_directory

    with atomic_directory(target) as tmp:
        for file in sorted(source.iterdir()):
            shutil.copyfile(file, tmp / file.name)


def save_bundle(target: Path, seed: int) -> None:
    """A real ModelBundle.save of a tiny untrained model (imports Keras: seconds)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_bundle import tiny_bundle

    tiny_bundle(seed).save(target)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores SIGINT
    from recsys.cli import run_guarded
    from recsys.files import output_lock

    mode, path = argv[0], Path(argv[1])
    if mode == "hold":
        with output_lock(path):
            print(HOLDING, flush=True)
            time.sleep(60)
        return 0
    target = path if mode == "save" else Path(argv[2])

    def work() -> None:
        with output_lock(target.parent):
            if mode == "copy":
                copy_bundle(path, target)
            else:
                save_bundle(target, int(argv[2]))

    return run_guarded(work)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
