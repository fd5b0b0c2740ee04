"""Fold-in of new users, measured: `python benchmarks/cold_start.py [--dataset demo|movielens]`.

10 % of the users (seeded) are held out of training. Each is given their first 5 interactions by
time as a history and evaluated (Recall@20, NDCG@20, over the full catalogue, history excluded)
on the rest, for:

- most popular (history excluded);
- fold-in by `Recommender.recommend_from_history` (the mean of the history's item embeddings);
- the ceiling: the same users trained into the model with the same 5 interactions.

Prints a table. The cold-item half of the cold-start evaluation is still to come.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MOVIELENS = ROOT.parent / "shared" / "datasets" / "ml-latest-small"
HISTORY = 5


def load(name: str) -> pl.DataFrame:
    from recsys.loading import load_from_hook

    if name == "movielens":
        from recsys.movielens import load_movielens

        return load_from_hook(load_movielens(MOVIELENS, with_features=False)).interactions
    from recsys.demo_data import generate_demo

    return generate_demo(num_users=3000, seed=0).interactions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["demo", "movielens"], default="movielens")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    from recsys.config import Config
    from recsys.log import set_verbosity
    from recsys.metrics import metrics_from_topk
    from recsys.recommender import Recommender
    from recsys.topn import top_k_from_scores

    set_verbosity(0)
    frame = load(args.dataset).select("user", "item", "timestamp")
    users = frame["user"].unique().sort()
    rng = np.random.default_rng(0)
    cold = pl.Series("user", users.to_numpy()[rng.random(len(users)) < 0.1])
    ranked = (
        frame.filter(pl.col("user").is_in(cold.implode()))
        .sort("user", "timestamp")
        .with_columns(pl.int_range(pl.len()).over("user").alias("position"))
    )
    eligible = ranked.group_by("user").len().filter(pl.col("len") > HISTORY)["user"]
    ranked = ranked.filter(pl.col("user").is_in(eligible.implode()))
    history, future = (
        ranked.filter(pl.col("position") < HISTORY),
        ranked.filter(pl.col("position") >= HISTORY),
    )
    warm = frame.filter(~pl.col("user").is_in(cold.implode()))
    config = Config(
        min_interactions_per_user=1, min_interactions_per_item=1, production_epochs=args.epochs, verbosity=0
    )

    def train(data: pl.DataFrame) -> tuple[Recommender, float]:
        started = time.perf_counter()
        model = Recommender.fit(data, config=config, validate=False)
        return model, time.perf_counter() - started

    model, seconds = train(warm)
    vocab = model.item_vocab
    queries = eligible.sort().to_list()
    per_user = [history.filter(pl.col("user") == u)["item"].to_list() for u in queries]
    truth_rows = [vocab.indices_of(future.filter(pl.col("user") == u)["item"]) for u in queries]
    relevant = sp.csr_matrix(
        (
            np.ones(sum(len(r[r >= 0]) for r in truth_rows)),
            np.concatenate([r[r >= 0] for r in truth_rows]),
            np.concatenate(([0], np.cumsum([len(r[r >= 0]) for r in truth_rows]))),
        ),
        shape=(len(queries), len(vocab)),
    )

    def score(items_per_query: list[list]) -> dict:
        top = np.full((len(queries), 20), -1, dtype=np.int32)
        for q, items in enumerate(items_per_query):
            index = vocab.indices_of(pl.Series(items, dtype=vocab.ids.dtype)) if items else np.zeros(0, int)
            top[q, : len(index)] = index
        return metrics_from_topk(top, relevant, [20], len(vocab))

    rows = []
    seen = sp.csr_matrix(
        (
            np.ones(sum(map(len, per_user))),
            np.concatenate([vocab.indices_of(pl.Series(h)) for h in per_user]),
            np.concatenate(([0], np.cumsum(list(map(len, per_user))))),
        ),
        shape=(len(queries), len(vocab)),
    )
    popular, _ = top_k_from_scores(np.tile(model.popularity, (len(queries), 1)), 20, seen)
    rows.append(("most popular", metrics_from_topk(popular, relevant, [20], len(vocab)), 0.0))
    started = time.perf_counter()
    answer = model.recommend_from_history(per_user, n=20)
    rows.append(("fold-in: mean of item embeddings", score(answer.items), time.perf_counter() - started))
    ceiling_model, _ = train(pl.concat([warm, history.select("user", "item", "timestamp")]))
    answer = ceiling_model.recommend(queries, n=20)
    rows.append(("ceiling: trained with the 5", score(answer.items), seconds))

    print(
        f"\nFold-in on {args.dataset}: {len(queries)} held-out users, first {HISTORY} interactions "
        f"as history, {args.epochs} epochs"
    )
    print(f"{'method':<36}{'Recall@20':>10}{'NDCG@20':>10}{'% of ceiling NDCG':>19}{'seconds':>9}")
    ceiling = rows[-1][1]["NDCG@20"]
    for name, metrics, secs in rows:
        share = 100 * metrics["NDCG@20"] / ceiling
        print(
            f"{name:<36}{metrics['Recall@20']:>10.4f}{metrics['NDCG@20']:>10.4f}{share:>18.0f}%{secs:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
