"""Accelerator check: training throughput and top-N time on the device JAX finds, beside the CPU.

    python benchmarks/device.py [--users 100000] [--items 20000] [--per-user 40] [--dim 256]

Runs the same two measurements twice, each in a fresh process: once on JAX's default device (a
GPU or TPU when the CUDA/TPU build of JAX is installed and sees one) and once forced onto the CPU
(`JAX_PLATFORMS=cpu`). On a machine without an accelerator both rows are CPU rows, and the table
says so. Sizes are chosen so that the whole script ends within about 5 minutes on 2 CPU cores.

- training: `model.fit` of the default two-tower model (ids only, in-batch softmax, the row-sparse
  step of `recsys.model.row_sparse`) on synthetic interactions (--per-user per user, Zipf-like items),
  one warm-up pass that compiles the step, then --steps timed steps; examples per second;
- top-N: the top 50 unseen items of every user by dot product, in user blocks on the device
  (`jax.lax.top_k` after masking seen items), against the project's CPU path
  (`recsys.ranking.exact.ExactIndex.search`) in the CPU row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(args: argparse.Namespace) -> dict:
    """Both measurements on JAX's default device; the numbers as a dict."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import jax.numpy as jnp
    import numpy as np

    from recsys.config import Config
    from recsys.data.interactions import Interactions
    from recsys.model.towers import compute_embeddings
    from recsys.model.training import build_model, compile_for_training, make_dataset

    device = jax.devices()[0]
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, args.items + 1) ** 0.8
    popularity /= popularity.sum()
    users = np.repeat(np.arange(args.users, dtype=np.int32), args.per_user)
    items = rng.choice(args.items, size=users.size, p=popularity).astype(np.int32)
    train = Interactions(users, items, args.users, args.items)
    config = Config(embedding_dim=args.dim, verbosity=0)

    model = build_model(config, args.users, args.items, None, None, train)
    part = train.subset(np.sort(rng.permutation(len(train))[: config.batch_size * args.steps]))
    dataset = make_dataset(part, config, model.task)
    compile_for_training(model, config, len(dataset))
    model.fit(dataset, epochs=1, verbose=0)  # compiles the step
    started = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    train_rate = len(part) / (time.perf_counter() - started)

    user_vectors = compute_embeddings(model, "user")
    item_vectors = compute_embeddings(model, "item")
    seen = train.user_item_matrix()
    started = time.perf_counter()
    if device.platform == "cpu" and not args.jax_topn:
        from recsys.ranking.exact import ExactIndex

        ExactIndex(item_vectors).search(user_vectors, 50, seen)
        how = "recsys.ranking.exact.ExactIndex.search (numpy, threads)"
    else:
        items_on_device = jax.device_put(item_vectors, device)

        @jax.jit
        def block_top(users_block, mask):
            scores = users_block @ items_on_device.T
            return jax.lax.top_k(jnp.where(mask, -jnp.inf, scores), 50)

        block = 8192
        for start in range(0, args.users, block):
            rows = slice(start, min(start + block, args.users))
            mask = seen[rows].toarray() > 0
            jax.block_until_ready(block_top(jax.device_put(user_vectors[rows], device), mask))
        how = "jax.lax.top_k on the device, 8,192-user blocks"
    topn_seconds = time.perf_counter() - started
    return {
        "device": f"{device.platform}: {getattr(device, 'device_kind', device)}",
        "platform": device.platform,
        "train_examples_per_s": train_rate,
        "topn_seconds": topn_seconds,
        "topn_how": how,
    }


def run_child(args: argparse.Namespace, force_cpu: bool) -> dict:
    env = dict(os.environ, KERAS_BACKEND="jax")
    if force_cpu:
        env["JAX_PLATFORMS"] = "cpu"
    command = [sys.executable, __file__, "--child", *sys.argv[1:]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"the {'CPU' if force_cpu else 'default-device'} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--per-user", type=int, default=40)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60, help="training steps timed (after a warm-up)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--jax-topn", action="store_true", help="the device's top-N path on the CPU too")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args)))
        return 0

    started = time.perf_counter()
    default = run_child(args, force_cpu=False)
    cpu = run_child(args, force_cpu=True)
    print(
        f"\n{args.users:,} users x {args.items:,} items, {args.users * args.per_user:,} interactions, "
        f"embedding_dim {args.dim}, batch 1024; {os.cpu_count()} CPU cores ({platform.machine()})"
    )
    print(f"{'device':<34}{'train examples/s':>18}{'top-50, all users s':>22}  top-N path")
    print("-" * 110)
    for row in (default, cpu):
        rate, seconds = row["train_examples_per_s"], row["topn_seconds"]
        print(f"{row['device']:<34}{rate:>18,.0f}{seconds:>22.1f}  {row['topn_how']}")
    if default["platform"] == "cpu":
        print("JAX found no accelerator here: both rows ran on the CPU (install JAX's CUDA build on a GPU).")
    else:
        training = default["train_examples_per_s"] / cpu["train_examples_per_s"]
        top_n = cpu["topn_seconds"] / default["topn_seconds"]
        print(f"speed-up on {default['device']}: training x{training:.1f}, top-N x{top_n:.1f}")
    print(f"(whole check: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
