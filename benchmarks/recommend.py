"""Benchmark: top-N unseen items for every user, and writing them out.

    python benchmarks/recommend.py [--users 140000 --items 27000 --dim 64 --k 50] [--quick]

Builds seeded random float32 embeddings and a random seen matrix (~143 items per user, skewed
popularity), then times on the same embeddings and masks:
  ours     recsys.ranking.exact.ExactIndex(items).search(users, k, seen) (scoring + masking +
           exact top-N; the index built inside the timing)
  write    recsys.serve.outputs.write_recommendations to JSON (synthetic integer user / string item ids)
  seed     per user, heapq.nlargest over all item scores skipping seen items (timed on a sample of
           users, extrapolated to all)
  implicit implicit.cpu.topk.topk with filter_query_items (batched C++ top-k), if installed
  matmul   the bare block matrix products, in the same block loop as ours: the floor
Each timed method runs --repeats times, interleaved, and the best time is kept (other processes
may share the machine; process CPU time is printed beside wall time). Ours is checked against
implicit on a sample of users, and against the seed's loop on the users it timed.
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.data.vocabulary import Vocabulary
from recsys.log import say
from recsys.ranking.exact import ExactIndex
from recsys.ranking.selection import default_block_size, run_blocks
from recsys.serve.outputs import write_recommendations


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=140_000)
    parser.add_argument("--items", type=int, default=27_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seen-per-user", type=float, default=143.0, help="mean seen items per user")
    parser.add_argument(
        "--seed-users", type=int, default=300, help="users timed for the seed's per-user loop"
    )
    parser.add_argument("--check-users", type=int, default=5000, help="users compared against the reference")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="threads for ours (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.items, args.dim, args.k = 3000, 4000, 32, 20
        args.seen_per_user, args.seed_users, args.repeats = 40.0, 50, 1
    return args


def _seen(rng, n_users: int, popularity: np.ndarray, mean: float) -> sp.csr_matrix:
    per_user = np.minimum(rng.poisson(mean, n_users), popularity.size)
    rows = np.repeat(np.arange(n_users, dtype=np.int32), per_user)
    cols = rng.choice(popularity.size, size=rows.size, p=popularity).astype(np.int32)
    seen = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n_users, popularity.size))
    seen.sum_duplicates()  # popular items get drawn twice: fewer distinct items than draws
    seen.data[:] = 1
    return seen


def make_data(args) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """Gaussian embeddings and a seen matrix whose items follow a Zipf-like popularity (rank^-0.8),
    with about --seen-per-user distinct items per user (draws are scaled up for the duplicates)."""
    rng = np.random.default_rng(args.seed)
    users = rng.standard_normal((args.users, args.dim), dtype=np.float32)
    items = rng.standard_normal((args.items, args.dim), dtype=np.float32) / np.float32(np.sqrt(args.dim))
    popularity = 1.0 / np.arange(1, args.items + 1) ** 0.8
    popularity = popularity[rng.permutation(args.items)] / popularity.sum()
    trial = _seen(rng, min(args.users, 2000), popularity, args.seen_per_user)
    distinct_per_draw = trial.nnz / max(trial.shape[0] * args.seen_per_user, 1)
    seen = _seen(rng, args.users, popularity, args.seen_per_user / max(distinct_per_draw, 1e-3))
    return users, items, seen


def seed_loop(users, items, seen, k, sample) -> tuple[float, np.ndarray]:
    """The seed's way: per user, score every item and keep the k best unseen with heapq.nlargest."""
    start = time.perf_counter()
    out = np.full((len(sample), k), -1, dtype=np.int64)
    for row, u in enumerate(sample):
        scores = (users[u] @ items.T).tolist()
        skip = set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]].tolist())
        best = heapq.nlargest(k, ((s, i) for i, s in enumerate(scores) if i not in skip))
        out[row, : len(best)] = [i for _, i in best]
    return time.perf_counter() - start, out


def bare_products(users, items, block_size, n_threads) -> None:
    """Only the block matrix products (into a per-thread buffer), in ours' block loop."""
    item_t = np.ascontiguousarray(items.T)

    def body(start, stop, workspace):
        if "scores" not in workspace:
            workspace["scores"] = np.empty((block_size, items.shape[0]), dtype=np.float32)
        np.matmul(users[start:stop], item_t, out=workspace["scores"][: stop - start])

    run_blocks(users.shape[0], block_size, n_threads, body, limit_blas=True)


def compare(ours_items, ours_scores, ref_items, ref_scores, rows) -> str:
    """Same scores, and the same item sets except where ties at the cut make the choice arbitrary."""
    a_s, b_s = ours_scores[rows], ref_scores[rows]
    max_diff = float(np.max(np.abs(np.where(np.isfinite(a_s), a_s - b_s, 0)))) if rows.size else 0.0
    differing = [r for r in rows if set(ours_items[r].tolist()) != set(ref_items[r].tolist())]
    tie_only = all(np.sort(ours_scores[r])[0] == np.sort(ref_scores[r])[0] for r in differing)
    ok = max_diff <= 1e-5 and tie_only
    return (
        f"{'OK' if ok else 'MISMATCH'}: {rows.size:,} users, max |score diff| {max_diff:.2g}, "
        f"{len(differing)} lists differ{' (ties at the cut only)' if differing and tie_only else ''}"
    )


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if info:
            i = info[0]
            return (
                f"{i.get('internal_api')} {i.get('version')} "
                f"({i.get('architecture')}, {i.get('num_threads')} threads)"
            )
    except ImportError:
        pass
    return "unknown"


def main(argv=None) -> int:
    args = parse_args(argv)
    say(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"numpy {np.__version__}, "
        f"BLAS {blas_description()}, load average {os.getloadavg()[0]:.1f}"
    )
    say(f"data: {args.users:,} users x {args.items:,} items, dim {args.dim}, k {args.k}")
    users, items, seen = make_data(args)
    say(f"seen: {seen.nnz:,} entries ({seen.nnz / args.users:.1f} per user)")
    try:
        from implicit.cpu.topk import topk as implicit_topk
    except ImportError:
        implicit_topk = None
        say("implicit is not installed: its row is skipped")

    block = default_block_size(args.items)
    times: dict[str, list[tuple[float, float]]] = {}  # name -> [(wall, process cpu), ...]
    results = {}

    def timed(name: str, run):
        wall, cpu = time.perf_counter(), time.process_time()
        out = run()
        times.setdefault(name, []).append((time.perf_counter() - wall, time.process_time() - cpu))
        return out

    for repeat in range(args.repeats):
        results["ours"] = timed(
            "ours: score + mask + top-N",
            lambda: ExactIndex(items, n_threads=args.threads).search(users, args.k, seen),
        )
        if implicit_topk is not None:
            results["implicit"] = timed(
                "implicit.cpu.topk.topk (filtered)",
                lambda: implicit_topk(
                    items,
                    users,
                    args.k,
                    item_norms=None,
                    filter_query_items=seen,
                    filter_items=None,
                    num_threads=0,
                ),
            )
        timed("bare matrix products (floor)", lambda: bare_products(users, items, block, args.threads))
        say(
            f"repeat {repeat + 1}: "
            + ", ".join(f"{name.split(':')[0].split(' (')[0]} {t[-1][0]:.2f} s" for name, t in times.items())
        )

    top_items, top_scores = results["ours"]
    rng = np.random.default_rng(args.seed + 1)
    check_rows = np.sort(rng.choice(args.users, size=min(args.check_users, args.users), replace=False))
    if implicit_topk is not None:
        ref_items, ref_scores = results["implicit"]
        say("ours vs implicit: " + compare(top_items, top_scores, ref_items, ref_scores, check_rows))

    sample = check_rows[: args.seed_users]
    seed_seconds, seed_items = seed_loop(users, items, seen, args.k, sample)
    seed_total = seed_seconds * args.users / max(len(sample), 1)
    seed_scores = np.take_along_axis(users[sample] @ items.T, np.maximum(seed_items, 0), axis=1).astype(
        np.float32
    )
    seed_scores[seed_items < 0] = -np.inf
    say(
        "ours vs the seed's loop: "
        + compare(top_items[sample], top_scores[sample], seed_items, seed_scores, np.arange(len(sample)))
    )

    user_ids = pl.Series("user", np.arange(args.users, dtype=np.int64) * 7 + 1000)
    item_vocab = Vocabulary(pl.Series("id", [f"item_{i:07d}" for i in range(args.items)]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recommendations.json"
        for _ in range(args.repeats):
            timed(
                "write recommendations.json",
                lambda: write_recommendations(path, user_ids, top_items, top_scores, item_vocab, fmt="json"),
            )
        size_mb = path.stat().st_size / 1e6

    best = {name: min(t) for name, t in times.items()}  # the fastest repeat (wall, its cpu)
    best[f"seed: heapq.nlargest per user ({len(sample)} timed)"] = (seed_total, seed_total)
    reference = best.get("implicit.cpu.topk.topk (filtered)", (None,))[0]
    say("")
    say(f"{'method':48s} {'seconds':>8s} {'cpu s':>8s} {'vs implicit':>12s} {'speed-up vs seed':>17s}")
    for name, (seconds, cpu) in best.items():
        ratio = f"{seconds / reference:.2f}x" if reference else "-"
        speed_up = "-" if name.startswith("write") else f"{seed_total / seconds:.0f}x"
        say(f"{name:48s} {seconds:8.2f} {cpu:8.2f} {ratio:>12s} {speed_up:>17s}")
    say(
        f"(seconds: wall clock, best of {args.repeats}; cpu s: process CPU time of that run, all threads; "
        f"recommendations.json {size_mb:.0f} MB; load average now {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
