"""`python main.py` (all four actions) on a small demo, in a copy of the template, checking every output."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.data.demo import generate_demo
from recsys.model.bundle import load_bundle
from recsys.model.towers import compute_embeddings

ROOT = Path(__file__).resolve().parents[1]
TOP_N = 10


def copy_template(folder: Path, settings: str, files=("main.py", "data.py", "config.py")) -> dict:
    """The template's files in `folder`, `settings` appended to its config.py; the environment to
    run it with (this checkout's engine, JAX, nothing else of the caller's)."""
    for name in files:
        shutil.copy(ROOT / name, folder / name)
    with open(folder / "config.py", "a") as config:
        config.write("\n" + settings)
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "KERAS_BACKEND": "jax", "HOME": str(folder)}


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template")
    settings = f"demo_num_users = 400\nmax_epochs = 6\ntop_n = {TOP_N}\nembedding_dim = 32\n"
    env = copy_template(folder, settings, files=("main.py", "config.py"))
    # A data.py whose get_raw_data() counts its calls (one line per call) and returns the demo data.
    (folder / "data.py").write_text(
        "from pathlib import Path\nfrom recsys.data.demo import generate_demo\n\n"
        "def get_raw_data():\n"
        "    with open(Path(__file__).parent / 'calls.txt', 'a') as calls:\n        calls.write('call\\n')\n"
        "    demo = generate_demo(n_users=400, seed=0)\n"
        "    return demo.interactions, demo.user_features, demo.item_features\n"
    )
    completed = subprocess.run(
        [sys.executable, "main.py"], cwd=folder, capture_output=True, text=True, env=env, timeout=900
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return folder, completed


def test_figures_are_non_empty_pngs(template_run):
    folder, _ = template_run
    figures = sorted((folder / "figures").glob("*.png"))
    names = {f.name for f in figures}
    assert {
        "interactions_per_user.png",
        "interactions_per_item.png",
        "popularity_long_tail.png",
        "validation_history.png",
        "production_history.png",
    } <= names
    for figure in figures:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 2000


def test_the_run_ends_with_its_report(template_run):
    folder, completed = template_run
    report = (folder / "report.html").read_text()
    assert "Wrote the report to report.html" in completed.stdout
    assert report.count("data:image/png;base64,") >= 5  # the EDA figures and the training curves


def test_recommendations_are_complete_unseen_and_sorted(template_run):
    folder, completed = template_run
    bundle = load_bundle(folder / "artifacts" / "production_model")
    recommendations = json.loads((folder / "recommendations.json").read_text())
    demo = generate_demo(n_users=400, seed=0).interactions
    # Every user of the input gets a list: those the filter removed are folded in from their items.
    assert set(recommendations) == {str(u) for u in demo["user"].unique().to_list()}
    item_index = {item: i for i, item in enumerate(bundle.item_vocab.to_python())}
    user_index = {str(u): i for i, u in enumerate(bundle.user_vocab.to_python())}
    removed = set(recommendations) - set(user_index)
    assert removed and f"{len(removed)} users removed by the minimum-interaction filter" in completed.stdout
    for user, pairs in recommendations.items():
        assert len(pairs) == TOP_N
        items = [item_index[item] for item, _ in pairs]
        scores = [score for _, score in pairs]
        assert all(a >= b for a, b in zip(scores, scores[1:]))
        if user in user_index:
            seen = set(bundle.seen[user_index[user]].indices.tolist())
        else:
            history = demo.filter(pl.col("user").cast(pl.String) == user)["item"].to_list()
            seen = {item_index[item] for item in history if item in item_index}
        assert not seen & set(items)
    assert "Wrote top-10 recommendations" in completed.stdout


def test_bundle_reloads_and_reproduces_the_scores(template_run):
    folder, _ = template_run
    bundle = load_bundle(folder / "artifacts" / "production_model")
    recommendations = json.loads((folder / "recommendations.json").read_text())
    users = compute_embeddings(bundle.model, "user")
    items = compute_embeddings(bundle.model, "item")
    first_user = bundle.user_vocab.to_python()[0]
    item_index = {item: i for i, item in enumerate(bundle.item_vocab.to_python())}
    item, score = recommendations[str(first_user)][0]
    assert np.isclose(users[0] @ items[item_index[item]], score, atol=1e-3)
    metrics = json.loads((folder / "artifacts" / "validation_model" / "metrics.json").read_text())
    assert metrics["validation"]["Recall@10"] > metrics["most_popular"]["Recall@10"]


def test_wrong_action_lists_valid_ones():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "train_modle"], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "unknown action 'train_modle'" in completed.stderr and "compute_predictions" in completed.stderr


def test_one_run_reads_the_data_once(template_run):
    folder, completed = template_run
    assert (folder / "calls.txt").read_text().splitlines() == ["call"]
    assert completed.stdout.count("Preparing ") == 1


def test_redirected_log_is_short_with_one_line_per_epoch_and_stage_headers(template_run):
    folder, completed = template_run
    log = completed.stdout
    assert len(log.encode()) < 30_000 and "\r" not in log
    for number, action in enumerate(
        [
            "exploratory_data_analysis",
            "train_validation_model",
            "train_production_model",
            "compute_predictions",
        ],
        1,
    ):
        assert f"[{number}/4] {action}" in log
    validation = json.loads((folder / "artifacts" / "validation_model" / "metrics.json").read_text())
    production = json.loads((folder / "artifacts" / "production_model" / "metrics.json").read_text())
    epoch_lines = [line for line in log.splitlines() if line.strip().startswith("epoch ")]
    assert len(epoch_lines) == validation["epochs_run"] + production["epochs"]
    assert "Using the best epoch of the validation run" in log
    assert validation["identity"] == production["identity"]


def test_help_lists_actions_and_options():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--help"], capture_output=True, text=True
    )
    assert completed.returncode == 0
    assert "compute_predictions" in completed.stdout and "--quiet" in completed.stdout


def test_ctrl_c_during_training_is_one_line_and_exit_130(tmp_path):
    import signal

    # Long enough (50 epochs, no early stop) that the run cannot end before the signal arrives,
    # however slowly this test reads the first epoch line.
    settings = "demo_num_users = 1000\nmax_epochs = 50\nearly_stopping_patience = 50\nembedding_dim = 8\n"
    env = {**copy_template(tmp_path, settings), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "main.py", "train_validation_model"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stdout:
            if line.strip().startswith("epoch") and "/50" in line:
                process.send_signal(signal.SIGINT)
                break
        # A SIGINT that lands while native code runs can be consumed there (seen on a loaded
        # machine); a user would press Ctrl-C again, and so does this test, a few times at most.
        for _ in range(5):
            try:
                _, err = process.communicate(timeout=20)
                break
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)
        else:
            _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and err == "interrupted\n"
    assert not (tmp_path / "artifacts" / "validation_model").exists()
