"""`benchmarks/quality.py` where a dataset is absent: one line that says so and how to get it, exit 0;
and its cost measurement sees an allocation."""

import time

import numpy as np

from benchmarks import quality


def test_an_absent_dataset_is_skipped_with_one_line(tmp_path, capsys):
    assert quality.main(["--dataset", "ml-1m", "--data", str(tmp_path / "nowhere")]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0
    assert out.startswith("skipped: no ml-1m ratings at ") and "ml-1m.zip" in out and "--data" in out


def test_the_memory_growth_of_a_fit_is_measured():
    def allocate():
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        time.sleep(0.1)  # held for ten samples
        return float(block.sum())

    value, seconds, mem = quality.measured(allocate)
    assert value == 64 * 2**20 // 8 and seconds > 0
    assert 50 <= mem <= 200, mem
