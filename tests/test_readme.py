"""Every Python block of the README runs as written, in a temporary folder that holds the small
files it reads, so the README cannot drift from the code."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.config import Config
from recsys.config_loading import load_config

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = [
    textwrap.dedent(block)
    for block in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
]


def block_with(text: str) -> str:
    """The one README block that contains `text`."""
    found = [block for block in BLOCKS if text in block]
    assert len(found) == 1, f"{len(found)} README blocks contain {text!r}"
    return found[0]


def run_block(code: str, folder: Path, monkeypatch) -> dict:
    """Run a block in `folder` (its working directory), KERAS_BACKEND restored afterwards."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    namespace: dict = {"__name__": "readme_block"}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_every_block_is_one_of_those_tested_here():
    tested = (
        'raw_data_fpath = "data/purchases.csv"',
        "def get_raw_data",
        "raw_data_fpath = None",
        "Recommender.fit(",
        "make_index(item_embeddings)",
        "run_actions(",
        "csv_quote_char = None",
    )
    assert len(BLOCKS) == len(tested) and all(len([b for b in BLOCKS if t in b]) == 1 for t in tested)


@pytest.mark.parametrize("marker", ['raw_data_fpath = "data/purchases.csv"', "raw_data_fpath = None"])
def test_the_config_examples_are_valid_settings(tmp_path, marker):
    path = tmp_path / "config.py"
    path.write_text(block_with(marker))
    config = load_config(path)
    assert isinstance(config, Config) and config.min_interactions_per_item in (1, 5)


def test_the_movielens_hook_example_reads_a_movielens_folder(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "ml-latest-small"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n"
    )
    (folder / "movies.csv").write_text(
        'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,"Jumanji, The (1995)",Adventure\n'
    )
    namespace = run_block(block_with("def get_raw_data"), tmp_path, monkeypatch)
    interactions, _, items = namespace["get_raw_data"]()
    assert interactions.height == 2 and items["year"].to_list() == [1995, 1995]


def write_purchases(folder: Path) -> None:
    """A small shop: customers in two groups buy products of their group (alice and bob among them)."""
    rng = np.random.default_rng(0)
    customers = ["alice", "bob"] + [f"c{i}" for i in range(58)]
    products = [f"p{i}" for i in range(1, 41)]
    rows = []
    for number, customer in enumerate(customers):
        group = products[(number % 2) * 20 : (number % 2) * 20 + 20]
        rows += [(customer, product, day) for day, product in enumerate(rng.choice(group, 8, replace=False))]
    data = folder / "data"
    data.mkdir()
    pl.DataFrame(rows, schema=["customer_id", "product_id", "time"], orient="row").write_csv(
        data / "purchases.csv"
    )
    pl.DataFrame(
        {"customer_id": customers, "country": ["FR", "DE"] * 30, "age": (20 + np.arange(60) % 40).tolist()}
    ).write_csv(data / "customers.csv")
    pl.DataFrame(
        {
            "product_id": products,
            "category": ["garden", "kitchen"] * 20,
            "price": np.linspace(1, 40, 40).tolist(),
        }
    ).write_csv(data / "products.csv")


def test_the_python_api_example(tmp_path, monkeypatch):
    write_purchases(tmp_path)
    namespace = run_block(block_with("Recommender.fit("), tmp_path, monkeypatch)
    model = namespace["model"]  # the reloaded one
    assert namespace["answer"].fallback == [False, False, True]
    assert "p-new" in model.item_vocab.python_ids  # add_items was saved with the bundle
    assert (tmp_path / "artifacts" / "my_model" / "manifest.json").is_file()
    assert len(model.recommend("alice", n=5).items[0]) == 5


def test_the_retrieval_example(tmp_path, monkeypatch):
    namespace = run_block(block_with("make_index(item_embeddings)"), tmp_path, monkeypatch)
    items, seen = namespace["items"], namespace["seen"]
    assert items.shape == (100, 50) and namespace["index"].kind == "exact"
    assert not seen[np.repeat(np.arange(100), 50), items.ravel()].any()


def test_the_notebook_example_runs_the_actions(tmp_path, monkeypatch):
    run_block(block_with("run_actions("), tmp_path, monkeypatch)
    assert (tmp_path / "recommendations.json").is_file()
    assert (tmp_path / "artifacts" / "production_model" / "manifest.json").is_file()


def test_the_service_examples_answer_on_the_demo_bundle(tmp_path):
    """The README's curl lines, run as written (only the port changed) by the real curl against
    `recsys serve` of a bundle trained on the built-in demo: every id they use exists there."""
    import json
    import shutil
    import subprocess

    from test_service import serving

    from recsys.data.experiment import Experiment
    from recsys.pipeline import run_actions

    if shutil.which("curl") is None:
        pytest.skip("needs the curl command")
    block = re.search(r"```bash\n(curl .*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "the README has no block of curl examples"
    commands = [line for line in block.group(1).replace("\\\n", " ").splitlines() if line.strip()]
    config = Config(
        production_epochs=2,
        output_dir=str(tmp_path / "artifacts"),
        figures_dir=str(tmp_path / "figures"),
        report_fpath=str(tmp_path / "report.html"),
        verbosity=0,
    )
    run_actions(["train_production_model"], Experiment(config))
    with serving(tmp_path / "artifacts" / "production_model", tmp_path) as client:
        answers = []
        for command in commands:
            local = command.replace("127.0.0.1:8000", f"127.0.0.1:{client.port}")
            done = subprocess.run(local, shell=True, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (command, done.stderr)
            answers.append(json.loads(done.stdout))
    known, history, similar, health, metadata = answers
    assert known["fallback"] is False and len(known["items"]) == 5, known
    assert history["fallback"] is False and history["unknown_items"] == [] and len(history["items"]) == 5
    assert 2565 not in [entry["item"] for entry in history["items"]]
    assert similar["item"] == 1143 and len(similar["items"]) == 5, similar
    assert health == {"status": "ok"} and metadata["model"]["users"] > 2900 and "trained_at" in metadata


def test_the_lastfm_config_runs_on_files_in_lastfms_format(tmp_path, monkeypatch):
    """The README's Last.fm config.py, as written, on user_artists.dat and artists.dat written in the
    published format: trained, and the recommendations carry the artists' names."""
    from test_loading import lastfm_files

    from recsys.data.experiment import Experiment
    from recsys.pipeline import run_actions

    folder = tmp_path / "data" / "hetrec2011-lastfm-2k"
    folder.mkdir(parents=True)
    lastfm_files(folder)
    (tmp_path / "config.py").write_text(block_with("csv_quote_char = None"))
    monkeypatch.chdir(tmp_path)
    config = load_config(tmp_path / "config.py").replace(
        min_interactions_per_user=1, min_interactions_per_item=1, production_epochs=1, top_n=2,
        recommendations_format="jsonl", verbosity=0,
    )  # fmt: skip
    run_actions(["train_production_model", "compute_predictions"], Experiment(config))
    rows = pl.read_ndjson(tmp_path / config.recommendations_fpath)
    names = {
        51: "Duran Duran",
        52: '"Weird Al" Yankovic',
        53: "Moby",
        54: "Air",
        55: "Björk",
        56: "Sigur Rós",
    }
    assert rows.height > 0 and rows["name"].to_list() == [names[item] for item in rows["item"].to_list()]
