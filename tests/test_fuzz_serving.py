"""Property-based fuzzing of the serving surfaces: the Python API (`Recommender`: recommend,
recommend_from_history, recommend_from_features, similar_items, add_items, save and load) and the
HTTP service (the real server process on 127.0.0.1, a bounded number of requests).

The only acceptable outcomes are a correct answer — at most n items, none excluded, seen or in
the history, finite scores best first — or one clear line: a RecsysError without a newline from
the API; a 4xx whose body is `{"error": ...}` of at most MAX_ERROR_CHARS from the service. Never a
500, a traceback, a body over its bound, or a lost file. Each outcome is counted (`OUTCOMES`), and
the last test prints the counts and checks that every kind of case was reached.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_service import free_port, item_id, planted, server, user_id  # noqa: F401  (fixtures)

from recsys.errors import RecsysError
from recsys.serve.schemas import MAX_ERROR_CHARS

OUTCOMES: Counter = Counter()  # "api answer", "api clear error", "http answer", "http 4xx"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Ids: mostly the planted model's (users 100.., items "g000"..), with odd values mixed in.
KNOWN_ITEM = st.integers(0, 59).map(item_id)
KNOWN_USER = st.integers(0, 119).map(user_id)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
ITEM = st.one_of(KNOWN_ITEM, KNOWN_ITEM, KNOWN_ITEM, ODD)
USER = st.one_of(KNOWN_USER, KNOWN_USER, KNOWN_USER, ODD)
VALID_N = st.integers(1, 70)
N = st.one_of(VALID_N, VALID_N, VALID_N, st.just(0), ODD, st.integers(10**6, 10**15))
FEATURES = st.one_of(
    st.fixed_dictionaries({"group": st.sampled_from(["c0", "c1", "c2", "c3", "unknown"])}),
    st.dictionaries(st.text(max_size=8), ODD, max_size=3),
)


def clear_error(error: RecsysError) -> None:
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text and len(text) < 2000


def check_answer(answer, n, forbidden: list[set]) -> None:
    """At most n items per query (never more than the catalogue), none forbidden, finite scores
    best first (NaN throughout a popular fallback's list: it has no affinity to show)."""
    assert len(answer.items) == len(forbidden)
    for items, scores, banned, fallback in zip(answer.items, answer.scores, forbidden, answer.fallback):
        assert len(items) <= n and not set(items) & banned
        if fallback:
            assert all(math.isnan(score) for score in scores)
            continue
        assert all(math.isfinite(score) for score in scores)
        assert all(a >= b for a, b in zip(scores, scores[1:]))


def api_call(run, check) -> None:
    """One API call: a checked answer, or a RecsysError of one clear line; nothing else."""
    try:
        answer = run()
    except RecsysError as error:
        clear_error(error)
        OUTCOMES["api clear error"] += 1
        return
    check(answer)
    OUTCOMES["api answer"] += 1


# --- the Python API ----------------------------------------------------------------------------
@FUZZ
@given(users=st.lists(USER, min_size=1, max_size=4), n=N, exclude_seen=st.booleans())
def test_recommend_answers_or_refuses_in_one_line(planted, users, n, exclude_seen):
    model = planted[0]

    def check(answer):
        rows = model.user_vocab.indices_of(users)
        seen = [
            set(model.item_vocab.to_python(model.bundle.seen[row].indices))
            if row >= 0 and exclude_seen
            else set()
            for row in rows
        ]
        check_answer(answer, n, seen)

    api_call(lambda: model.recommend(users, n=n, exclude_seen=exclude_seen), check)


@FUZZ
@given(history=st.lists(ITEM, max_size=6), n=N)
def test_recommend_from_history_answers_or_refuses_in_one_line(planted, history, n):
    model = planted[0]
    catalogue = set(model.item_vocab.python_ids)
    several = bool(history) and all(isinstance(h, list) for h in history)  # a list of histories
    histories = history if several else [history]
    known = [{item for item in h if isinstance(item, str) and item in catalogue} for h in histories]
    api_call(
        lambda: model.recommend_from_history(history, n=n), lambda answer: check_answer(answer, n, known)
    )


@FUZZ
@given(features=FEATURES, history=st.one_of(st.none(), st.lists(KNOWN_ITEM, max_size=4)), n=N)
def test_recommend_from_features_answers_or_refuses_in_one_line(planted, features, history, n):
    model = planted[0]
    banned = set(history or [])
    api_call(
        lambda: model.recommend_from_features(features, n=n, history=history),
        lambda answer: check_answer(answer, n, [banned]),
    )


@FUZZ
@given(items=st.lists(ITEM, min_size=1, max_size=3), n=N)
def test_similar_items_answers_or_refuses_in_one_line(planted, items, n):
    model = planted[0]
    api_call(
        lambda: model.similar_items(items, n=n), lambda answer: check_answer(answer, n, [{i} for i in items])
    )


@FUZZ
@given(new_ids=st.lists(st.one_of(st.text(min_size=1, max_size=6), ODD), min_size=1, max_size=3))
def test_add_items_without_item_features_refuses_in_one_line_and_changes_nothing(planted, new_ids):
    """The planted model has no item features, so nothing can be added: whatever the ids, one
    clear line, and the catalogue is unchanged."""
    model = planted[0]
    before = len(model.item_vocab)

    def never_added(added):
        raise AssertionError(f"{added} items were added to a model without item features")

    records = {}
    for new_id in new_ids:
        try:
            records[new_id] = {"group": "c1"}
        except TypeError:  # an unhashable id cannot be a dict key: give it as a table row instead
            records = {"id": [new_id], "group": ["c1"]}
            break
    api_call(lambda: model.add_items(records), never_added)
    assert len(model.item_vocab) == before


@FUZZ
@given(name=st.sampled_from([".", "..", "empty", "bundle", "folder-with-notes", "a-file", "new"]))
def test_a_save_anywhere_never_loses_a_file(planted, tmp_path_factory, name):
    model = planted[0]
    root = tmp_path_factory.mktemp("save")
    (root / "empty").mkdir()
    (root / "folder-with-notes").mkdir()
    (root / "folder-with-notes" / "notes.txt").write_text("mine")
    (root / "a-file").write_text("mine")
    model.save(root / "bundle")

    def reloads(path):
        again = type(model).load(path)
        assert again.recommend([user_id(0)], n=5).items == model.recommend([user_id(0)], n=5).items

    api_call(lambda: model.save(root / name), reloads)
    assert (root / "folder-with-notes" / "notes.txt").read_text() == "mine"  # the user's files stay
    assert (root / "a-file").read_text() == "mine"
    assert (root / "bundle" / "manifest.json").is_file()


# --- the HTTP service --------------------------------------------------------------------------
BODY = st.fixed_dictionaries(
    {},
    optional={
        "history": st.one_of(st.lists(ITEM, max_size=5), st.lists(KNOWN_ITEM, max_size=5), ODD),
        "exclude": st.one_of(st.lists(ITEM, max_size=5), st.lists(KNOWN_ITEM, max_size=5), ODD),
        "n": st.one_of(VALID_N, VALID_N, N),
        "features": st.one_of(FEATURES, FEATURES, ODD),
        "extra": ODD,
    },
)


def http_checked(status: int, body, n_max: int | None, banned: set) -> None:
    assert status < 500, body
    if status >= 400:
        assert set(body) == {"error"} and len(body["error"]) <= MAX_ERROR_CHARS and "\n" not in body["error"]
        OUTCOMES["http 4xx"] += 1
        return
    items = [entry["item"] for entry in body["items"]]
    assert not set(items) & banned
    if n_max is not None:
        assert len(items) <= n_max
    assert all(math.isfinite(entry["score"]) for entry in body["items"] if entry["score"] is not None)
    OUTCOMES["http answer"] += 1


@FUZZ
@given(body=BODY)
def test_post_recommend_answers_or_refuses_in_4xx(server, body):
    status, _, answer = server.post(body)
    banned = set()
    for key in ("history", "exclude"):
        if isinstance(body.get(key), list):
            banned |= {item for item in body[key] if isinstance(item, str)}
    n = body.get("n", 10)
    http_checked(status, answer, n if isinstance(n, int) and not isinstance(n, bool) else None, banned)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_post_recommend_with_any_bytes_is_an_answer_or_a_4xx(server, raw):
    status, _, answer = server.post(raw=raw, headers={"Content-Type": "application/json"})
    http_checked(status, answer, None, set())


@FUZZ
@given(
    path=st.sampled_from(["/recommend/", "/similar/"]),
    key=st.one_of(KNOWN_USER.map(str), KNOWN_ITEM, st.text(min_size=1, max_size=40)),
    n=st.one_of(st.integers(-5, 2000), st.text(max_size=5)),
)
def test_get_answers_or_refuses_in_4xx(server, path, key, n):
    from urllib.parse import quote

    status, _, answer = server.get(f"{path}{quote(key, safe='')}?n={quote(str(n), safe='')}")
    banned = {key} if path == "/similar/" else set()
    http_checked(status, answer, n if isinstance(n, int) else None, banned)


def test_zz_every_kind_of_outcome_was_reached_and_none_else(capsys):
    """Runs last in this module: the counts of the suite (the closing note quotes them)."""
    with capsys.disabled():
        print("\nserving fuzz outcomes:", json.dumps(dict(sorted(OUTCOMES.items()))))
    if not OUTCOMES:
        pytest.skip("run with the whole module: the counts come from its other tests")
    for kind in ("api answer", "api clear error", "http answer", "http 4xx"):
        assert OUTCOMES[kind] > 0, kind
    assert np.all(np.array(list(OUTCOMES.values())) >= 0)
