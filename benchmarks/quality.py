"""Quality of the default two-tower model beside most popular, EASE and iALS, under one protocol.

For each split (random 20 % per user, last 20 % per user by time): every model chooses its
hyper-parameters on a validation holdout carved from the training part (the two-tower model: its
number of epochs, by early stopping on the config's monitored metric; EASE and iALS: grid search),
is retrained on the whole training part, and is evaluated once on test. The two-tower model runs
with the library defaults (`Config()`), the split strategy set to match the protocol.

    python benchmarks/quality.py [--data .../ml-latest-small/ratings.csv] [--seed 0] [--no-ials]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.protocol import DEFAULT_MOVIELENS, KS, load_movielens_interactions, matrix, protocol_splits
from recsys.baselines import EASE, IALS, MostPopular, tune_ease, tune_ials
from recsys.config import Config
from recsys.errors import RecsysError
from recsys.evaluation import evaluate
from recsys.log import say

COLUMNS = ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")


def two_tower_row(splits, by_time: bool, seed: int) -> tuple[str, dict, float, str]:
    """Default two-tower: epochs chosen by early stopping on validation, then retrained on all of train."""
    from recsys.training import build_model, evaluate_model, fit

    config = Config(split_strategy="time" if by_time else "random", seed=seed, metrics_k=list(KS))
    n_users, n_items = splits.train.n_users, splits.train.n_items
    say("Two-tower: choosing the number of epochs on the validation holdout")
    model = build_model(config, n_users, n_items, None, None, splits.tuning_train)
    chosen = fit(model, splits.tuning_train, config, validation=splits.validation, log_epochs=False)
    say(f"Two-tower: retraining on the whole training part for {chosen.best_epoch} epochs")
    model = build_model(config, n_users, n_items, None, None, splits.train)
    final = fit(model, splits.train, config, epochs=chosen.best_epoch, log_epochs=False)
    metrics = evaluate_model(model, matrix(splits.train), matrix(splits.test), list(KS))
    settings = f"{chosen.best_epoch} epochs (validation run {chosen.seconds:.0f} s + final)"
    return ("two-tower", metrics, chosen.seconds + final.seconds, settings)


def run_split(
    interactions, by_time: bool, seed: int, metric: str, with_ials: bool
) -> list[tuple[str, dict, float, str]]:
    """Rows (model, test metrics, training seconds of the final fit, chosen settings) for one split."""
    splits = protocol_splits(interactions, by_time, seed)
    train, test = matrix(splits.train), matrix(splits.test)
    tuning_train, validation = matrix(splits.tuning_train), matrix(splits.validation)
    rows = []

    started = time.perf_counter()
    popular = MostPopular().fit(train)
    rows.append(
        ("most popular", evaluate(popular.scorer(), train, test, KS), time.perf_counter() - started, "")
    )

    _, l2, _ = tune_ease(tuning_train, validation, KS, metric=metric)
    started = time.perf_counter()
    ease = EASE().fit(train, l2=l2)
    rows.append(
        ("EASE", evaluate(ease.scorer(), train, test, KS), time.perf_counter() - started, f"l2={l2:g}")
    )

    if with_ials:
        _, params, _ = tune_ials(tuning_train, validation, KS, metric=metric, seed=seed)
        started = time.perf_counter()
        ials = IALS(seed=seed, **params).fit(train)
        chosen = ", ".join(f"{k}={v:g}" for k, v in params.items() if k != "iterations")
        rows.append(("iALS", evaluate(ials.scorer(), train, test, KS), time.perf_counter() - started, chosen))
    rows.append(two_tower_row(splits, by_time, seed))
    return rows


def format_table(title: str, rows) -> str:
    header = f"{'model':<13}" + "".join(f"{c:>12}" for c in COLUMNS) + f"{'train s':>9}  settings"
    lines = [title, header, "-" * len(header)]
    for name, metrics, seconds, chosen in rows:
        lines.append(
            f"{name:<13}" + "".join(f"{metrics[c]:>12.4f}" for c in COLUMNS) + f"{seconds:>9.1f}  {chosen}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=str(DEFAULT_MOVIELENS),
        help="MovieLens ratings.csv (userId,movieId,rating,timestamp)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metric", default="NDCG@20", help="validation metric that chooses hyper-parameters")
    parser.add_argument("--splits", nargs="+", default=["random", "time"], choices=["random", "time"])
    parser.add_argument(
        "--no-ials", action="store_true", help="skip iALS (e.g. when `implicit` is not installed)"
    )
    args = parser.parse_args(argv)
    try:
        interactions = load_movielens_interactions(args.data)
        tables = []
        for split in args.splits:
            say(f"\n== {split} split ==")
            rows = run_split(interactions, split == "time", args.seed, args.metric, not args.no_ials)
            tables.append(
                format_table(
                    f"split: {split} (test = 20 % per user, floor, at least 1; seed {args.seed})", rows
                )
            )
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n" + "\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
