"""Ranking metrics against small cases computed by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.eval.evaluation import evaluate
from recsys.eval.metrics import metrics_from_topk
from recsys.metric_names import parse_metric_name


def heldout(rows, n_items):
    r, c = zip(*[(u, i) for u, items in enumerate(rows) for i in items])
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_items))


def test_hand_computed_case():
    # user 0 holds out {1, 3}; ranked [1, 2, 3]: hits at ranks 0 and 2.
    # user 1 holds out {4};    ranked [0, 2, 5]: no hit.
    top = np.array([[1, 2, 3], [0, 2, 5]])
    m = metrics_from_topk(top, heldout([[1, 3], [4]], 6), [2, 3], n_items=6)
    assert m["users"] == 2
    assert m["Recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["Recall@3"] == pytest.approx((2 / 2 + 0) / 2)
    assert m["Precision@3"] == pytest.approx((2 / 3) / 2)
    assert m["HitRate@2"] == pytest.approx(0.5)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert m["NDCG@3"] == pytest.approx((dcg / idcg) / 2)
    assert m["MAP@3"] == pytest.approx(((1 / 1 + 2 / 3) / 2) / 2)
    assert m["MRR"] == pytest.approx((1.0 + 0) / 2)
    assert m["Coverage@3"] == pytest.approx(5 / 6)


def test_recall_denominator_is_min_k_heldout():
    top = np.array([[0, 1]])
    m = metrics_from_topk(top, heldout([[0, 1, 2, 3]], 5), [2], n_items=5)
    assert m["Recall@2"] == pytest.approx(1.0)
    assert m["NDCG@2"] == pytest.approx(1.0)


def test_users_without_heldout_are_skipped_and_padding_ignored():
    top = np.array([[2, -1], [0, 1]])
    rel = sp.csr_matrix(np.array([[0, 0, 1], [0, 0, 0]]))
    m = metrics_from_topk(top, rel, [2], n_items=3)
    assert m["users"] == 1 and m["Recall@2"] == 1.0


def test_evaluate_excludes_training_items():
    # Scores prefer item 0, which user 0 already saw in training: it must not count or block.
    train = sp.csr_matrix(np.array([[1, 0, 0, 0]]))
    held = sp.csr_matrix(np.array([[0, 0, 1, 0]]))
    scorer = lambda users: np.tile(np.array([9.0, 1.0, 5.0, 0.0], np.float32), (len(users), 1))  # noqa: E731
    m = evaluate(scorer, train, held, [1])
    assert m["Recall@1"] == 1.0


def test_parse_metric_name():
    assert parse_metric_name("NDCG@20") == ("NDCG", 20)
    assert parse_metric_name("MRR") == ("MRR", None)
    with pytest.raises(ConfigError, match="unknown metric"):
        parse_metric_name("AUC")


def test_mismatched_matrices_and_too_large_k_are_the_projects_errors():
    from recsys.errors import DataError

    train = sp.csr_matrix(np.eye(3, 4, dtype=np.float32))
    with pytest.raises(DataError, match="must both be users x items"):
        evaluate(lambda users: np.zeros((len(users), 4)), train, sp.csr_matrix((3, 5)), [2])
    with pytest.raises(ConfigError, match="K=5 exceeds the 2 ranked items"):
        metrics_from_topk(np.zeros((1, 2), dtype=np.int32), sp.csr_matrix(np.ones((1, 4))), [5], 4)
