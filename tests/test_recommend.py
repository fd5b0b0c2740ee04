"""Recommendation and similar-item files: valid JSON in the seed's shape, ids keep their types,
rows for jsonl/parquet, empty lists counted, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys.data.vocabulary import Vocabulary
from recsys.errors import ConfigError, DataError
from recsys.ranking.exact import ExactIndex
from recsys.ranking.similarity import similar_items, unit_rows
from recsys.serve.outputs import write_recommendations, write_similar_items

AWKWARD = [
    "plain",
    'quo"te',
    "back\\slash",
    "new\nline",
    "tab\t",
    "ctrl\x01",
    "é😀",
    "</script>",
    "[1, 2]",
    "",
]


def setup(item_ids: list, user_ids: list, n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_users, n_items = len(user_ids), len(item_ids)
    seen = sp.random(n_users, n_items, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    seen.data[:] = 1
    seen = seen.tolil()
    seen[0, :] = 1  # the first user has nothing left
    seen = seen.tocsr()
    users = rng.standard_normal((n_users, 3)).astype(np.float32)
    items = rng.standard_normal((n_items, 3)).astype(np.float32)
    top_items, top_scores = ExactIndex(items).search(users, n, seen)
    return pl.Series(user_ids), Vocabulary(pl.Series(sorted(item_ids))), top_items, top_scores, seen


@pytest.mark.parametrize(
    "item_ids, user_ids",
    [
        (list(range(100, 130)), [7, 3, 11, 50, 2]),
        (AWKWARD * 1 + [f"i{j}" for j in range(20)], ["u0", "ü 1", 'u"2', "u\\3"]),
    ],
)
def test_json_round_trip(tmp_path, item_ids, user_ids):
    users, vocab, top_items, top_scores, seen = setup(item_ids, user_ids)
    path = tmp_path / "recs.json"
    summary = write_recommendations(path, users, top_items, top_scores, vocab)
    assert summary == {
        "users": len(user_ids),
        "users_with_empty_lists": 1,
        "path": str(path),
        "format": "json",
    }
    with open(path, encoding="utf-8") as handle:
        recs = json.load(handle)
    assert list(recs) == [str(u) for u in user_ids]  # every user, in order, keys as strings
    position = {item: i for i, item in enumerate(vocab.ids.to_list())}
    for row, user in enumerate(user_ids):
        pairs = recs[str(user)]
        if row == 0:
            assert pairs == []
            continue
        assert len(pairs) == 4
        ids = [item for item, _ in pairs]
        scores = [score for _, score in pairs]
        assert all(type(item) is type(item_ids[0]) for item in ids)
        assert scores == sorted(scores, reverse=True)
        assert not any(seen[row, position[item]] for item in ids)
        assert ids == vocab.ids_at(top_items[row]).to_list()
        np.testing.assert_allclose(scores, top_scores[row], atol=6e-6)


def test_rows_formats(tmp_path):
    users, vocab, top_items, top_scores, seen = setup(AWKWARD + ["x", "y"], [10, 20, 30, 40])
    jsonl = tmp_path / "recs.jsonl"
    parquet = tmp_path / "recs.parquet"
    assert (
        write_recommendations(jsonl, users, top_items, top_scores, vocab, fmt="jsonl")[
            "users_with_empty_lists"
        ]
        == 1
    )
    write_recommendations(parquet, users, top_items, top_scores, vocab, fmt="parquet")
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    table = pl.read_parquet(parquet)
    assert len(lines) == table.height == 3 * 4  # the user with nothing left has no rows
    assert [line["user"] for line in lines] == table["user"].to_list() == [20] * 4 + [30] * 4 + [40] * 4
    assert [line["rank"] for line in lines] == [1, 2, 3, 4] * 3
    assert (
        [line["item"] for line in lines]
        == table["item"].to_list()
        == vocab.ids_at(top_items[1:].ravel()).to_list()
    )
    np.testing.assert_array_equal(table["score"].to_numpy(), top_scores[1:].ravel())


def test_bad_input_is_refused(tmp_path):
    users, vocab, top_items, top_scores, _ = setup(list(range(10)), [1, 2, 3])
    with pytest.raises(ConfigError, match="format"):
        write_recommendations(tmp_path / "r.csv", users, top_items, top_scores, vocab, fmt="csv")
    with pytest.raises(DataError, match="ranked lists"):
        write_recommendations(tmp_path / "r.json", users[:2], top_items, top_scores, vocab)
    with pytest.raises(DataError, match="item indices"):
        write_recommendations(tmp_path / "r.json", users, top_items + 10, top_scores, vocab)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_only_the_file(tmp_path, monkeypatch):
    users, vocab, top_items, top_scores, _ = setup(list(range(10)), [1, 2, 3])
    path = tmp_path / "recs.json"
    path.write_text("old")
    monkeypatch.setattr("recsys.serve.outputs._write_json", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_recommendations(path, users, top_items, top_scores, vocab)
    assert [p.name for p in tmp_path.iterdir()] == ["recs.json"] and path.read_text() == "old"
    monkeypatch.undo()
    write_recommendations(path, users, top_items, top_scores, vocab)
    assert [p.name for p in tmp_path.iterdir()] == ["recs.json"] and path.read_text().startswith("{")


@pytest.mark.parametrize("normalize", [True, False])
def test_similar_items_match_brute_force(normalize):
    rng = np.random.default_rng(1)
    emb = rng.standard_normal((40, 5)).astype(np.float32)
    emb[3] = 0  # a zero vector must not break cosine
    index = ExactIndex(unit_rows(emb) if normalize else emb)
    items, scores = similar_items(index, np.arange(40), 6)
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-30) if normalize else emb
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    assert not (items == np.arange(40)[:, None]).any()
    np.testing.assert_allclose(scores, -np.sort(-sims, axis=1)[:, :6], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(sims, items, axis=1), scores, rtol=1e-5, atol=1e-6)
    subset_items, _ = similar_items(index, np.array([5, 0]), 6)
    np.testing.assert_array_equal(subset_items, items[[5, 0]])


def test_similar_items_file(tmp_path):
    emb = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    items, scores = similar_items(ExactIndex(unit_rows(emb)), np.arange(3), 5)  # 2 others: -1 padded
    vocab = Vocabulary(pl.Series(["a", "b", "c"]))
    summary = write_similar_items(tmp_path / "sim.json", vocab, items, scores)
    assert summary["items"] == 3 and summary["items_with_empty_lists"] == 0
    sims = json.loads((tmp_path / "sim.json").read_text(encoding="utf-8"))
    assert set(sims) == {"a", "b", "c"}
    for item, pairs in sims.items():
        assert len(pairs) == 2 and item not in [other for other, _ in pairs]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_served_by_flags_each_row_in_row_formats(tmp_path, fmt):
    vocab = Vocabulary(pl.Series([10, 20, 30]), "item")
    items = np.array([[0, 1], [2, -1], [1, 0]], dtype=np.int32)
    scores = np.array([[2.0, 1.0], [3.0, -np.inf], [5.0, 4.0]], dtype=np.float32)
    served = np.array(["model", "fold_in", "popular"], dtype=object)
    path = tmp_path / f"recs.{fmt}"
    write_recommendations(path, pl.Series(["a", "b", "c"]), items, scores, vocab, fmt=fmt, served_by=served)
    frame = pl.read_ndjson(path) if fmt == "jsonl" else pl.read_parquet(path)
    assert frame["served_by"].to_list() == ["model", "model", "fold_in", "popular", "popular"]
    assert frame["user"].to_list() == ["a", "a", "b", "c", "c"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "parquet"])
def test_a_fallback_list_without_affinities_is_written_with_null_scores(tmp_path, fmt):
    vocab = Vocabulary(pl.Series([10, 20, 30]))
    top = np.array([[2, 0], [1, 2]], dtype=np.int32)
    scores = np.array([[1.234567, 0.5], [np.nan, np.nan]], dtype=np.float32)
    path = tmp_path / f"recommendations.{fmt}"
    write_recommendations(path, pl.Series(["a", "b"]), top, scores, vocab, fmt=fmt)
    if fmt == "json":
        expected = {"a": [[30, 1.23457], [10, 0.5]], "b": [[20, None], [30, None]]}
        assert json.loads(path.read_text()) == expected
    else:
        rows = pl.read_ndjson(path) if fmt == "jsonl" else pl.read_parquet(path)
        assert rows["score"].null_count() == 2 and rows["score"][0] == pytest.approx(1.23457, abs=1e-5)
    with pytest.raises(DataError, match="finite numbers, or NaN"):
        write_recommendations(path, pl.Series(["a", "b"]), top, np.full((2, 2), np.inf), vocab, fmt=fmt)
