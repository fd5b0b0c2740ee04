"""Preparation: duplicate policies, filtering until stable, contiguous indices, feature alignment."""

import numpy as np
import polars as pl
import pytest

from recsys.config import Config
from recsys.data import arrays
from recsys.data.arrays import count_codes, keep_in_place, kept_rows
from recsys.data.preparation import factorize, filter_min_counts, prepare
from recsys.data.raw import RawData
from recsys.errors import DataError


def raw(users, items, scores=None, timestamps=None, user_features=None, item_features=None):
    columns = {"user": users, "item": items}
    if scores is not None:
        columns["score"] = [float(s) for s in scores]
    if timestamps is not None:
        columns["timestamp"] = [float(t) for t in timestamps]
    return RawData(pl.DataFrame(columns), user_features, item_features, source="test data")


def cfg(**changes):
    return Config().replace(**{"min_interactions_per_user": 1, "min_interactions_per_item": 1, **changes})


@pytest.mark.parametrize("policy,expected", [("last", 1.0), ("max", 5.0), ("sum", 9.0)])
def test_duplicate_policies(policy, expected, capsys):
    data = raw(["a", "a", "a", "b"], [1, 1, 1, 1], scores=[5, 3, 1, 2], timestamps=[1, 2, 3, 1])
    prepared = prepare(data, cfg(duplicate_policy=policy))
    assert len(prepared.interactions) == 2
    user_a = prepared.user_vocab.indices_of(["a"])[0]
    row = np.flatnonzero(prepared.interactions.users == user_a)[0]
    assert prepared.interactions.scores[row] == expected
    assert prepared.report["duplicates_merged"] == 2
    assert "merged 2 duplicate rows" in capsys.readouterr().out


def test_last_duplicate_by_time_not_file_order():
    data = raw(["a", "a"], [1, 1], scores=[4, 2], timestamps=[20, 10])
    prepared = prepare(data, cfg(duplicate_policy="last"))
    assert prepared.interactions.scores.tolist() == [4.0]


def test_duplicate_error_policy_names_rows():
    with pytest.raises(DataError, match="rows 1, 2"):
        prepare(raw(["a", "a", "b"], [1, 1, 2]), cfg(duplicate_policy="error"))


def test_filter_is_applied_until_stable():
    # user c has 2 interactions, but one is with item 3 which only c touched: removing item 3
    # (min 2 per item) pushes c below 2, which then pushes item 2 below 2, and so on.
    users = np.array([0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 0, 1, 1, 2])
    keep, rounds = filter_min_counts(users, items, 3, 3, 2, 2)
    assert keep.tolist() == [True, True, True, True, False, False]
    assert rounds >= 2
    kept_users, kept_items = users[keep], items[keep]
    assert np.bincount(kept_users).min() >= 2 and np.bincount(kept_items).min() >= 2


def test_indices_are_contiguous_and_vocabularies_round_trip(capsys):
    data = raw(["z", "x", "y", "x", "q"], [30, 10, 10, 20, 99])
    prepared = prepare(data, cfg(min_interactions_per_item=2))
    assert prepared.n_items == 1 and prepared.item_vocab.to_python() == [10]
    assert sorted(prepared.user_vocab.to_python()) == ["x", "y"]
    assert set(prepared.interactions.users.tolist()) == {0, 1}
    back = prepared.user_vocab.ids_at(prepared.interactions.users).to_list()
    assert sorted(back) == ["x", "y"]
    assert "removed 3 interactions" in capsys.readouterr().out


def test_nothing_survives_is_a_clear_error():
    with pytest.raises(DataError, match="no interactions survive"):
        prepare(raw(["a", "b"], [1, 2]), cfg(min_interactions_per_user=3))


def test_user_item_matrix_marks_seen():
    prepared = prepare(raw(["a", "a", "b"], [1, 2, 2]), cfg())
    matrix = prepared.interactions.user_item_matrix()
    assert matrix.shape == (2, 2) and matrix.nnz == 3
    assert matrix.toarray().tolist() == [[1, 1], [0, 1]]


def test_features_aligned_with_indices_and_reported(capsys):
    features = pl.DataFrame({"id": ["b", "a", "ghost"], "age": [20, 10, 99]})
    prepared = prepare(raw(["a", "b", "c"], [1, 1, 1], user_features=features), cfg())
    assert prepared.user_features["age"].to_list() == [10, 20, None]
    assert prepared.report["user_feature_rows_unknown_id"] == 1
    assert prepared.report["users_without_features"] == 1
    out = capsys.readouterr().out
    assert "never occurs" in out and "have no feature row" in out


def test_features_with_no_matching_ids_is_an_error():
    features = pl.DataFrame({"id": ["x1", "x2"], "age": [1, 2]})
    with pytest.raises(DataError, match="none of the 2 ids match"):
        prepare(raw([1, 2], [1, 1], user_features=features), cfg())


def test_chunked_columns_become_single_arrays(monkeypatch):
    keep = np.array([True, False, True, True, False])
    scores = pl.concat([pl.Series([1.5, 2.5, 3.5]), pl.Series([4.5, 5.5])], rechunk=False)
    assert kept_rows(scores, keep, np.float32).tolist() == [1.5, 3.5, 4.5]
    ids = pl.concat(
        [pl.Series(["b", "a"], dtype=pl.Categorical), pl.Series(["c", "b"], dtype=pl.Categorical)],
        rechunk=False,
    )
    codes, uniques = factorize(ids)
    assert uniques.to_list() == ["a", "b", "c"] and codes.tolist() == [1, 0, 2, 1]
    for ids in (pl.Series([7, 3, 7, 0]), pl.Series([7, -3, 7, 10**12])):  # a table, then a search
        codes, uniques = factorize(ids)
        assert uniques.to_list() == sorted(set(ids.to_list())) and uniques.gather(codes).equals(ids)
    monkeypatch.setattr(arrays, "BLOCK_ROWS", 2)
    assert keep_in_place(np.arange(5, dtype=np.int32), keep).tolist() == [0, 2, 3]
    assert count_codes(np.array([0, 2, 2, 1, 2], dtype=np.int32), 4).tolist() == [1, 1, 3, 0]


@pytest.mark.parametrize("policy", ["keep", "drop"])
def test_zero_scores_are_kept_or_dropped_by_the_policy_and_it_is_said(policy, capsys):
    data = raw(["a", "a", "b", "b", "c"], [1, 2, 1, 3, 2], scores=[0, 4, 0, -1, 2])
    prepared = prepare(data, cfg(zero_scores=policy))
    scores = sorted(prepared.interactions.scores.tolist())
    out = capsys.readouterr().out
    assert "dropped 1 interaction with a negative score" in out
    if policy == "keep":
        assert scores == [0.0, 0.0, 2.0, 4.0] and "score of 0" not in out
    else:
        assert scores == [2.0, 4.0] and "dropped 2 interactions with a score of 0 (zero_scores='drop')" in out


def test_only_zero_scores_with_zero_scores_drop_is_a_one_line_error():
    with pytest.raises(DataError, match="set zero_scores = 'keep'"):
        prepare(raw(["a", "b"], [1, 2], scores=[0, 0]), cfg(zero_scores="drop"))


def test_dropped_dislikes_are_kept_as_pairs_never_to_recommend(capsys):
    """negative_scores='drop': a dislike trains nothing, and the (user, item) pair is kept in
    `disliked` (users x items) so that nothing recommends that item back to that user."""
    data = raw(["a", "a", "a", "b", "b", "c", "c"], [1, 2, 3, 1, 2, 3, 1], scores=[4, -2, 5, 3, 1, -1, 2])
    prepared = prepare(data, cfg())
    assert len(prepared.interactions) == 5
    disliked = prepared.disliked.toarray()
    users, items = prepared.user_vocab.indices_of(["a", "c"]), prepared.item_vocab.indices_of([2, 3])
    assert disliked.sum() == 2 and disliked[users[0], items[0]] == 1 and disliked[users[1], items[1]] == 1
    assert prepared.report["negative_scores_dropped"] == 2
    assert "never recommended back" in capsys.readouterr().out


def test_dislikes_of_filtered_users_or_items_are_left_out_of_the_pairs():
    data = raw(["a", "a", "b", "b", "z"], [1, 2, 1, 2, 9], scores=[4, 5, 3, 1, -1])  # z and 9 vanish
    prepared = prepare(data, cfg())
    assert prepared.disliked.nnz == 0 and prepared.disliked.shape == (2, 2)
