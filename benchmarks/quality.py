"""Quality of the default two-tower model beside most popular, EASE and iALS, under one protocol,
over several seeds, with paired 95 % intervals.

Five tables (`--tables` runs a subset):

1. `random`: MovieLens, test = a random 20 % of each user's interactions.
2. `time`: MovieLens, test = the last 20 % of each user's interactions by time; the split uses the
   timestamps, the models do not get them (no recency weighting anywhere).
3. `time-ts`: the same split, the models get the timestamps: the two-tower model's default
   recency weighting turns on, and recency-weighted EASE (l2 and s tuned together) joins the
   peers. Most popular, EASE and iALS do not use time, so their rows are those of table 2.
4. `loo`: MovieLens, leave-last-out: each user's last interaction by time is the test target,
   the one before it the validation target; timestamps given; HR@10 and NDCG@10 over the full
   catalogue, the protocol of published sequential results (SASRec, gSASRec, HSTU on ML-1M).
5. `counts`: the built-in demo data (`recsys.data.demo.generate_demo(n_users=--counts-users,
   seed=--seed, score=...)`: players x games), test = a random 20 % per user, no timestamps given.
   The same interactions and split in three variants: ids only (no score), the 1-5 rating, and
   hours played (heavy-tailed positive floats). Most popular and EASE use the binary matrix (the
   same in every variant); iALS and the two-tower model use the variant's score: iALS as a
   confidence (`recsys.eval.baselines.confidence_matrix`), the two-tower model as positive
   weights (its `use_scores_as_weights` / `score_weighting` defaults).

`--dataset ml-latest-small` (default) or `ml-1m` picks the MovieLens folder (under
`../shared/datasets/`, or `--data`); where it is absent the run prints one line saying so and
exits 0. Tables 1-4 use it; table 5 runs with ml-latest-small only.

Every model chooses its hyper-parameters on a validation holdout carved the same way from the
training part (the two-tower model: its number of epochs, by early stopping on the config's
monitored metric; the peers: grid search on --metric, NDCG@10 in the leave-last-out table), is
retrained on the whole training part, and is evaluated once on test. The two-tower model runs
with the library defaults (`Config()`, or those changed by `--set NAME=VALUE ...`, e.g.
`--set user_tower=history`; `--base NAME=VALUE ...` changes the first row's settings too, so
that `--base user_tower=history --set history_time_gaps=true` measures one setting of the history
tower), only the split strategy set to match the protocol, once
per seed of `--seeds` (the split stays that of --seed): its row is the mean over the seeds, each
cell with the seeds' standard deviation, and the line below it lists each seed's figure.

Under each table, the two-tower model's relative difference to the best tuned peer (by --metric
on test) on R@20 and N@20 (HR@10 and N@10 leaving the last out), with a 95 % paired bootstrap
interval over the test users (`recsys.eval.intervals`; the two-tower user's value is the mean of
its seeds'): "better" only where the lower bound is above 0.

Cost: `train s` is the final fit's seconds (the two-tower: validation run + final fit, mean per
seed); `mem MiB` the growth of the process's resident memory during those fits (its peak, sampled
every 10 ms, minus where it stood before; large blocks are mapped and unmapped one by one, so memory
freed by an earlier row is not reused unseen).

    python benchmarks/quality.py [--dataset ml-latest-small|ml-1m] [--data FOLDER]
                                 [--tables random time time-ts loo counts] [--seeds 0 1 2]
                                 [--seed 0] [--counts-users 1500] [--metric NDCG@20] [--no-ials]
                                 [--set NAME=VALUE ...] [--base NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.protocol import (
    KS,
    SHARED_DATASETS,
    ProtocolSplits,
    load_demo_interactions,
    load_movielens_interactions,
    matrix,
    movielens_folder,
    protocol_splits,
    without_timestamps,
)
from recsys.config import Config
from recsys.config_loading import parse_override
from recsys.data.interactions import Interactions
from recsys.errors import DataError, RecsysError
from recsys.eval.ease import EASE
from recsys.eval.evaluation import Scorer, evaluate_per_user
from recsys.eval.ials import IALS
from recsys.eval.intervals import paired_bootstrap
from recsys.eval.popular import MostPopular
from recsys.eval.recency_ease import RecencyWeightedEASE
from recsys.eval.tuners import tune_ease, tune_ials, tune_recency_ease
from recsys.log import say

TABLES = ("random", "time", "time-ts", "loo", "counts")
DATASETS = {
    "ml-latest-small": "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    "ml-1m": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
}
COLUMNS = ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")
HEADERS = ("R@10", "R@20", "NDCG@10", "NDCG@20", "HitRate@20", "Coverage@20")
# Leave-last-out: one held-out item per user, so Recall@K = HitRate@K (HR@K in the papers).
LOO_COLUMNS = ("HitRate@10", "NDCG@10", "HitRate@20", "NDCG@20", "MRR", "Coverage@20")
LOO_HEADERS = ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@20", "Coverage@20")
INTERVALS = {"R@20": "Recall@20", "N@20": "NDCG@20"}
LOO_INTERVALS = {"HR@10": "HitRate@10", "N@10": "NDCG@10"}
# iALS confidence per counts variant (see the module doc)
COUNTS_VARIANTS = (("ids only", None, "binary"), ("ratings", "rating", "linear"), ("hours", "hours", "log"))
SAMPLE_SECONDS = 0.01
TOWER_SETTINGS: dict = {}  # --set: settings of the two-tower row beside the defaults
BASE_SETTINGS: dict = {}  # --base: settings of the first two-tower row (default: the defaults), --set's too


class Row(NamedTuple):
    """One model's line: its name (with the chosen settings), test metrics (means), each test user's
    values (two-tower: the mean over its seeds), the seeds' standard deviation and each seed's
    figures (two-tower only), the final fit's seconds and memory growth, and whether it is a
    tuned peer the two-tower model is measured against."""

    name: str
    metrics: dict
    per_user: dict
    seconds: float
    mem_mib: float
    peer: bool = True
    spread: dict | None = None
    seeds: list | None = None


def _fixed_mmap_threshold() -> None:
    """Make glibc give every large block (numpy's arrays) its own mapping, returned to the system
    when freed: by default glibc raises its mmap threshold after large frees and serves later large
    arrays from heap it keeps, so a fit that reuses freed memory would show no growth at all."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD: fixed at glibc's default
    except (OSError, AttributeError):  # not glibc: the growth figures may then read low
        pass


def _rss_mib() -> float:
    """The process's resident memory (Linux /proc; 0 where that is absent)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20
    except OSError:
        return 0.0


def measured(fit: Callable[[], Any]) -> tuple[Any, float, float]:
    """(fit(), its seconds, the growth of resident memory at its peak, in MiB, sampled every 10 ms)."""
    before = _rss_mib()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], _rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = fit()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    return result, seconds, max(0.0, max(peak[0], _rss_mib()) - before)


def scored_row(
    name: str, scorer: Scorer, splits: ProtocolSplits, seconds: float, mem: float, peer=True
) -> Row:
    means, per_user = evaluate_per_user(scorer, matrix(splits.train), matrix(splits.test), KS)
    return Row(name, means, per_user, seconds, mem, peer)


def most_popular_row(splits: ProtocolSplits) -> Row:
    model, seconds, mem = measured(lambda: MostPopular().fit(matrix(splits.train)))
    return scored_row("most popular", model.scorer(), splits, seconds, mem, peer=False)


def ease_row(splits: ProtocolSplits, metric: str) -> Row:
    say("EASE: choosing l2 on the validation holdout")
    _, l2, _ = tune_ease(matrix(splits.tuning_train), matrix(splits.validation), KS, metric=metric)
    model, seconds, mem = measured(lambda: EASE().fit(matrix(splits.train), l2=l2))
    return scored_row(f"EASE (l2={l2:g})", model.scorer(), splits, seconds, mem)


def recency_ease_row(splits: ProtocolSplits, metric: str) -> Row:
    say("EASE, recency-weighted: choosing l2 and s on the validation holdout")
    _, best, _ = tune_recency_ease(splits.tuning_train, matrix(splits.validation), KS, metric=metric)
    model, seconds, mem = measured(lambda: RecencyWeightedEASE().fit(splits.train, **best))
    name = f"EASE, recency-weighted (l2={best['l2']:g}, s={best['strength']:g})"
    return scored_row(name, model.scorer(), splits, seconds, mem)


def ials_row(splits: ProtocolSplits, metric: str, seed: int, confidence: str = "binary") -> Row:
    """Tuned iALS; with a 'linear' or 'log' confidence it fits the score matrix (`confidence_matrix`)."""
    values = "score" if confidence != "binary" else "binary"
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
    model, seconds, mem = measured(
        lambda: IALS(seed=seed, confidence=confidence, **params).fit(splits.train.user_item_matrix(values))
    )
    kind = "" if confidence == "binary" else f", {confidence} confidence"
    settings = f"{params['factors']:g} f, reg {params['regularization']:g}, a {params['alpha']:g}"
    return scored_row(f"iALS{kind} ({settings})", model.scorer(), splits, seconds, mem)


def two_tower_rows(splits: ProtocolSplits, split_strategy: str, seeds: list[int], columns) -> list[Row]:
    """The defaults' two-tower row and, when `--set` changed settings, the changed one beside it."""
    rows = [two_tower_row(splits, split_strategy, seeds, columns, dict(BASE_SETTINGS))]
    if TOWER_SETTINGS:
        changed = {**BASE_SETTINGS, **TOWER_SETTINGS}
        rows.append(two_tower_row(splits, split_strategy, seeds, columns, changed))
    return rows


def two_tower_row(
    splits: ProtocolSplits, split_strategy: str, seeds: list[int], columns, settings: dict
) -> Row:
    """Two-tower with `Config()` plus `settings`, once per seed: epochs chosen by early stopping on
    validation, then retrained on all of train. It gets whatever the split's interactions hold:
    scores, timestamps (recency weighting). The row is the mean over the seeds; each test user's
    value the mean of the seeds' values for that user."""
    from recsys.eval.validation import fit_with_validation, model_scorer
    from recsys.model.training import build_model, fit

    n_users, n_items = splits.train.n_users, splits.train.n_items
    runs = []
    for seed in seeds:
        config = Config(split_strategy=split_strategy, seed=seed, metrics_k=list(KS), **settings)

        def fits(config=config):
            say(f"Two-tower, seed {config.seed}: choosing the number of epochs on the validation holdout")
            model = build_model(config, n_users, n_items, None, None, splits.tuning_train)
            chosen = fit_with_validation(
                model, splits.tuning_train, splits.validation, config, log_epochs=False
            )
            say(
                f"Two-tower, seed {config.seed}: retraining on the whole training part "
                f"for {chosen.best_epoch} epochs"
            )
            model = build_model(config, n_users, n_items, None, None, splits.train)
            fit(model, splits.train, config, epochs=chosen.best_epoch, log_epochs=False)
            return model, chosen.best_epoch

        (model, epochs), seconds, mem = measured(fits)
        scorer = model_scorer(model, matrix(splits.train), config.popularity_bias)
        runs.append((scored_row("", scorer, splits, seconds, mem), epochs))
    rows = [row for row, _ in runs]
    means = {key: float(np.mean([row.metrics[key] for row in rows])) for key in rows[0].metrics}
    per_user = {key: np.mean([row.per_user[key] for row in rows], axis=0) for key in rows[0].per_user}
    spread = {
        key: float(np.std([row.metrics[key] for row in rows], ddof=1)) if len(rows) > 1 else 0.0
        for key in means
    }
    epochs = [epochs for _, epochs in runs]
    shown = [
        (header, column)
        for column, header in zip(*columns)
        if column in ("Recall@20", "NDCG@20", "NDCG@10", "HitRate@10")
    ]
    per_seed = "; ".join(
        f"{header} " + " ".join(f"{row.metrics[column]:.4f}" for row in rows) for header, column in shown
    )
    seed_line = f"seeds {', '.join(map(str, seeds))}: {per_seed}; epochs {', '.join(map(str, epochs))}"
    changed = ", ".join(f"{key}={value}" for key, value in settings.items()) or "defaults"
    name = f"two-tower ({changed}, mean of {len(seeds)} seeds)"
    return Row(
        name,
        means,
        per_user,
        float(np.mean([row.seconds for row in rows])),
        max(row.mem_mib for row in rows),
        peer=False,
        spread=spread,
        seeds=[seed_line],
    )


def versus_best_peer(
    rows: list[Row], two_tower: Row, metric: str, intervals: dict[str, str], seed: int
) -> str:
    """'two-tower vs best peer (EASE): R@20 +1.2 % [+0.3, +2.0] better, N@20 +0.4 % [-0.5, +1.3] within
    noise': relative differences to the tuned peer with the best test `metric`, with 95 % paired
    bootstrap intervals over the test users."""
    peers = [row for row in rows if row.peer]
    if not peers:
        return "two-tower vs best peer: no tuned peer"
    best = max(peers, key=lambda row: row.metrics[metric])
    return versus(two_tower, best, intervals, seed, f"best peer ({best.name.split(' (')[0]})")


def versus(system: Row, reference: Row, intervals: dict[str, str], seed: int, label: str) -> str:
    """'<system> vs <label>: R@20 +1.2 % [+0.3, +2.0] better, ...' (paired bootstrap over test users)."""
    parts = []
    for short, column in intervals.items():
        difference = paired_bootstrap(system.per_user[column], reference.per_user[column], seed=seed)
        parts.append(f"{short} {difference} {difference.verdict}")
    return f"{system.name.split(', mean of')[0]}) vs {label}: " + ", ".join(parts)


def format_table(title: str, lines: list, columns=(COLUMNS, HEADERS)) -> str:
    """`lines`: Rows, section headings (str) and comparison lines (tuple ('vs', text))."""
    names, headers = columns
    rows = [line for line in lines if isinstance(line, Row)]
    width = max(len(row.name) for row in rows) + 2
    header = f"{'':<{width}}" + "".join(f"{h:>14}" for h in headers) + f"{'train s':>9}{'mem MiB':>9}"
    out = [title, header]
    for line in lines:
        if isinstance(line, Row):
            cells = []
            for column in names:
                value = f"{line.metrics[column]:.4f}"
                if line.spread is not None:
                    value += f"±{line.spread[column]:.4f}".replace("±0.", "±.")
                cells.append(f"{value:>14}")
            out.append(f"{line.name:<{width}}{''.join(cells)}{line.seconds:>9.1f}{line.mem_mib:>9.0f}")
            out += [f"  {seed_line}" for seed_line in line.seeds or []]
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


def table(
    title: str, peers: list[Row], two_towers: list[Row], metric: str, seed: int, loo: bool = False
) -> str:
    """One table: the peers, the two-tower rows, and the lines with their intervals (each two-tower
    row against the best peer; a row with changed settings also against the defaults' row)."""
    lines = comparisons(peers, two_towers, metric, LOO_INTERVALS if loo else INTERVALS, seed)
    columns = (LOO_COLUMNS, LOO_HEADERS) if loo else (COLUMNS, HEADERS)
    return format_table(title, [*peers, *two_towers, *lines], columns)


def comparisons(peers: list[Row], two_towers: list[Row], metric: str, intervals: dict, seed: int) -> list:
    """The interval lines under a table: each two-tower row against the best peer; a row with
    changed settings also against the defaults' row."""
    lines = [("vs", versus_best_peer(peers, row, metric, intervals, seed)) for row in two_towers]
    base = "base row" if BASE_SETTINGS else "defaults"
    return lines + [("vs", versus(row, two_towers[0], intervals, seed, base)) for row in two_towers[1:]]


def movielens_tables(
    name: str,
    interactions: Interactions,
    tables: list[str],
    seed: int,
    seeds: list[int],
    metric: str,
    with_ials: bool,
) -> list[str]:
    """Tables 1-4 (those asked for) on a MovieLens dataset."""
    out = []
    test_note = f"test = 20 % per user, split seed {seed}"
    if "random" in tables:
        say(f"\n== {name}, random split ==")
        splits = protocol_splits(interactions, by_time=False, seed=seed)
        rows = peer_rows(splits, metric, seed, with_ials)
        two_tower = two_tower_rows(splits, "random", seeds, (COLUMNS, HEADERS))
        out.append(table(f"{name}, random split ({test_note})", rows, two_tower, metric, seed))
    if "time" in tables or "time-ts" in tables:
        timed_splits = protocol_splits(interactions, by_time=True, seed=seed)
        untimed_splits = without_timestamps(timed_splits)
        say(f"\n== {name}, last 20 % by time: the peers that do not use time ==")
        common = peer_rows(untimed_splits, metric, seed, with_ials)
        if "time" in tables:
            say(f"\n== {name}, last 20 % by time, no timestamps given to the models ==")
            two_tower = two_tower_rows(untimed_splits, "time", seeds, (COLUMNS, HEADERS))
            title = f"{name}, last 20 % by time, no timestamps given to the models ({test_note})"
            out.append(table(title, common, two_tower, metric, seed))
        if "time-ts" in tables:
            say(f"\n== {name}, last 20 % by time, timestamps given ==")
            rows = [*common, recency_ease_row(timed_splits, metric)]
            two_tower = two_tower_rows(timed_splits, "time", seeds, (COLUMNS, HEADERS))
            strength = Config(split_strategy="time").effective_recency_weighting(True)
            title = (
                f"{name}, last 20 % by time, timestamps given: two-tower recency weighting "
                f"{strength:g} ({test_note})"
            )
            out.append(table(title, rows, two_tower, metric, seed))
    if "loo" in tables:
        say(f"\n== {name}, leave last out, timestamps given ==")
        splits = protocol_splits(interactions, by_time=True, seed=seed, leave_last_out=True)
        loo_metric = "NDCG@10"
        rows = [*peer_rows(splits, loo_metric, seed, with_ials), recency_ease_row(splits, loo_metric)]
        two_tower = two_tower_rows(splits, "leave_last_out", seeds, (LOO_COLUMNS, LOO_HEADERS))
        title = (
            f"{name}, leave last out: each user's last interaction by time is the test target, the one "
            f"before it the validation target; timestamps given; full ranking (tie seed {seed})"
        )
        out.append(table(title, rows, two_tower, loo_metric, seed, loo=True))
    return out


def counts_table(n_users: int, seed: int, seeds: list[int], metric: str, with_ials: bool) -> str:
    """Table 5: the demo data as ids only, with ratings, and with hours played (same split)."""
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
        two_tower = two_tower_rows(splits, "random", seeds, (COLUMNS, HEADERS))
        lines += [*two_tower, *comparisons(rows, two_tower, metric, INTERVALS, seed)]
    title = (
        f"demo data: generate_demo(n_users={n_users}, seed={seed}, score=...): {n_users:,} players x "
        f"{rated.n_items:,} games, {len(rated):,} interactions; random split (test = 20 % per user, "
        f"split seed {seed})\nmost popular and EASE use the binary matrix: one fit serves all three variants"
    )
    return format_table(title, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default="ml-latest-small", choices=sorted(DATASETS), help="MovieLens dataset"
    )
    parser.add_argument("--data", help="its folder (default: ../shared/datasets/<dataset>)")
    parser.add_argument("--tables", nargs="+", choices=TABLES, help="tables to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="two-tower seeds (3 or more)")
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (and iALS's)")
    parser.add_argument("--counts-users", type=int, default=1500, help="players of the demo data (table 5)")
    parser.add_argument("--metric", default="NDCG@20", help="validation metric that chooses hyper-parameters")
    parser.add_argument(
        "--no-ials", action="store_true", help="skip iALS (e.g. when `implicit` is not installed)"
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="two-tower settings beside the defaults (e.g. user_tower=history)",
    )
    parser.add_argument(
        "--base",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="settings of the first two-tower row instead of the defaults; --set's row adds its own "
        "to them (e.g. --base user_tower=history --set history_time_gaps=true)",
    )
    args = parser.parse_args(argv)
    _fixed_mmap_threshold()
    try:
        TOWER_SETTINGS.clear()
        TOWER_SETTINGS.update(parse_override(text) for text in args.set)
        BASE_SETTINGS.clear()
        BASE_SETTINGS.update(parse_override(text) for text in args.base)
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tables = args.tables or [t for t in TABLES if t != "counts" or args.dataset == "ml-latest-small"]
    started = time.perf_counter()
    out = []
    try:
        if set(tables) - {"counts"}:
            folder = movielens_folder(args.data or SHARED_DATASETS / args.dataset)
            if folder is None:
                where = args.data or SHARED_DATASETS / args.dataset
                print(
                    f"skipped: no {args.dataset} ratings at {where}; download {DATASETS[args.dataset]} "
                    "and unpack it there, or pass --data FOLDER."
                )
                return 0
            interactions = load_movielens_interactions(folder)
            out += movielens_tables(
                args.dataset, interactions, tables, args.seed, args.seeds, args.metric, not args.no_ials
            )
        if "counts" in tables:
            out.append(counts_table(args.counts_users, args.seed, args.seeds, args.metric, not args.no_ials))
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n" + "\n\n".join(out))
    print(f"\n(whole run: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
