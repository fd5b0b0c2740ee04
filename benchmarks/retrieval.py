"""Benchmark: exact vs approximate (faiss IVF) top-k retrieval over a large catalogue.

    python benchmarks/retrieval.py [--items 1000000 --dim 64 --queries 2000 --k 50] [--n-probe 32 64 128]

Synthetic, seeded embeddings shaped like a trained model's: a mixture of --clusters Gaussian
clusters (Zipf-like sizes, rank^-0.7; per-cluster spread from 0.5 to 1.5 times the centre's norm),
L2-normalised and divided by sqrt(0.15) (the default temperature), so every item has the same norm.
Users are drawn from the same mixture. Seen items: --seen-per-user per user, half of them among the
user's exact top 200 (people have seen items they like, so excluding them matters), half uniform.

Times on the same queries, interleaved, --repeats times (best wall time kept; process CPU time
of that run beside it, since other processes may share the machine):
  exact   recsys.ranking.exact.ExactIndex (every item scored)
  ann     recsys.ranking.index.IVFIndex (faiss IVF-Flat) at each --n-probe, recall@k against exact
both without and with seen-item exclusion. Build time, the index's memory (its own count and the
process's RSS growth while building) and, for the approximate index, the queries the exact
fallback answered are printed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.log import say
from recsys.ranking.index import ExactIndex, IVFIndex, default_n_lists, default_n_probe

TEMPERATURE = 0.15


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=2000, help="users searched in one batch")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--clusters", type=int, default=3000)
    parser.add_argument("--seen-per-user", type=int, default=50)
    parser.add_argument("--n-lists", type=int, default=None, help="IVF lists (default 4 sqrt(items))")
    parser.add_argument(
        "--n-probe",
        type=int,
        nargs="+",
        default=None,
        help="lists scanned (default: half, 1x, 2x the default)",
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def make_vectors(args) -> tuple[np.ndarray, np.ndarray]:
    """(items, users): the cluster mixture described above, float32, normalised / sqrt(temperature)."""
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, args.clusters + 1) ** 0.7
    weights /= weights.sum()
    spread = rng.uniform(0.5, 1.5, args.clusters).astype(np.float32) / np.float32(np.sqrt(args.dim))

    def draw(n: int) -> np.ndarray:
        out = np.empty((n, args.dim), dtype=np.float32)
        for start in range(0, n, 200_000):  # in chunks: the noise never doubles the memory
            stop = min(start + 200_000, n)
            label = rng.choice(args.clusters, stop - start, p=weights)
            x = (
                centres[label]
                + rng.standard_normal((stop - start, args.dim), dtype=np.float32) * spread[label, None]
            )
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            out[start:stop] = x / np.float32(np.sqrt(TEMPERATURE))
        return out

    return draw(args.items), draw(args.queries)


def make_seen(args, liked: np.ndarray) -> sp.csr_matrix:
    """Half of each user's seen items from `liked` (its exact top items), half uniform."""
    rng = np.random.default_rng(args.seed + 1)
    n_users = liked.shape[0]
    half = min(args.seen_per_user // 2, liked.shape[1])
    from_liked = np.argsort(rng.random(liked.shape), axis=1)[:, :half]
    cols = np.hstack(
        [
            np.take_along_axis(liked, from_liked, axis=1),
            rng.integers(0, args.items, (n_users, args.seen_per_user - half)),
        ]
    )
    rows = np.repeat(np.arange(n_users), cols.shape[1])
    seen = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols.ravel())), shape=(n_users, args.items))
    seen.sum_duplicates()
    seen.data[:] = 1
    return seen


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each user's exact top-k (non-padding) that `found` holds."""
    hits = [
        len(set(a[a >= 0].tolist()) & set(t[t >= 0].tolist())) / max(int((t >= 0).sum()), 1)
        for a, t in zip(found, truth)
    ]
    return float(np.mean(hits)) if hits else 1.0


def main(argv=None) -> int:
    args = parse_args(argv)
    say(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"numpy {np.__version__}, load average {os.getloadavg()[0]:.1f}"
    )
    start = time.perf_counter()
    items, users = make_vectors(args)
    say(
        f"data: {args.items:,} items x {args.dim}, {args.queries:,} users, {args.clusters:,} clusters, "
        f"k {args.k} ({time.perf_counter() - start:.1f} s to generate)"
    )

    rss0 = rss_mb()
    exact = ExactIndex(items, n_threads=args.threads)
    liked, _ = exact.search(users, 200)
    seen = make_seen(args, liked)
    top = liked[:, : args.k]
    in_top = np.asarray(seen[np.arange(args.queries)[:, None], top].sum(axis=1)).mean() if args.k else 0.0
    say(
        f"seen: {seen.nnz / args.queries:.1f} items per user, "
        f"{in_top:.1f} of them in the user's exact top {args.k}"
    )

    rss1 = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    ann = IVFIndex(items, n_lists=args.n_lists, n_threads=args.threads, seed=args.seed)
    build = (time.perf_counter() - wall, time.process_time() - cpu)
    ann_rss = rss_mb() - rss1
    say(
        f"IVF index: {ann.n_lists:,} lists (default {default_n_lists(args.items):,}), "
        f"built in {build[0]:.1f} s "
        f"({build[1]:.1f} s CPU), {ann.nbytes / 2**20:.0f} MB, RSS +{ann_rss:.0f} MB"
    )
    probes = args.n_probe or sorted(
        {
            max(1, default_n_probe(ann.n_lists, args.items) // 2),
            default_n_probe(ann.n_lists, args.items),
            min(ann.n_lists, 2 * default_n_probe(ann.n_lists, args.items)),
        }
    )

    times: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    results: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = {}
    fallbacks: dict[tuple[str, bool], int] = {}
    for repeat in range(args.repeats):
        for with_seen in (False, True):
            methods = [("exact", exact, None)] + [(f"ann, n_probe {p}", ann, p) for p in probes]
            for name, index, probe in methods:
                if probe is not None:
                    ann.n_probe = probe
                wall, cpu = time.perf_counter(), time.process_time()
                results[name, with_seen] = index.search(users, args.k, seen if with_seen else None)
                elapsed = (time.perf_counter() - wall, time.process_time() - cpu)
                times.setdefault((name, with_seen), []).append(elapsed)
                if probe is not None:
                    fallbacks[name, with_seen] = ann.last_fallbacks
        say(f"repeat {repeat + 1} done ({time.perf_counter() - start:.0f} s so far)")

    n = args.queries
    say("")
    say(
        f"{'method':22s} {'seen':>5s} {'build s':>8s} {'memory MB':>10s} {'queries/s':>10s} "
        f"{'CPU ms/query':>13s} {'speed-up':>9s} {'CPU speed-up':>13s} {'recall@' + str(args.k):>10s} "
        f"{'fallbacks':>10s}"
    )
    for (name, with_seen), runs in times.items():
        seconds, cpu = min(runs)
        exact_seconds, exact_cpu = min(times["exact", with_seen])
        truth = results["exact", with_seen][0]
        is_exact = name == "exact"
        build_text = "0" if is_exact else f"{build[0]:.1f}"
        memory = items.nbytes if is_exact else ann.nbytes
        say(
            f"{name:22s} {'yes' if with_seen else 'no':>5s} {build_text:>8s} {memory / 2**20:10.0f} "
            f"{n / seconds:10,.0f} {1e3 * cpu / n:13.3f} "
            f"{exact_seconds / seconds:8.1f}x {exact_cpu / cpu:12.1f}x "
            f"{recall(results[name, with_seen][0], truth):10.4f} "
            f"{'-' if is_exact else str(fallbacks[name, with_seen]):>10s}"
        )
    say(
        f"(queries/s: {n:,} users in one batch, wall clock, best of {args.repeats}; speed-up: vs exact, "
        f"wall clock and CPU time; "
        f"CPU ms/query: process CPU time of that run per query, all threads; "
        f"memory: the index's item vectors and lists; exact RSS "
        f"+{rss1 - rss0:.0f} MB incl. its results; total {time.perf_counter() - start:.0f} s; "
        f"load average now {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
