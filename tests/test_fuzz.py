"""Property-based fuzzing of whole runs: generated interaction tables (integer, huge, unicode and
digit-text ids; duplicate rows; extreme, negative and missing scores; timestamps) and settings.

The only acceptable outcomes are a correct run — every id comes out as it went in (text ids
without surrounding whitespace, and a column of plain-integer text as integers: the documented
rules), no seen item is recommended, every score is finite and lists are best first — or one
clear line (a RecsysError without a newline). Anything else (a traceback from a library, a
wrong result) fails the property.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from recsys.config import DUPLICATE_POLICIES, Config
from recsys.data.experiment import Experiment
from recsys.errors import RecsysError
from recsys.ranking.exact import ExactIndex
from recsys.serve.outputs import write_recommendations

PLAIN_INTEGER = re.compile(r"0|-?[1-9][0-9]*")
TEXT = st.text(alphabet="ab é中0 19-", min_size=1, max_size=5)
SMALL_INTEGER = st.integers(-50, 50)
# Mostly ordinary values, with the extremes mixed in (so that most examples run end to end).
INTEGER = st.one_of(
    SMALL_INTEGER,
    SMALL_INTEGER,
    SMALL_INTEGER,
    st.integers(2**63 - 3, 2**64 - 1),
    st.integers(-(2**63), -(2**62)),
)
GOOD_SCORE = st.one_of(st.floats(0.5, 10), st.integers(1, 5))
SCORE = st.one_of(
    GOOD_SCORE, GOOD_SCORE, GOOD_SCORE, st.floats(-10, 10), st.floats(allow_nan=True, allow_infinity=True)
)


@st.composite
def tables(draw, clean: bool = False):
    """Rows of interactions drawn from small pools of user and item ids of one kind each; `clean`
    leaves out the extreme ids and scores (for the slower examples that train a model)."""
    kinds = [TEXT, SMALL_INTEGER] if clean else [TEXT, INTEGER]
    user_pool = draw(st.lists(draw(st.sampled_from(kinds)), min_size=1, max_size=4, unique=True))
    item_pool = draw(st.lists(draw(st.sampled_from(kinds)), min_size=3, max_size=8, unique=True))
    with_scores, with_times = draw(st.booleans()), draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(4, 40))):
        row = {"user": draw(st.sampled_from(user_pool)), "item": draw(st.sampled_from(item_pool))}
        if with_scores:
            row["score"] = draw(GOOD_SCORE if clean else SCORE)
        if with_times:
            row["timestamp"] = draw(st.integers(1_600_000_000, 1_700_000_000))
        rows.append(row)
    return rows


def expected_ids(values: list) -> set:
    """The ids a correct run reports for a column of given values (see the module doc)."""
    if not all(isinstance(v, str) for v in values):
        return set(values)
    stripped = [v.strip() for v in values]
    if all(PLAIN_INTEGER.fullmatch(v) and -(2**63) <= int(v) < 2**63 for v in stripped):
        return {int(v) for v in stripped}
    return set(stripped)


def typed(ids) -> set:
    return {(type(i), i) for i in ids}


def check_run(rows: list[dict], config: Config, path) -> str:
    """Run load -> prepare -> split -> recommend (random embeddings) -> JSON; check the result."""
    try:
        experiment = Experiment(config, lambda: (rows, None, None))
        prepared, seen = experiment.prepared, experiment.full_matrix
        split = experiment.split
    except RecsysError as error:
        assert "\n" not in str(error) and len(str(error)) < 600, str(error)
        event(f"error: {str(error)[:60]}")
        return "clear error"
    # The split: a partition of the interactions; every validation user keeps training rows.
    assert len(split.train) + len(split.validation) == len(prepared.interactions)
    assert set(np.unique(split.validation.users)) <= set(np.unique(split.train.users))
    users = prepared.user_vocab.to_python()
    items = prepared.item_vocab.to_python()
    assert typed(users) <= typed(expected_ids([r["user"] for r in rows]))
    assert typed(items) <= typed(expected_ids([r["item"] for r in rows]))
    rng = np.random.default_rng(0)
    user_vectors = rng.normal(size=(len(users), 4)).astype(np.float32)
    item_vectors = rng.normal(size=(len(items), 4)).astype(np.float32)
    top_items, top_scores = ExactIndex(item_vectors).search(user_vectors, config.top_n, seen)
    write_recommendations(path, prepared.user_vocab.ids, top_items, top_scores, prepared.item_vocab)
    written = json.loads(path.read_text())
    assert set(written) == {str(u) for u in users}
    index = {(type(i), i): n for n, i in enumerate(items)}
    for row, user in enumerate(users):
        pairs = written[str(user)]
        seen_items = set(seen[row].indices.tolist())
        assert len(pairs) == min(config.top_n, len(items) - len(seen_items))
        recommended = [index[(type(item), item)] for item, _ in pairs]
        assert not seen_items & set(recommended)
        scores = [score for _, score in pairs]
        assert all(math.isfinite(s) for s in scores) and scores == sorted(scores, reverse=True)
    return "correct run"


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=tables(),
    min_user=st.integers(1, 2),
    min_item=st.integers(1, 2),
    policy=st.sampled_from(DUPLICATE_POLICIES),
    negative=st.sampled_from(["drop", "drop", "error"]),
    top_n=st.integers(1, 4),
)
def test_generated_tables_run_correctly_or_fail_in_one_line(
    tmp_path_factory, rows, min_user, min_item, policy, negative, top_n
):
    config = Config(
        min_interactions_per_user=min_user,
        min_interactions_per_item=min_item,
        duplicate_policy=policy,
        negative_scores=negative,
        top_n=top_n,
        split_strategy="random",
        verbosity=0,
    )
    outcome = check_run(rows, config, tmp_path_factory.mktemp("fuzz") / "recommendations.json")
    event(outcome)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=tables(clean=True), top_n=st.integers(1, 3))
def test_generated_tables_through_training_and_a_saved_bundle(tmp_path_factory, rows, top_n):
    """A few examples through the real model: train, save, reload, recommend; same invariants."""
    from recsys.model.bundle import load_bundle
    from recsys.pipeline import run_actions

    folder = tmp_path_factory.mktemp("run")
    config = Config(
        min_interactions_per_user=1,
        min_interactions_per_item=1,
        embedding_dim=4,
        batch_size=16,
        production_epochs=1,
        top_n=top_n,
        output_dir=str(folder / "artifacts"),
        figures_dir=str(folder / "figures"),
        recommendations_fpath=str(folder / "recommendations.json"),
        report_fpath=str(folder / "report.html"),
        verbosity=0,
    )
    try:
        run_actions(
            ["train_production_model", "compute_predictions"], Experiment(config, lambda: (rows, None, None))
        )
    except RecsysError as error:
        assert "\n" not in str(error), str(error)
        event("clear error")
        return
    event("correct run")
    bundle = load_bundle(folder / "artifacts" / "production_model")
    written = json.loads((folder / "recommendations.json").read_text())
    items = bundle.item_vocab.to_python()
    assert typed(items) <= typed(expected_ids([r["item"] for r in rows]))
    index = {(type(i), i): n for n, i in enumerate(items)}
    for row, user in enumerate(bundle.user_vocab.to_python()):
        recommended = [index[(type(item), item)] for item, _ in written[str(user)]]
        assert not set(bundle.seen[row].indices.tolist()) & set(recommended)
        assert all(math.isfinite(score) for _, score in written[str(user)])
