"""Quality of the default two-tower model beside most popular, EASE and iALS, under one protocol.

Four tables (`--tables` runs a subset):

1. `random`: ml-latest-small, test = a random 20 % of each user's interactions.
2. `time`: ml-latest-small, test = the last 20 % of each user's interactions by time; the split
   uses the timestamps, the models do not get them (no recency weighting anywhere).
3. `time-ts`: the same split, the models get the timestamps: the two-tower model's default
   recency weighting turns on, and recency-weighted EASE (λ and s tuned together) joins the peers.
   Most popular, EASE and iALS do not use time, so their rows are those of table 2.
4. `counts`: the built-in demo data (`recsys.data.demo.generate_demo(n_users=--counts-users,
   seed=--seed, score=...)`: players x games), test = a random 20 % per user, no timestamps given.
   The same interactions and split in three variants: ids only (no score), the 1-5 rating, and
   hours played (heavy-tailed positive floats). Most popular and EASE use the binary matrix (the
   same in every variant); iALS and the two-tower model use the variant's score: iALS as a
   confidence (`recsys.eval.baselines.confidence_matrix`: binary alpha for ids only, linear
   alpha * c / mean(c) for ratings, log 1 + alpha * log(1 + c / median(c)) for hours), the
   two-tower model as positive weights (its `use_scores_as_weights` / `score_weighting` defaults).

On ml-latest-small every rating is an interaction; the two-tower model gets the rating as its
score (its default weighting), the peers the binary matrix. In every table each model chooses
its hyper-parameters on a validation holdout carved the same way from the training part (the
two-tower model: its number of epochs, by early stopping on the config's monitored metric; the
peers: grid search on --metric), is retrained on the whole training part, and is evaluated once on
test. The two-tower model runs with the library defaults (`Config()`), only the split strategy set
to match the protocol. Under each table (and each counts variant) a line gives the two-tower
model's relative difference to the best tuned peer (by --metric on test) on Recall@20 and NDCG@20.

    python benchmarks/quality.py [--tables random time time-ts counts] [--data .../ratings.csv]
                                 [--counts-users 1500] [--seed 0] [--metric NDCG@20] [--no-ials]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.protocol import (
    DEFAULT_MOVIELENS,
    KS,
    ProtocolSplits,
    load_demo_interactions,
    load_movielens_interactions,
    matrix,
    protocol_splits,
    without_timestamps,
)
from recsys.config import Config
from recsys.data.interactions import Interactions
from recsys.errors import DataError, RecsysError
from recsys.eval.ease import EASE
from recsys.eval.evaluation import evaluate
from recsys.eval.ials import IALS
from recsys.eval.popular import MostPopular
from recsys.eval.recency_ease import RecencyWeightedEASE
from recsys.eval.tuners import tune_ease, tune_ials, tune_recency_ease
from recsys.log import say

TABLES = ("random", "time", "time-ts", "counts")
COLUMNS = ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")
HEADERS = ("R@10", "R@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")
# iALS confidence per counts variant (see the module doc)
COUNTS_VARIANTS = (("ids only", None, "binary"), ("ratings", "rating", "linear"), ("hours", "hours", "log"))


class Row(NamedTuple):
    """One model's line: its name (with the chosen settings), test metrics, training seconds of
    the final fit, and whether it is a tuned peer the two-tower model is measured against."""

    name: str
    metrics: dict
    seconds: float
    peer: bool = True


def timed(fit):
    started = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - started


def most_popular_row(splits: ProtocolSplits) -> Row:
    train, test = matrix(splits.train), matrix(splits.test)
    model, seconds = timed(lambda: MostPopular().fit(train))
    return Row("most popular", evaluate(model.scorer(), train, test, KS), seconds, peer=False)


def ease_row(splits: ProtocolSplits, metric: str) -> Row:
    train, test = matrix(splits.train), matrix(splits.test)
    say("EASE: choosing l2 on the validation holdout")
    _, l2, _ = tune_ease(matrix(splits.tuning_train), matrix(splits.validation), KS, metric=metric)
    model, seconds = timed(lambda: EASE().fit(train, l2=l2))
    return Row(f"EASE (l2={l2:g})", evaluate(model.scorer(), train, test, KS), seconds)


def recency_ease_row(splits: ProtocolSplits, metric: str) -> Row:
    train, test = matrix(splits.train), matrix(splits.test)
    say("EASE, recency-weighted: choosing l2 and s on the validation holdout")
    _, best, _ = tune_recency_ease(splits.tuning_train, matrix(splits.validation), KS, metric=metric)
    model, seconds = timed(lambda: RecencyWeightedEASE().fit(splits.train, **best))
    name = f"EASE, recency-weighted (l2={best['l2']:g}, s={best['strength']:g})"
    return Row(name, evaluate(model.scorer(), train, test, KS), seconds)


def ials_row(splits: ProtocolSplits, metric: str, seed: int, confidence: str = "binary") -> Row:
    """Tuned iALS; with a 'linear' or 'log' confidence it fits the score matrix (`confidence_matrix`)."""
    values = "score" if confidence != "binary" else "binary"
    train, test = matrix(splits.train), matrix(splits.test)
    say(
        f"iALS ({confidence} confidence): choosing factors, regularization and alpha "
        "on the validation holdout"
    )
    _, params, _ = tune_ials(
        splits.tuning_train.user_item_matrix(values),
        matrix(splits.validation),
        KS,
        metric=metric,
        seed=seed,
        confidence=confidence,
    )
    model, seconds = timed(
        lambda: IALS(seed=seed, confidence=confidence, **params).fit(splits.train.user_item_matrix(values))
    )
    kind = "" if confidence == "binary" else f", {confidence} confidence"
    settings = f"{params['factors']:g} f, reg {params['regularization']:g}, a {params['alpha']:g}"
    return Row(f"iALS{kind} ({settings})", evaluate(model.scorer(), train, test, KS), seconds)


def two_tower_row(splits: ProtocolSplits, split_strategy: str, seed: int) -> Row:
    """Default two-tower: epochs chosen by early stopping on validation, then retrained on all of
    train. It gets whatever the split's interactions hold: scores, timestamps (recency weighting)."""
    from recsys.eval.validation import evaluate_model
    from recsys.model.training import build_model, fit

    config = Config(split_strategy=split_strategy, seed=seed, metrics_k=list(KS))
    n_users, n_items = splits.train.n_users, splits.train.n_items
    say("Two-tower: choosing the number of epochs on the validation holdout")
    model = build_model(config, n_users, n_items, None, None, splits.tuning_train)
    chosen = fit(model, splits.tuning_train, config, validation=splits.validation, log_epochs=False)
    say(f"Two-tower: retraining on the whole training part for {chosen.best_epoch} epochs")
    model = build_model(config, n_users, n_items, None, None, splits.train)
    final = fit(model, splits.train, config, epochs=chosen.best_epoch, log_epochs=False)
    metrics = evaluate_model(model, matrix(splits.train), matrix(splits.test), list(KS))
    name = f"two-tower (defaults, {chosen.best_epoch} epochs)"
    return Row(name, metrics, chosen.seconds + final.seconds, peer=False)


def versus_best_peer(rows: list[Row], two_tower: Row, metric: str) -> str:
    """'two-tower vs best peer (EASE): R@20 +1.2 %, N@20 +0.4 %': relative differences to the tuned
    peer with the best test `metric`."""
    peers = [row for row in rows if row.peer]
    if not peers:
        return "two-tower vs best peer: no tuned peer"
    best = max(peers, key=lambda row: row.metrics[metric])
    change = lambda column: 100.0 * (two_tower.metrics[column] / best.metrics[column] - 1.0)  # noqa: E731
    short_name = best.name.split(" (")[0]
    return (
        f"two-tower vs best peer ({short_name}): "
        f"R@20 {change('Recall@20'):+.1f} %, N@20 {change('NDCG@20'):+.1f} %"
    )


def format_table(title: str, lines: list) -> str:
    """`lines`: Rows, section headings (str) and comparison lines (tuple ('vs', text))."""
    rows = [line for line in lines if isinstance(line, Row)]
    width = max(len(row.name) for row in rows) + 2
    header = f"{'':<{width}}" + "".join(f"{h:>12}" for h in HEADERS) + f"{'train s':>9}"
    out = [title, header]
    for line in lines:
        if isinstance(line, Row):
            values = "".join(f"{line.metrics[c]:>12.4f}" for c in COLUMNS)
            out.append(f"{line.name:<{width}}{values}{line.seconds:>9.1f}")
        elif isinstance(line, tuple):
            out.append(f"  {line[1]}")
        else:
            out.append(line)
    return "\n".join(out)


def peer_rows(splits: ProtocolSplits, metric: str, seed: int, with_ials: bool) -> list[Row]:
    """Most popular, tuned EASE and (unless skipped) tuned binary iALS."""
    rows = [most_popular_row(splits), ease_row(splits, metric)]
    if with_ials:
        rows.append(ials_row(splits, metric, seed))
    return rows


def movielens_tables(
    interactions: Interactions, tables: list[str], seed: int, metric: str, with_ials: bool
) -> list[str]:
    """Tables 1-3 (those asked for) on ml-latest-small."""
    out = []
    test_note = f"test = 20 % per user, seed {seed}"
    if "random" in tables:
        say("\n== ml-latest-small, random split ==")
        splits = protocol_splits(interactions, by_time=False, seed=seed)
        rows = peer_rows(splits, metric, seed, with_ials)
        two_tower = two_tower_row(splits, "random", seed)
        lines = [*rows, two_tower, ("vs", versus_best_peer(rows, two_tower, metric))]
        out.append(format_table(f"ml-latest-small, random split ({test_note})", lines))
    if "time" in tables or "time-ts" in tables:
        timed_splits = protocol_splits(interactions, by_time=True, seed=seed)
        untimed_splits = without_timestamps(timed_splits)
        say("\n== ml-latest-small, last 20 % by time: the peers that do not use time ==")
        common = peer_rows(untimed_splits, metric, seed, with_ials)
        if "time" in tables:
            say("\n== ml-latest-small, last 20 % by time, no timestamps given to the models ==")
            two_tower = two_tower_row(untimed_splits, "time", seed)
            lines = [*common, two_tower, ("vs", versus_best_peer(common, two_tower, metric))]
            title = f"ml-latest-small, last 20 % by time, no timestamps given to the models ({test_note})"
            out.append(format_table(title, lines))
        if "time-ts" in tables:
            say("\n== ml-latest-small, last 20 % by time, timestamps given ==")
            rows = [*common, recency_ease_row(timed_splits, metric)]
            two_tower = two_tower_row(timed_splits, "time", seed)
            lines = [*rows, two_tower, ("vs", versus_best_peer(rows, two_tower, metric))]
            strength = Config(split_strategy="time").effective_recency_weighting(True)
            title = (
                f"ml-latest-small, last 20 % by time, timestamps given: two-tower recency weighting "
                f"{strength:g} ({test_note})"
            )
            out.append(format_table(title, lines))
    return out


def counts_table(n_users: int, seed: int, metric: str, with_ials: bool) -> str:
    """Table 4: the demo data as ids only, with ratings, and with hours played (same split)."""
    say(f"\n== demo data ({n_users:,} players): ids only, ratings, hours played ==")
    rated = load_demo_interactions(n_users, seed, "rating")
    played = load_demo_interactions(n_users, seed, "hours")
    if not (np.array_equal(rated.users, played.users) and np.array_equal(rated.items, played.items)):
        raise DataError("the demo's rating and hours variants hold different interactions; they must not.")
    scores = {"rating": rated.scores, "hours": played.scores}
    ids_only = Interactions(rated.users, rated.items, rated.n_users, rated.n_items)  # no scores, no times
    binary_splits = protocol_splits(ids_only, by_time=False, seed=seed)
    shared = [most_popular_row(binary_splits), ease_row(binary_splits, metric)]
    lines: list = list(shared)
    for label, score, confidence in COUNTS_VARIANTS:
        say(f"\n-- demo data, {label} --")
        variant = ids_only if score is None else dataclasses.replace(ids_only, scores=scores[score])
        splits = protocol_splits(variant, by_time=False, seed=seed)
        if (matrix(splits.test) != matrix(binary_splits.test)).nnz:
            raise DataError(f"the demo's {label} variant was split differently from the ids-only one.")
        rows = list(shared)
        lines.append(f"{label}:")
        if with_ials:
            rows.append(ials_row(splits, metric, seed, confidence))
            lines.append(rows[-1])
        two_tower = two_tower_row(splits, "random", seed)
        lines += [two_tower, ("vs", versus_best_peer(rows, two_tower, metric))]
    title = (
        f"demo data: generate_demo(n_users={n_users}, seed={seed}, score=...): {n_users:,} players x "
        f"{rated.n_items:,} games, {len(rated):,} interactions; random split (test = 20 % per user, "
        f"seed {seed})\nmost popular and EASE use the binary matrix: one fit serves all three variants"
    )
    return format_table(title, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES, help="tables to run")
    parser.add_argument(
        "--data",
        default=str(DEFAULT_MOVIELENS),
        help="MovieLens ratings.csv (userId,movieId,rating,timestamp)",
    )
    parser.add_argument("--counts-users", type=int, default=1500, help="players of the demo data (table 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metric", default="NDCG@20", help="validation metric that chooses hyper-parameters")
    parser.add_argument(
        "--no-ials", action="store_true", help="skip iALS (e.g. when `implicit` is not installed)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        tables = []
        if set(args.tables) & {"random", "time", "time-ts"}:
            interactions = load_movielens_interactions(args.data)
            tables += movielens_tables(interactions, args.tables, args.seed, args.metric, not args.no_ials)
        if "counts" in args.tables:
            tables.append(counts_table(args.counts_users, args.seed, args.metric, not args.no_ials))
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n" + "\n\n".join(tables))
    print(f"\n(whole run: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
