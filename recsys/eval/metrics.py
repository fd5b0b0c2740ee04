"""Ranking metrics over the full catalogue (never sampled), with each user's training items excluded.

Definitions (binary relevance; R = a user's held-out items, top = the K best-scored unseen items):
  Recall@K    = |top ∩ R| / min(K, |R|)
  Precision@K = |top ∩ R| / K
  HitRate@K   = 1 if |top ∩ R| > 0 else 0
  NDCG@K      = sum_{r: top[r] in R} 1/log2(r+2)  /  sum_{r < min(K,|R|)} 1/log2(r+2)
  MAP@K       = sum_{r: top[r] in R} precision@(r+1) / min(K, |R|)
  MRR         = 1 / (rank of the first held-out item in the full ranking), computed within the
                largest K (0 when none is there), i.e. MRR@Kmax
  Coverage@K  = distinct items recommended in anyone's top K / catalogue size
Averaged over users with at least one held-out item (their number is reported). The names, their
order and their pattern are `recsys.metric_names`'.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError

__all__ = ["metrics_from_topk", "user_metrics_from_topk"]


def user_metrics_from_topk(
    top_items: np.ndarray, relevant: sp.csr_matrix, ks: list[int]
) -> dict[str, np.ndarray]:
    """Each user's metrics from ranked lists: the per-user values that `metrics_from_topk` averages
    (what a paired bootstrap over users resamples, `recsys.eval.intervals`).

    Args:
        top_items: n_users x Kmax ranked item indices, -1 padding.
        relevant: n_users x n_items held-out matrix, rows for the same users.
        ks: The cut-offs K (each at most Kmax).

    Returns:
        Metric name -> float64 array with one value per user that has held-out items, in row
        order (every metric of the module doc but Coverage, which is not a per-user figure).

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> relevant = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0]], dtype=np.float32))
        >>> user_metrics_from_topk(np.array([[1, 2], [2, 1]]), relevant, [1])["HitRate@1"]
        array([1., 0.])
    """
    ks = sorted(set(int(k) for k in ks))
    kmax = top_items.shape[1]
    n_relevant = np.diff(relevant.indptr)
    rows = n_relevant > 0
    top = top_items[rows]
    rel = relevant[rows]
    n_rel = n_relevant[rows]
    # hits[u, r] = 1 if the item at rank r is held out for u (vectorised sparse lookup).
    user_index = np.repeat(np.arange(top.shape[0]), kmax)
    valid = top.ravel() >= 0
    hits = np.zeros(top.size, dtype=np.float64)
    hits[valid] = np.asarray(rel[user_index[valid], top.ravel()[valid]]).ravel() > 0
    hits = hits.reshape(top.shape)
    discounts = 1.0 / np.log2(np.arange(kmax) + 2.0)
    cum_hits = np.cumsum(hits, axis=1)
    results: dict[str, np.ndarray] = {}
    for k in ks:
        if k > kmax:
            raise ConfigError(f"metric cut-off K={k} exceeds the {kmax} ranked items available")
        h = hits[:, :k]
        n_hits = cum_hits[:, k - 1]
        denom = np.minimum(k, n_rel)
        ideal = np.cumsum(discounts[:k])[denom - 1]
        results[f"Recall@{k}"] = n_hits / denom
        results[f"NDCG@{k}"] = (h * discounts[:k]).sum(axis=1) / ideal
        results[f"HitRate@{k}"] = (n_hits > 0).astype(np.float64)
        results[f"Precision@{k}"] = n_hits / k
        precision_at_rank = cum_hits[:, :k] / np.arange(1, k + 1)
        results[f"MAP@{k}"] = (precision_at_rank * h).sum(axis=1) / denom
    first_hit = np.argmax(hits > 0, axis=1)
    results["MRR"] = np.where(hits.any(axis=1), 1.0 / (first_hit + 1), 0.0)
    return results


def metrics_from_topk(
    top_items: np.ndarray, relevant: sp.csr_matrix, ks: list[int], n_items: int
) -> dict[str, float]:
    """Metrics from ranked lists, averaged over the users with held-out items.

    Args:
        top_items: n_users x Kmax ranked item indices, -1 padding.
        relevant: n_users x n_items held-out matrix, rows for the same users.
        ks: The cut-offs K.
        n_items: The catalogue size (Coverage's denominator).

    Returns:
        Metric name -> mean value (in `recsys.metric_names`' order), and `"users"`: how many users
        were averaged.
    """
    ks = sorted(set(int(k) for k in ks))
    per_user = user_metrics_from_topk(top_items, relevant, ks)
    results: dict[str, float] = {}
    for k in ks:
        for name in ("Recall", "NDCG", "HitRate", "Precision", "MAP"):
            results[f"{name}@{k}"] = float(np.mean(per_user[f"{name}@{k}"]))
        top_k = top_items[:, :k]
        results[f"Coverage@{k}"] = float(np.unique(top_k[top_k >= 0]).size / n_items)
    results["MRR"] = float(np.mean(per_user["MRR"]))
    results["users"] = int(np.count_nonzero(np.diff(relevant.indptr)))
    return results
