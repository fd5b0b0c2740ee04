"""Training throughput on the large synthetic dataset (about 20 million interactions, 16 million
in the training split).

Measures, in one run:
  - the sampler alone (`InteractionDataset` batches per second, softmax and 4-negative variants);
  - training at each `--dims` with Keras' dense Adam (`sparse_table_updates=False`, the path every
    backend can take) and with the row-sparse step (`recsys.model.row_sparse.LazyAdam`, the JAX
    default): `model.fit` on a slice of the epoch with full-size tables, after a warm-up epoch
    that compiles the step; the median of `--repeats` timed fits of the slice. Seconds per epoch
    are extrapolated from the slice, plus, for the row-sparse step, its once-per-epoch catch-up of
    every table row (timed on its own);
  - with `--towers id history`, the history user tower (`user_tower = "history"`, windows of
    `history_length` items, dense Adam) beside the id tower at each dim, and the ratio of their
    seconds per epoch (the target: the history tower within 3x the id tower's default);
  - `implicit`'s iALS (64 factors, 15 iterations, all cores) on the same training matrix: the
    fastest CPU peer, whose whole fit is the figure to set an epoch beside.

    python benchmarks/training.py [--users 140000] [--dims 64 256] [--batch-size 1024]
                                  [--steps 150] [--repeats 3] [--no-ials] [--towers id history]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import recsys  # noqa: F401  (sets the default Keras backend)


def sampler_rate(dataset, batches: int) -> float:
    """Examples per second of assembling `batches` batches."""
    started = time.perf_counter()
    examples = 0
    for index in range(batches):
        inputs, _, _ = dataset[index % len(dataset)]
        examples += len(inputs["user"])
    return examples / (time.perf_counter() - started)


def train_rate(config, prepared, train, part, sparse: bool, repeats: int) -> tuple[float, float]:
    """(examples per second of `model.fit` on `part`, the median of `repeats` timed fits, since a
    shared machine's rate varies from one second to the next; seconds of one catch-up of the
    tables)."""
    import keras

    from recsys.model import row_sparse
    from recsys.model.training import build_model, compile_for_training, make_dataset

    model = build_model(config, prepared.n_users, prepared.n_items, None, None, train)
    dataset = make_dataset(part, config, model.task)
    compile_for_training(model, config, -(-len(train) // config.batch_size), sparse)
    model.fit(dataset, epochs=1, verbose=0)  # compiles the step
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        rates.append(len(part) / (time.perf_counter() - started))
    rate = sorted(rates)[len(rates) // 2]
    catch_up = 0.0
    if isinstance(model.optimizer, row_sparse.LazyAdam):
        started = time.perf_counter()
        model.optimizer.catch_up()
        keras.ops.convert_to_numpy(model.trainable_variables[0])  # wait for the result
        catch_up = time.perf_counter() - started
    return rate, catch_up


def ials_seconds(train, factors: int = 64, iterations: int = 15) -> float:
    """Seconds of `implicit`'s iALS fit (binary confidence, all cores) on the training matrix."""
    from recsys.eval.ials import IALS

    matrix = train.user_item_matrix()
    started = time.perf_counter()
    IALS(factors=factors, iterations=iterations, seed=0).fit(matrix)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=140_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 256], help="embedding_dim values")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=150, help="training steps timed (after a warm-up)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per row (the median is shown)")
    parser.add_argument("--no-ials", action="store_true", help="skip the iALS row")
    parser.add_argument(
        "--towers", nargs="+", default=["id"], choices=["id", "history"], help="user towers to time"
    )
    args = parser.parse_args()

    import keras
    import numpy as np

    from recsys.config import Config
    from recsys.data.demo import generate_demo
    from recsys.data.preparation import prepare
    from recsys.data.splitting import split_interactions
    from recsys.model.sampling import InteractionDataset
    from recsys.model.training import make_dataset

    config = Config(verbosity=0)
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    prepared = prepare(generate_demo(n_users=args.users, seed=0), config)
    train = split_interactions(prepared.interactions, config).train

    full = make_dataset(train, config)
    softmax_rate = sampler_rate(full, 300)
    negatives = InteractionDataset(train, batch_size=config.batch_size, num_negatives=4, seed=0)
    negatives_rate = sampler_rate(negatives, 300)

    rows = np.random.default_rng(0).permutation(len(train))[: config.batch_size * args.steps]
    part = train.subset(np.sort(rows))
    lines = []  # (what, examples/s, seconds per epoch, x dense)
    ratios = []  # (dim, history tower's seconds per epoch / the id tower's default's)
    for dim in args.dims:
        dim_config = config.replace(embedding_dim=dim)
        dense_rate, _ = train_rate(dim_config, prepared, train, part, False, args.repeats)
        dense_epoch = len(train) / dense_rate
        lines.append((f"dim {dim}: Keras Adam, dense tables", dense_rate, dense_epoch, 1.0))
        default_epoch = dense_epoch
        if keras.backend.backend() == "jax":
            rate, catch_up = train_rate(dim_config, prepared, train, part, True, args.repeats)
            default_epoch = len(train) / rate + catch_up
            speed_up = dense_epoch / default_epoch
            what = f"dim {dim}: row-sparse LazyAdam (default)"
            lines.append((what, len(train) / default_epoch, default_epoch, speed_up))
        if "history" in args.towers:
            history_config = dim_config.replace(user_tower="history")
            rate, _ = train_rate(history_config, prepared, train, part, False, args.repeats)
            epoch = len(train) / rate
            what = f"dim {dim}: history tower ({history_config.history_length} items), dense Adam"
            lines.append((what, rate, epoch, dense_epoch / epoch))
            ratios.append((dim, epoch / default_epoch))
    ials = None if args.no_ials else ials_seconds(train)

    print(
        f"\nTraining throughput: {len(train):,} training interactions, "
        f"{prepared.n_users:,} users x {prepared.n_items:,} items; batch_size {config.batch_size}, "
        f"loss {config.loss}, ids only; "
        f"Keras {keras.__version__} on {keras.backend.backend()}, "
        f"{os.cpu_count()} CPU cores ({platform.machine()})"
    )
    print(f"{'what':<46}{'examples/s':>12}{'s / epoch':>11}{'x dense':>9}")
    print("-" * 78)
    for what, rate, epoch, speed_up in lines:
        print(f"{what:<46}{rate:>12,.0f}{epoch:>11,.0f}{speed_up:>9.1f}")
    if ials is not None:
        per_iteration = ials / 15
        print(
            f"{'implicit iALS, 64 factors: 15 iterations':<46}{len(train) / per_iteration:>12,.0f}"
            f"{ials:>11,.0f}{'':>9}"
        )
        print("  (iALS: examples/s = interactions per second per iteration; s / epoch = its whole fit)")
    slowest = min(rate for _, rate, _, _ in lines)
    print(
        f"\nsampler, in-batch softmax batches: {softmax_rate:,.0f} examples/s "
        f"({softmax_rate / slowest:.1f}x the slowest training row); "
        f"4 negatives per positive: {negatives_rate:,.0f} examples/s"
    )
    print(
        f"training rates: the median of {args.repeats} timed fits of {args.steps} steps of batch "
        f"{config.batch_size}"
    )
    for dim, ratio in ratios:
        print(f"dim {dim}: the history tower's epoch takes {ratio:.1f}x the id tower's default (target: 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
