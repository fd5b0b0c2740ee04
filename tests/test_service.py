"""The HTTP service: a real `recsys serve` process on 127.0.0.1 answers JSON for known and unknown
users, histories (with unknown and excluded items), similar items, metadata and docs; every bad
request is a 4xx JSON error naming the problem. In-process: the serving ranker gives the
Recommender's answers, alone and batched, and an unexpected error is a 500 without a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from planted import community_interactions

from recsys.cli import main
from recsys.config import Config
from recsys.serve.recommender import Recommender

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from test_recommender import SETTINGS  # the planted model of test_recommender, here served

from recsys.data.vocabulary import Vocabulary
from recsys.serve.app import create_app
from recsys.serve.batcher import Batcher
from recsys.serve.batches import RequestRanker
from recsys.serve.schemas import MAX_ERROR_CHARS

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180.0  # the server imports Keras and loads the bundle before it listens
REQUEST_TIMEOUT_S = 30.0


def user_id(u: int) -> int:
    return 100 + u  # integer user ids


def item_id(i: int) -> str:
    return f"g{i:03d}"  # string item ids


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A small trained model (users in communities) saved as a bundle: (model, frame, groups, path)."""
    data, user_group, item_group = community_interactions(n_users=120, n_items=60, per_user=8, seed=5)
    frame = pl.DataFrame({"user": [user_id(u) for u in data.users], "item": [item_id(i) for i in data.items]})
    groups = {user_id(u): {"group": f"c{user_group[u]}"} for u in range(len(user_group))}  # user features
    model = Recommender.fit(frame, user_features=groups, config=Config(**SETTINGS))
    path = tmp_path_factory.mktemp("service") / "bundle"
    model.save(path)
    return model, frame, user_group, item_group, path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """JSON over http.client, one connection per call, a timeout on everything."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            if body is not None:
                raw = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=raw, headers=headers or {})
            response = connection.getresponse()
            text = response.read().decode()
            kind = response.getheader("content-type", "")
            return response.status, kind, (json.loads(text) if "json" in kind else text)
        finally:
            connection.close()

    def get(self, path: str):
        return self.call("GET", path)

    def post(self, body=None, raw: bytes | None = None, headers=None):
        return self.call("POST", "/recommend", body=body, raw=raw, headers=headers)


@contextlib.contextmanager
def serving(bundle: Path, log_dir: Path):
    """`python -m recsys serve` of `bundle` on a free port of 127.0.0.1: yields a Client once
    /health answers; the process is stopped on exit."""
    port = free_port()
    log_path = log_dir / "server.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "recsys", "serve", "--bundle", str(bundle), "--port", str(port)]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = Client(port)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"server exited ({process.returncode}): {log_path.read_text()}"
            try:
                if client.get("/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no /health in {START_TIMEOUT_S} s: {log_path.read_text()}"
            time.sleep(0.25)
        yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(planted, tmp_path_factory):
    """The planted bundle served, stopped after the module's tests."""
    with serving(planted[4], tmp_path_factory.mktemp("server")) as client:
        yield client


def seen_items(frame: pl.DataFrame, user: int) -> set:
    return set(frame.filter(pl.col("user") == user)["item"].to_list())


def pairs(answer: dict) -> list:
    return [(entry["item"], entry["score"]) for entry in answer["items"]]


# --- over HTTP ----------------------------------------------------------------------------------
def test_health_docs_and_unknown_route(server):
    assert server.get("/health") == (200, "application/json", {"status": "ok"})
    status, kind, text = server.get("/docs")
    assert status == 200 and kind.startswith("text/html") and "swagger" in text.lower()
    status, _, schema = server.get("/openapi.json")
    paths = {"/recommend", "/recommend/{user_id}", "/similar/{item_id}", "/metadata", "/health"}
    assert status == 200 and paths <= set(schema["paths"])
    status, _, body = server.get("/nowhere")
    assert status == 404 and body == {"error": "Not Found"}


def test_known_user_gets_the_models_answer_without_seen_items(server, planted):
    model, frame, user_group, item_group, _ = planted
    for u in (0, 7, 33):
        status, _, body = server.get(f"/recommend/{user_id(u)}?n=5")
        assert status == 200 and body["user"] == user_id(u) and body["fallback"] is False
        expected = model.recommend([user_id(u)], n=5)
        assert [item for item, _ in pairs(body)] == expected.items[0]
        assert np.allclose([s for _, s in pairs(body)], expected.scores[0], atol=1e-5)
        assert not seen_items(frame, user_id(u)) & {item for item, _ in pairs(body)}
    status, _, body = server.get(f"/recommend/{user_id(3)}")
    assert status == 200 and len(body["items"]) == 10  # n defaults to 10


def test_unknown_users_get_the_most_popular_items_flagged(server, planted):
    model, frame, _, _, _ = planted
    counts = frame.group_by("item").len().sort(["len", "item"], descending=[True, False])
    for path_id, shown in (("99999", 99999), ("not-a-number", "not-a-number"), ("1.5", "1.5")):
        status, _, body = server.get(f"/recommend/{path_id}?n=4")
        assert status == 200 and body["user"] == shown and body["fallback"] is True
        assert [item for item, _ in pairs(body)] == counts["item"][:4].to_list()
        assert [entry["score"] for entry in body["items"]] == [None] * 4


def test_path_ids_take_the_vocabularys_type(server):
    status, _, body = server.get(f"/recommend/0{user_id(5)}?n=3")  # "0105" is the integer 105
    assert status == 200 and body["user"] == user_id(5) and body["fallback"] is False
    status, _, body = server.get(f"/similar/{item_id(5)}?n=3")  # a string vocabulary keeps the text
    assert status == 200 and body["item"] == item_id(5) and len(body["items"]) == 3


def test_history_folds_in_and_reports_unknown_items(server, planted):
    model, _, _, item_group, _ = planted
    group = [item_id(i) for i in np.flatnonzero(item_group == 2)[:5]]
    status, _, body = server.post({"history": [*group, "nope", 17], "n": 5})
    assert status == 200, body
    assert body["unknown_items"] == ["nope", 17] and body["fallback"] is False and body["warnings"] == []
    items = [item for item, _ in pairs(body)]
    assert len(items) == 5 and not set(group) & set(items)
    assert items == model.recommend_from_history(group, n=5).items[0]
    assert np.mean([item_group[int(i[1:])] == 2 for i in items]) >= 0.6


def test_exclude_removes_items_and_still_returns_n(server, planted):
    _, frame, _, item_group, _ = planted
    history = [item_id(i) for i in np.flatnonzero(item_group == 1)[:4]]
    _, _, plain = server.post({"history": history, "n": 6})
    ranked = [item for item, _ in pairs(plain)]
    status, _, body = server.post({"history": history, "n": 6, "exclude": [*ranked[:2], "unknown-item"]})
    assert status == 200
    items = [item for item, _ in pairs(body)]
    assert len(items) == 6 and items[:4] == ranked[2:] and not set(ranked[:2]) & set(items)
    top = frame.group_by("item").len().sort(["len", "item"], descending=[True, False])["item"][:4].to_list()
    status, _, popular = server.post({"exclude": top[:1], "n": 3})  # also from the most popular items
    assert status == 200 and popular["fallback"] is True and [i for i, _ in pairs(popular)] == top[1:]


def test_without_history_the_answer_is_the_most_popular(server, planted):
    _, frame, _, _, _ = planted
    top = frame.group_by("item").len().sort(["len", "item"], descending=[True, False])["item"][:3].to_list()
    for body in ({"n": 3}, {"history": [], "n": 3}, {"history": ["only-unknown"], "n": 3}):
        status, _, answer = server.post(body)
        assert status == 200 and answer["fallback"] is True and [i for i, _ in pairs(answer)] == top
    status, _, answer = server.post(raw=b"")  # no body at all
    assert status == 200 and answer["fallback"] is True and len(answer["items"]) == 10


def test_a_known_user_beside_a_history_needs_the_history_tower(server, planted):
    """This model embeds user ids: newer interactions of a known user cannot count without
    retraining, and the answer says so instead of ignoring them; an unknown user is a visitor."""
    status, _, body = server.post({"user": user_id(3), "history": [item_id(1)], "n": 3})
    assert status == 400 and "user_tower = 'history'" in body["error"] and "\n" not in body["error"]
    status, _, visitor = server.post({"user": 99_999, "history": [item_id(1)], "n": 3})
    assert status == 200 and visitor == server.post({"history": [item_id(1)], "n": 3})[2]


def test_a_new_user_by_features_gets_their_community(server, planted):
    model, _, _, item_group, _ = planted
    status, _, body = server.post({"features": {"group": "c2"}, "n": 5, "exclude": [item_id(2)]})
    assert status == 200 and body["fallback"] is False and len(body["items"]) == 5
    items = [item for item, _ in pairs(body)]
    assert item_id(2) not in items
    assert (
        items
        == [i for i in model.recommend_from_features({"group": "c2"}, n=6).items[0] if i != item_id(2)][:5]
    )
    assert np.mean([item_group[int(i[1:])] == 2 for i in items]) >= 0.6
    history = [item_id(1), "g999"]
    status, _, body = server.post({"history": history, "features": {"group": "c2"}, "n": 3})
    assert (
        status == 200 and body["unknown_items"] == ["g999"] and item_id(1) not in [i for i, _ in pairs(body)]
    )
    status, _, body = server.post({"features": {"age": 31}, "n": 3})
    assert status == 400 and "'age'" in body["error"] and "\n" not in body["error"]


def test_similar_items_and_unknown_item(server, planted):
    model = planted[0]
    status, _, body = server.get(f"/similar/{item_id(10)}?n=4")
    assert status == 200 and body["item"] == item_id(10)
    items = [item for item, _ in pairs(body)]
    assert item_id(10) not in items and items == model.similar_items([item_id(10)], n=4).items[0]
    for unknown in ("g999", "12"):
        status, _, body = server.get(f"/similar/{unknown}")
        assert status == 404 and f"unknown item '{unknown}'" in body["error"]


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", f"/recommend/{user_id(1)}?n=0", None),
        ("GET", f"/recommend/{user_id(1)}?n=1001", None),
        ("GET", f"/recommend/{user_id(1)}?n=ten", None),
        ("GET", f"/similar/{item_id(1)}?n=-3", None),
        ("POST", "/recommend", {"history": [item_id(1)], "n": 0}),
        ("POST", "/recommend", {"n": 5000}),
    ],
)
def test_n_out_of_range_is_422_naming_n(server, method, path, body):
    status, kind, answer = server.call(method, path, body=body)
    assert status == 422 and kind == "application/json"
    assert answer["error"].startswith("invalid request: n: ")


def test_bad_bodies_are_422_naming_the_problem(server):
    status, _, body = server.post(raw=b'{"history": [1, 2', headers={"Content-Type": "application/json"})
    assert status == 422 and "malformed JSON body" in body["error"]
    status, _, body = server.post({"histroy": ["g001"]})
    assert status == 422 and "histroy" in body["error"] and "Extra inputs" in body["error"]
    status, _, body = server.post({"history": ["g001", 2.5, True]})
    assert status == 422 and "history.1" in body["error"] and "history.2" in body["error"]
    status, _, body = server.post({"history": "g001"})
    assert status == 422 and body["error"].startswith("invalid request: history")
    status, _, body = server.post([1, 2])
    assert status == 422 and "body" in body["error"]
    status, _, body = server.post(raw=b"history=g001", headers={"Content-Type": "text/plain"})
    assert status == 422 and "Content-Type: application/json" in body["error"]
    status, _, body = server.call("PUT", "/recommend", body={})
    assert status == 405 and "error" in body
    status, _, body = server.get("/health")  # still serving after all that
    assert status == 200


def test_metadata(server, planted):
    model, frame, _, _, path = planted
    status, _, body = server.get("/metadata")
    assert status == 200
    assert body["model"]["embedding_dim"] == 16
    assert body["model"]["users"] == 120 and body["model"]["items"] == 60
    assert body["model"]["user_id_type"] == "integer" and body["model"]["item_id_type"] == "string"
    assert body["data"]["users"] == 120 and body["data"]["items"] == 60
    assert body["data"]["interactions"] == frame.height
    assert body["data"]["identity"]["data"]["interactions"] == frame.height
    written = datetime.fromisoformat(body["trained_at"])
    assert abs(written.timestamp() - (path / "manifest.json").stat().st_mtime) < 2
    assert "Recall@10" in body["validation"]
    assert body["training"]["epochs"] == model.bundle.metrics["epochs"]


def test_concurrent_requests_get_the_same_answers_as_sequential_ones(server):
    users = [user_id(u) for u in range(0, 120, 8)]
    expected = {u: server.get(f"/recommend/{u}?n=7")[2] for u in users}
    history = {"history": [item_id(3), item_id(7)], "n": 4}
    expected_history = server.post(history)[2]
    results: list = []

    def worker(k: int) -> None:
        for r in range(6):
            u = users[(k + r) % len(users)]
            results.append((u, server.get(f"/recommend/{u}?n=7")))
            results.append(("history", server.post(history)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads) and len(results) == 12 * 6 * 2
    for key, (status, _, body) in results:
        assert status == 200
        assert_same_answer(body, expected_history if key == "history" else expected[key])


def assert_same_answer(body: dict, expected: dict) -> None:
    """The same items in the same order, scores equal to 1e-5: a batch of several queries is one
    matrix product, whose float32 sums may differ from a single query's in the last digit."""
    assert [entry["item"] for entry in body["items"]] == [entry["item"] for entry in expected["items"]]
    np.testing.assert_allclose(
        [entry["score"] for entry in body["items"]],
        [entry["score"] for entry in expected["items"]],
        atol=1e-5,
    )
    assert {k: v for k, v in body.items() if k != "items"} == {
        k: v for k, v in expected.items() if k != "items"
    }


# --- bounded answers to oversized or odd requests ----------------------------------------------------
def test_a_body_over_the_limit_is_a_413_with_a_short_error(server):
    big = json.dumps({"x" * (8 << 20): 1}).encode()  # an 8 MB unknown key
    status, _, body = server.post(raw=big, headers={"Content-Type": "application/json"})
    assert status == 413 and "1,048,576 bytes" in body["error"] and len(json.dumps(body)) < 200


def test_errors_quote_only_a_short_prefix_of_what_was_sent(server):
    status, _, body = server.post({"y" * 500_000: 1})  # under the body limit, an unknown key
    assert status == 422 and len(body["error"]) <= MAX_ERROR_CHARS and "yyy" in body["error"]
    deep: dict = {"group": "c1"}
    for _ in range(100):
        deep = {"a": deep}
    status, _, body = server.post({"features": deep, "n": 3})
    assert 400 <= status < 500 and len(body["error"]) <= MAX_ERROR_CHARS
    for path in ("/similar/" + "7" * 10_000, "/recommend/" + "u" * 10_000):
        status, _, body = server.get(path)
        assert (
            status == 422
            and len(body["error"]) <= MAX_ERROR_CHARS
            and "at most 1,000 characters" in body["error"]
        )


@pytest.mark.parametrize("n", [True, False, 2.0, "3"])
def test_n_in_a_body_must_be_a_plain_integer(server, n):
    status, _, body = server.post({"n": n})
    assert status == 422 and body["error"].startswith("invalid request: n:")


# --- the command ----------------------------------------------------------------------------------
def test_missing_bundle_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["serve", "--bundle", str(tmp_path / "nothing-here"), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no model bundle at") and err.count("\n") == 1


def test_a_bundle_that_does_not_load_is_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "broken").mkdir()
    assert main(["serve", "--bundle", str(tmp_path / "broken"), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no trained model at") and err.count("\n") == 1


def test_a_port_in_use_is_one_line_and_exit_1(planted, capsys, monkeypatch):
    import recsys.serve.server

    def never(path):  # the port is checked first: a taken port costs no bundle load
        raise AssertionError(f"the bundle {path} was loaded before the port was checked")

    monkeypatch.setattr(recsys.serve.server.Recommender, "load", staticmethod(never))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--bundle", str(planted[4]), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1


def test_missing_web_packages_are_one_line_with_the_install_command(planted, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes `import uvicorn` fail
    assert main(["serve", "--bundle", str(planted[4])]) == 1
    err = capsys.readouterr().err
    assert "serving needs uvicorn, which is not installed" in err and "pip install" in err
    assert err.count("\n") == 1


def test_serve_shows_in_help():
    completed = subprocess.run(
        [sys.executable, "-m", "recsys", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert completed.returncode == 0 and "--bundle" in completed.stdout and "--port" in completed.stdout


# --- in process -----------------------------------------------------------------------------------
def test_serving_ranker_gives_the_recommenders_answers_alone_and_batched(planted):
    model = planted[0]
    serving = RequestRanker(model)
    users = [user_id(u) for u in (0, 5, 77)]
    batch = serving.users_batch(
        [(serving.users.index_of(u), n, frozenset()) for u, n in zip(users, (3, 10, 5))]
    )
    for u, n, answer in zip(users, (3, 10, 5), batch):
        expected = model.recommend([u], n=n)
        assert [i for i, _, _ in answer] == expected.items[0]
        assert np.allclose([s for _, s, _ in answer], expected.scores[0], atol=1e-5)
        assert [name for _, _, name in answer] == [None] * n  # a model without item names
    history = [item_id(2), item_id(9), item_id(44)]
    indices = serving.items.indices(history)
    (answer,) = serving.histories_batch([(indices, 6, frozenset(), -1)])
    assert [i for i, _, _ in answer] == model.recommend_from_history(history, n=6).items[0]
    (answer,) = serving.similar_batch([(serving.items.index_of(item_id(4)), 5)])
    assert [i for i, _, _ in answer] == model.similar_items([item_id(4)], n=5).items[0]
    popular = model.recommend([-1], n=4)
    assert [i for i, _, _ in serving.popular(4)] == popular.items[0]


def test_vocabulary_maps_request_ids_to_its_id_type():
    integers = Vocabulary(pl.Series("id", [-5, 7, 42, 1000]), "user")
    assert [integers.coerce(v) for v in ("42", "-5", "007", "4x", " 42", "1_000", "", 2**70)] == [
        42,
        -5,
        7,
        None,
        None,
        None,
        None,
        None,
    ]
    assert integers.indices(["42", 7, "abc", 3, 1000, "-5"]) == [2, 1, -1, -1, 3, 0]
    assert integers.index_of(43) == -1 and integers.index_of(2000) == -1 and integers.index_of(None) == -1
    strings = Vocabulary(pl.Series("id", ["007", "7", "a/b"]), "item")
    assert strings.indices(["7", 7, "007", "a/b", "x"]) == [1, 1, 0, 2, -1]
    assert (Vocabulary(pl.Series("id", [], dtype=pl.Int64))).indices(["1"]) == [-1]


def test_batcher_answers_in_batches_and_isolates_a_failing_query():
    seen_batches: list[list] = []

    def double(queries: list) -> list:
        seen_batches.append(list(queries))
        if "bad" in queries:
            raise ValueError("bad query")
        return [q * 2 for q in queries]

    batcher = Batcher({"double": double}, max_batch=8)
    try:
        futures = [batcher.submit("double", q) for q in ("a", "b", "bad", "c")]
        results = []
        for future in futures:
            try:
                results.append(future.result(timeout=10))
            except ValueError as exc:
                results.append(str(exc))
        assert results == ["aa", "bb", "bad query", "cc"]
        assert max(len(b) for b in seen_batches) <= 8
    finally:
        batcher.close()


def asgi_request(app, method: str, path: str, query: bytes = b"", body: bytes = b"") -> tuple[int, dict]:
    """One request straight through the ASGI app (no server, no HTTP client library)."""
    sent: list = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with contextlib.suppress(RuntimeError):  # after a 500, Starlette re-raises for the server's log
        asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


def test_an_unexpected_error_is_a_500_without_a_traceback(planted, monkeypatch):
    serving = RequestRanker(planted[0])

    def broken(queries):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(serving, "users_batch", broken)
    app = create_app(serving)
    status, body = asgi_request(app, "GET", "/recommend/100")  # the server re-raises it to its log
    assert status == 500 and body == {"error": "internal server error"}
    status, body = asgi_request(app, "GET", "/health")
    assert status == 200 and body == {"status": "ok"}


@pytest.fixture(scope="module")
def integer_items():
    """A small model over integer item ids (100..159), with user features, answered in process."""
    data, user_group, _ = community_interactions(n_users=120, n_items=60, per_user=8, seed=2)
    frame = pl.DataFrame({"user": data.users.astype(np.int64), "item": data.items.astype(np.int64) + 100})
    groups = {int(u): {"group": f"c{user_group[u]}"} for u in range(len(user_group))}
    return Recommender.fit(frame, user_features=groups, config=Config(**{**SETTINGS, "max_epochs": 2}))


@pytest.mark.parametrize(
    "request_body",
    [
        {"features": {"group": "c1"}},
        {"features": {"group": "c1"}, "history": [101]},
        {"history": [101, "102"]},
        {},
    ],
    ids=["features", "features and history", "history", "most popular"],
)
def test_exclude_maps_text_ids_of_an_integer_catalogue_on_every_path(integer_items, request_body):
    """`"exclude": ["123"]` leaves item 123 out whichever path answers (ids arrive as text from many
    clients): never a blocked item in an answer."""
    app = create_app(integer_items)
    post = lambda body: asgi_request(app, "POST", "/recommend", body=json.dumps(body).encode())  # noqa: E731
    status, plain = post({**request_body, "n": 5})
    assert status == 200 and len(plain["items"]) == 5
    first, second = (entry["item"] for entry in plain["items"][:2])
    status, answer = post({**request_body, "n": 5, "exclude": [str(first), second]})
    answered = [entry["item"] for entry in answer["items"]]
    assert status == 200 and len(answered) == 5 and first not in answered and second not in answered
    assert answered[:3] == [entry["item"] for entry in plain["items"][2:]]


def test_every_kind_of_answer_puts_its_scores_on_one_scale_and_one_rounding(server):
    """Known user, history, features and similar items: the model's scores, rounded to the files'
    decimals; the popular fallback has no affinity to show: null scores, not interaction counts."""
    from recsys.serve.outputs import DECIMALS

    answers = [
        server.get(f"/recommend/{user_id(3)}?n=5")[2],
        server.post({"history": [item_id(1), item_id(4)], "n": 5})[2],
        server.post({"features": {"group": "c1"}, "n": 5})[2],
        server.get(f"/similar/{item_id(10)}?n=5")[2],
    ]
    scores = [entry["score"] for answer in answers for entry in answer["items"]]
    assert len(scores) == 20 and all(isinstance(score, float) for score in scores)
    assert all(score == round(score, DECIMALS) for score in scores), scores
    fallback = server.get("/recommend/nobody?n=5")[2]
    assert fallback["fallback"] is True and [entry["score"] for entry in fallback["items"]] == [None] * 5
