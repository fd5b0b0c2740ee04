"""The run's report: one self-contained page (no external reference, every image an embedded PNG)
that shows the data, the metrics beside most-popular, the curves and sample users' histories beside
their recommendations; a partial run leaves sections out with a note; and a real browser renders it
without a console error, with every image loaded."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.config import Config
from recsys.data.experiment import Experiment
from recsys.errors import ConfigError
from recsys.pipeline import run_actions
from recsys.report.page import build_report, write_report
from recsys.report.samples import read_sample
from recsys.report.sections import SAMPLE_USERS

PNG = b"\x89PNG\r\n\x1a\n"
IMAGE_SOURCE = re.compile(r'<img src="([^"]*)"')
USER_TITLE = re.compile(r"<h3>User ([^<]*?)(?: — [^<]*)?</h3>")


def tiny_config(folder: Path, **settings) -> Config:
    paths = {
        "output_dir": str(folder / "artifacts"),
        "figures_dir": str(folder / "figures"),
        "recommendations_fpath": str(folder / "recommendations.json"),
        "report_fpath": str(folder / "report.html"),
    }
    return Config(
        demo_num_users=300,
        max_epochs=3,
        early_stopping_patience=2,
        embedding_dim=16,
        top_n=10,
        verbosity=0,
        **{**paths, **settings},
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """Every action but similar_items on a tiny demo, so that every section of the report has data."""
    folder = tmp_path_factory.mktemp("report")
    config = tiny_config(folder)
    actions = [
        "exploratory_data_analysis",
        "train_validation_model",
        "train_production_model",
        "compute_predictions",
        "compare_models",
    ]
    run_actions(actions, Experiment(config))
    return config, Path(config.report_fpath).read_text()


def test_the_report_is_self_contained(full_run):
    config, page = full_run
    for external in ("http://", "https://", 'src="/', "<script", "url("):
        assert external not in page
    sources = IMAGE_SOURCE.findall(page)
    assert page.count("<img") == len(sources)
    figures = sorted(Path(config.figures_dir).glob("*.png"))
    assert len(sources) == len(figures) >= 8  # EDA (6 with scores and times), 2 curves, the comparison
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :], validate=True).startswith(PNG)
    assert "Left out" not in page and 'class="note"' not in page  # every section had its inputs


def test_the_report_shows_metrics_beside_most_popular_and_the_comparison(full_run):
    config, page = full_run
    metrics = json.loads((Path(config.output_dir) / "validation_model" / "metrics.json").read_text())
    section = page[page.index('<section id="metrics">') : page.index('<section id="comparison">')]
    for name in ("Recall", "NDCG"):
        row = re.search(rf"<tr><th>{name}</th>(.*?)</tr>", section)
        assert row is not None
        values = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
        for k, first in ((10, 0), (20, 3)):  # two-tower, most-popular, change for each k
            ours, theirs = metrics["validation"][f"{name}@{k}"], metrics["most_popular"][f"{name}@{k}"]
            assert values[first : first + 3] == [f"{ours:.4f}", f"{theirs:.4f}", f"{ours / theirs - 1:+.0%}"]
    assert f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']} run" in page
    comparison = pl.read_csv(Path(config.output_dir) / "comparison.csv")
    for model in comparison["model"]:
        assert f'<td class="name">{model}</td>' in page
    # compare_models on the demo: the two-tower row's difference to the best baseline, with its interval
    from recsys.eval.compare import VERSUS

    versus = comparison.filter(pl.col("model").str.starts_with("two-tower"))[VERSUS].to_list()
    assert versus and all(re.search(r"R@20 [+-]\d+\.\d % \[[+-]\d+\.\d, [+-]\d+\.\d\]", v) for v in versus)
    assert all(html.escape(v) in page for v in versus) and "95 % paired bootstrap interval" in page
    assert "EASE" in page and "iALS" in page
    from recsys.data.demo import generate_demo
    from recsys.data.summary import summarize

    summary = summarize(generate_demo(n_users=300, seed=0))
    assert f"<th>Interactions</th><td>{summary['interactions']:,}</td>" in page
    assert f"<th>Items</th><td>{summary['items']:,}</td>" in page


def test_the_report_shows_sample_users_with_their_history_and_recommendations(full_run):
    config, page = full_run
    recommendations = json.loads(Path(config.recommendations_fpath).read_text())
    users = USER_TITLE.findall(page)
    assert len(users) == len(set(users)) == SAMPLE_USERS
    cards = page.split('<div class="card">')[1:]
    from recsys.data.demo import generate_demo

    demo = generate_demo(n_users=300, seed=0)
    genres = dict(zip(demo.item_features["id"].to_list(), demo.item_features["genres"].to_list()))
    for user, card in zip(users, cards):
        assert user in recommendations
        interacted, recommended = card.split("<h4>Recommended")
        for item, score in recommendations[user][:10]:
            assert f"<code>{item}</code>" in recommended and f"{score:.3f}" in recommended
        first = recommendations[user][0][0]
        assert genres[first].split("|")[0] in recommended  # item features shown beside the ids
        history = demo.interactions.filter(pl.col("user") == user)["item"].to_list()
        assert f"({len(history):,})</h4>" in interacted
        shown = re.findall(r"<code>([^<]*)</code>", interacted)
        assert shown and {int(i) for i in shown} <= set(history)
    # The same seed picks the same users; another seed picks others.
    again = build_report(config)
    assert USER_TITLE.findall(again) == users
    other = USER_TITLE.findall(build_report(config.replace(seed=7)))
    assert len(other) == SAMPLE_USERS and other != users


def test_a_partial_run_leaves_sections_out_with_a_note(tmp_path, capsys):
    config = tiny_config(tmp_path)
    run_actions(["exploratory_data_analysis"], Experiment(config))
    page = Path(config.report_fpath).read_text()
    assert "Interactions per user" in page and page.count("<img") == 6
    for missing in ("train_validation_model action", "compare_models action", "compute_predictions action"):
        assert missing in page
    assert "Left out" not in page
    # Without an experiment, and with nothing on disk: a page of notes, not an error.
    empty = tiny_config(tmp_path / "nothing")
    path = write_report(empty)
    text = path.read_text()
    assert "did not load the data" in text and "No EDA figures" in text and "<img" not in text
    assert capsys.readouterr().err == ""


def test_an_unreadable_input_is_a_note_and_a_warning(tmp_path, capsys):
    config = tiny_config(tmp_path)
    metrics = Path(config.output_dir) / "validation_model" / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text("{not json")
    page = build_report(config)
    assert "Left out: it could not be built (JSONDecodeError" in page
    assert "the report's section 'Validation metrics' was left out" in capsys.readouterr().err


def test_text_from_the_data_is_escaped(tmp_path):
    from recsys.report.sections import _item_table

    table = _item_table(
        ["<b>1</b>"], [0.5], None, {"<b>1</b>": {"title": "<script>x()</script> & co"}}, ["title"], "score"
    )
    assert "<script>" not in table and "&lt;script&gt;x()&lt;/script&gt; &amp; co" in table
    assert "<code>&lt;b&gt;1&lt;/b&gt;</code>" in table


@pytest.mark.parametrize("fmt", ["json", "jsonl", "parquet"])
def test_every_recommendations_format_is_sampled(tmp_path, fmt):
    from recsys.data.vocabulary import Vocabulary
    from recsys.serve.outputs import write_recommendations

    users = pl.Series("id", [f"u{i:02d}" for i in range(12)])
    items = Vocabulary(pl.Series("id", [10, 20, 30, 40]))
    top = np.tile(np.array([[3, 1, 0]]), (12, 1))
    top[5] = [-1, -1, -1]  # nothing left to recommend
    scores = np.tile(np.array([[0.9, 0.5, 0.1]]), (12, 1))
    path = tmp_path / f"recommendations.{fmt}"
    write_recommendations(path, users, top, scores, items, fmt=fmt)
    chosen, lists, total = read_sample(path, fmt, seed=3, n=4)
    assert total == (11 if fmt != "json" else 12)  # jsonl and parquet hold no row for an empty list
    assert len(chosen) == len(set(chosen)) == 4 and set(chosen) <= set(users)
    for user in chosen:
        expected = [] if user == "u05" else [(40, 0.9), (20, 0.5), (10, 0.1)]
        assert [(item, round(score, 5)) for item, score in lists[user]["items"]] == expected
    assert read_sample(path, fmt, seed=3, n=4)[0] == chosen
    if fmt == "json":  # valid JSON of another layout (one line) is read whole
        path.write_text(json.dumps(json.loads(path.read_text())))
        chosen, lists, total = read_sample(path, fmt, seed=3, n=4)
        assert total == 12 and len(chosen) == 4 and all(user in users for user in chosen)


def test_an_unwritable_report_path_is_refused_before_any_work(tmp_path):
    calls: list = []
    config = tiny_config(tmp_path, report_fpath=str(tmp_path))  # a folder
    with pytest.raises(ConfigError, match="config 'report_fpath' is"):
        run_actions(["exploratory_data_analysis"], Experiment(config, lambda: calls.append(1)))
    assert calls == []


# --------------------------------------------------------------------------------------------
# in a real browser
# --------------------------------------------------------------------------------------------
def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def test_a_browser_renders_the_report(full_run, tmp_path):
    """Headless Chromium (the system's, driven by Playwright over the DevTools protocol) opens the
    page from disk: no console error, no request leaves the file, every image decodes, and the
    screenshot is a page with content, not a blank one."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium binary found (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import matplotlib.image

    config, _ = full_run
    url = Path(config.report_fpath).resolve().as_uri()
    errors: list[str] = []
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"], timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(20_000)
            page.on(
                "console", lambda message: errors.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: errors.append(str(error)))

            def only_the_file(route):
                if route.request.url.startswith(("file:", "data:")):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_file)
            page.goto(url, wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            screenshot = page.screenshot(full_page=True)
        finally:
            browser.close()
    assert errors == [] and outside == []
    assert len(images) >= 8 and all(
        complete and width > 0 and height > 0 for complete, width, height in images
    )
    pixels = matplotlib.image.imread(io.BytesIO(screenshot), format="png")[..., :3]
    assert pixels.shape[1] == 1200 and pixels.shape[0] > 2000  # the whole page, not the viewport
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
