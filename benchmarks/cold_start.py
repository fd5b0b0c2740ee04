"""Cold items and new users, measured: `python benchmarks/cold_start.py [--dataset demo|movielens]`.

Cold items: 20 % of the items (seeded) are held out of training entirely. After training, they
are added through `Recommender.add_items` (embedded by the item tower's feature path alone). For
each training user who interacted with cold items, the cold items are ranked (Recall@20, NDCG@20
over the cold items) by:

- random order (seeded);
- "most popular among training items with the same feature values" (the categorical and
  multi-valued features; numeric ones such as year or price are left out of the key);
- the model's feature-only item embeddings.

Fold-in: 10 % of the users (seeded) are held out of training. Each is given their first 5
(`--history 5 20`: and 20) interactions by time as a history and evaluated (Recall@20, NDCG@20,
over the full catalogue, history excluded) on the rest, for most popular, fold-in by
`Recommender.recommend_from_history` (the id tower: the mean of the history's item embeddings,
plus the popularity prior; with `--towers id history`, also a history-tower model, which reads the
history through its encoder), and the ceiling: the same users trained into the (id tower) model
with the same interactions.

Prints two tables. Each model trains for `--epochs` epochs on the default settings.
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


def load(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(interactions with user, item, timestamp; item features with an id column)."""
    from recsys.data.hook import load_from_hook

    if name == "movielens":
        from recsys.data.movielens import load_movielens

        raw = load_from_hook(load_movielens(MOVIELENS))
    else:
        from recsys.data.demo import generate_demo

        raw = generate_demo(n_users=3000, seed=0)
    assert raw.item_features is not None
    return raw.interactions.select("user", "item", "timestamp"), raw.item_features


def matrix(rows: list[np.ndarray], width: int) -> sp.csr_matrix:
    """Queries x width binary matrix with the given column indices per row."""
    lengths = [len(r) for r in rows]
    data = np.ones(sum(lengths), np.float32)
    indices = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return sp.csr_matrix((data, indices, np.concatenate(([0], np.cumsum(lengths)))), shape=(len(rows), width))


def table(title: str, rows: list[tuple[str, dict, float]], reference: str) -> None:
    base = next(metrics["NDCG@20"] for name, metrics, _ in rows if name == reference)
    print(f"\n{title}")
    print(
        f"{'method':<48}{'Recall@20':>10}{'NDCG@20':>10}"
        f"  {'NDCG vs ' + reference.split(':')[0]:>32}{'seconds':>9}"
    )
    for name, metrics, seconds in rows:
        share = f"{100 * metrics['NDCG@20'] / base:.0f} %"
        print(f"{name:<48}{metrics['Recall@20']:>10.4f}{metrics['NDCG@20']:>10.4f}{share:>34}{seconds:>9.1f}")


def cold_items(frame: pl.DataFrame, item_features: pl.DataFrame, config) -> None:
    from recsys.eval.metrics import metrics_from_topk
    from recsys.serve.recommender import Recommender

    items = frame["item"].unique().sort()
    rng = np.random.default_rng(1)
    cold_ids = items.filter(pl.Series(rng.random(len(items)) < 0.2))
    is_cold = pl.col("item").is_in(cold_ids.implode())
    started = time.perf_counter()
    model = Recommender.fit(
        frame.filter(~is_cold), item_features=item_features, config=config, validate=False
    )
    seconds = time.perf_counter() - started
    model.add_items(item_features.filter(pl.col("id").is_in(cold_ids.implode())))
    cold_ids = cold_ids.filter(pl.Series(model.item_vocab.indices_of(cold_ids) >= 0))
    position = {item: i for i, item in enumerate(cold_ids.to_list())}
    held = frame.filter(is_cold & pl.col("user").is_in(model.user_vocab.ids.implode()))
    users = held["user"].unique().sort().to_list()
    relevant = matrix(
        [np.array([position[i] for i in held.filter(pl.col("user") == u)["item"].to_list()]) for u in users],
        len(cold_ids),
    )

    def evaluate(ranking_per_user: np.ndarray) -> dict:
        return metrics_from_topk(ranking_per_user, relevant, [20], len(cold_ids))

    k = min(20, len(cold_ids))
    random_top = np.stack([rng.permutation(len(cold_ids))[:k] for _ in users]).astype(np.int32)
    categorical = [c for c, t in item_features.schema.items() if c != "id" and not t.is_numeric()]
    key = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in categorical], separator="\x1f")
    train_counts = frame.filter(~is_cold).group_by("item").len()
    keyed = item_features.with_columns(key.alias("key")).select("id", "key")
    by_key = (
        keyed.join(train_counts, left_on="id", right_on="item", how="inner")
        .group_by("key")
        .agg(pl.col("len").mean())
    )
    cold_scores = (
        pl.DataFrame({"id": cold_ids})
        .join(keyed, on="id", how="left", maintain_order="left")
        .join(by_key, on="key", how="left", maintain_order="left")["len"]
        .fill_null(0.0)
        .to_numpy()
    )
    popular_top = np.tile(np.argsort(-cold_scores, kind="stable")[:k], (len(users), 1)).astype(np.int32)
    answer = model.recommend(users, n=k, items=cold_ids.to_list())
    model_top = np.array([[position[i] for i in row] for row in answer.items], dtype=np.int32)
    rows = [
        ("random order", evaluate(random_top), 0.0),
        ("most popular with the same feature values", evaluate(popular_top), 0.0),
        ("two-tower, feature-only item embeddings", evaluate(model_top), seconds),
    ]
    table(
        f"Cold items: {len(cold_ids):,} items held out of training (20 %), {len(users):,} users who "
        f"interacted with them; features keyed on {categorical}",
        rows,
        "most popular with the same feature values",
    )


def evaluate_lists(items_per_query: list[list], vocab, relevant: sp.csr_matrix) -> dict:
    """Recall@20 and NDCG@20 of ranked lists of item ids against the relevant matrix."""
    from recsys.eval.metrics import metrics_from_topk

    top = np.full((len(items_per_query), 20), -1, dtype=np.int32)
    for q, items in enumerate(items_per_query):
        index = vocab.indices_of(pl.Series(items, dtype=vocab.ids.dtype)) if items else np.zeros(0, int)
        top[q, : len(index)] = index
    return metrics_from_topk(top, relevant, [20], len(vocab))


def fold_in(frame: pl.DataFrame, config, lengths: list[int], towers: list[str]) -> None:
    from recsys.eval.metrics import metrics_from_topk
    from recsys.ranking.selection import top_k
    from recsys.serve.recommender import Recommender

    users = frame["user"].unique().sort()
    rng = np.random.default_rng(0)
    held_out = pl.Series("user", users.to_numpy()[rng.random(len(users)) < 0.1])
    ranked = (
        frame.filter(pl.col("user").is_in(held_out.implode()))
        .sort("user", "timestamp")
        .with_columns(pl.int_range(pl.len()).over("user").alias("position"))
    )
    warm = frame.filter(~pl.col("user").is_in(held_out.implode()))

    def train(data: pl.DataFrame, user_tower: str = "id") -> tuple[Recommender, float]:
        started = time.perf_counter()
        model = Recommender.fit(data, config=config.replace(user_tower=user_tower), validate=False)
        return model, time.perf_counter() - started

    models = {tower: train(warm, tower) for tower in towers}  # neither sees a held-out user
    for length in lengths:
        eligible = ranked.group_by("user").len().filter(pl.col("len") > length)["user"].sort()
        chosen = ranked.filter(pl.col("user").is_in(eligible.implode()))
        history = chosen.filter(pl.col("position") < length)
        future = chosen.filter(pl.col("position") >= length)
        queries = eligible.to_list()
        per_user = history.group_by("user", maintain_order=True).agg("item")["item"].to_list()  # by time
        vocab = next(iter(models.values()))[0].item_vocab
        truth = future.group_by("user", maintain_order=True).agg("item")["item"].to_list()
        truth_indices = [vocab.indices_of(pl.Series(t)) for t in truth]
        relevant = matrix([t[t >= 0] for t in truth_indices], len(vocab))  # items the models know

        seen_indices = [vocab.indices_of(pl.Series(h)) for h in per_user]
        seen = matrix([h[h >= 0] for h in seen_indices], len(vocab))
        model = next(iter(models.values()))[0]
        popular, _ = top_k(np.tile(model.popularity, (len(queries), 1)), 20, seen)
        rows = [("most popular", metrics_from_topk(popular, relevant, [20], len(vocab)), 0.0)]
        names = {
            "id": "fold-in: mean of item embeddings + popularity",
            "history": "history tower: the encoder of the history",
        }
        for tower, (model, _) in models.items():
            started = time.perf_counter()
            answer = model.recommend_from_history(per_user, n=20)
            seconds = time.perf_counter() - started
            rows.append((names[tower], evaluate_lists(answer.items, vocab, relevant), seconds))
        reference = f"ceiling: trained with the same {length}"
        ceiling_model, seconds = train(pl.concat([warm, history.select("user", "item", "timestamp")]))
        ceiling = ceiling_model.recommend(queries, n=20).items
        rows.append((reference, evaluate_lists(ceiling, vocab, relevant), seconds))
        table(
            f"Fold-in: {len(queries)} held-out users, first {length} interactions by time as history "
            f"(towers trained in {', '.join(f'{t} {s:.0f} s' for t, (_, s) in models.items())})",
            rows,
            reference,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["demo", "movielens"], default="demo")
    parser.add_argument("--part", choices=["cold-items", "fold-in", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--history", type=int, nargs="+", default=[5], help="history lengths to fold in")
    parser.add_argument(
        "--towers", nargs="+", choices=["id", "history"], default=["id"], help="user towers to compare"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting to change"
    )
    args = parser.parse_args()

    from recsys.config import Config
    from recsys.config_loading import apply_overrides
    from recsys.log import set_verbosity

    set_verbosity(0)
    frame, item_features = load(args.dataset)
    config = Config(
        min_interactions_per_user=1, min_interactions_per_item=1, production_epochs=args.epochs, verbosity=0
    )
    config = apply_overrides(config, args.set)
    print(f"{args.dataset}: {frame.height:,} interactions; {args.epochs} epochs per model")
    if args.part in ("cold-items", "both"):
        cold_items(frame, item_features, config)
    if args.part in ("fold-in", "both"):
        fold_in(frame, config, args.history, args.towers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
