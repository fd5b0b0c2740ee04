"""Training throughput on the large synthetic dataset (about 20 million interactions).

Measures, with the default model (or --dim / --batch-size):
  - the sampler alone (`InteractionDataset` batches per second, softmax and 4-negative variants),
  - training (`model.fit` on a slice of the epoch, after a warm-up that compiles the step),
and extrapolates seconds per full epoch. The sampler must produce batches at least 10x faster than
the model consumes them.

    python benchmarks/training.py [--users 140000] [--dim 256] [--batch-size 1024] [--steps 150]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=140_000)
    parser.add_argument("--dim", type=int, default=None, help="embedding_dim (default: the config default)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=150, help="training steps timed (after a warm-up)")
    args = parser.parse_args()

    import keras
    import numpy as np

    from recsys.config import Config
    from recsys.demo_data import generate_demo
    from recsys.preparation import prepare
    from recsys.sampling import InteractionDataset
    from recsys.splitting import split_interactions
    from recsys.training import build_model, learning_rate_schedule, make_dataset

    config = Config()
    if args.dim:
        config = config.replace(embedding_dim=args.dim)
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    prepared = prepare(generate_demo(num_users=args.users, seed=0), config)
    train = split_interactions(prepared.interactions, config).train

    full = make_dataset(train, config)
    softmax_rate = sampler_rate(full, 300)
    negatives = InteractionDataset(train, batch_size=config.batch_size, num_negatives=4, seed=0)
    negatives_rate = sampler_rate(negatives, 300)

    # Train on a slice of the epoch (full-size embedding tables): warm-up epoch compiles, next is timed.
    rows = np.random.default_rng(0).permutation(len(train))[: config.batch_size * args.steps]
    part = train.subset(np.sort(rows))
    model = build_model(config, prepared.n_users, prepared.n_items, None, None, train)
    dataset = make_dataset(part, config, model.task)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(config, len(full))))
    model.fit(dataset, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    train_rate = len(part) / (time.perf_counter() - started)
    epoch_seconds = len(train) / train_rate

    print(
        f"\nTraining throughput: {len(train):,} training interactions, "
        f"{prepared.n_users:,} users x {prepared.n_items:,} items; "
        f"embedding_dim {config.embedding_dim}, batch_size {config.batch_size}, loss {config.loss}; "
        f"Keras {keras.__version__} on {keras.backend.backend()}, "
        f"{os.cpu_count()} CPU cores ({platform.machine()})"
    )
    print(f"{'what':<44}{'examples/s':>14}{'x training':>12}")
    print("-" * 70)
    print(
        f"{'sampler, in-batch softmax batches':<44}{softmax_rate:>14,.0f}{softmax_rate / train_rate:>12.1f}"
    )
    print(
        f"{'sampler, 4 negatives per positive':<44}{negatives_rate:>14,.0f}"
        f"{negatives_rate / train_rate:>12.1f}"
    )
    print(f"{'training (model.fit, ids only)':<44}{train_rate:>14,.0f}{1.0:>12.1f}")
    print(
        f"\nseconds per epoch (extrapolated from {args.steps} steps): "
        f"{epoch_seconds:,.0f} s = {epoch_seconds / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
