"""Training across devices with `keras.distribution` (JAX): data parallel, or model parallel with
the id tables sharded by rows.

- `"data_parallel"`: every device holds the whole model; each batch is split over the devices
  along a `batch` mesh axis, and the gradients are combined (Keras' `DataParallel`).
- `"model_parallel"`: a `batch` x `model` device mesh (`1 x devices`): each user and item id table
  is sharded by rows over the `model` axis (a `LayoutMap` on `.*id_embedding.*embeddings`), so a
  table larger than one device's memory fits on several. The tables are padded to a multiple of
  the shard count (`EmbeddingModel(row_multiple=...)`); the padding rows are never looked up, and a
  bundle saves the tables unpadded, so it loads and predicts on a single device.

Either way, every batch must divide the batch axis: the sampler then yields full batches only
(the last, partial one of each epoch is left out; the next epoch's shuffle covers its rows), and
`batch_size` must be a multiple of the devices on the batch axis.

The distribution is entered as a scope around building and training a model (`scope(config)`),
never set globally, so models loaded later in the same process (a bundle for predictions) live
on one device as usual.

Several hosts: call `jax.distributed.initialize()` on each host before anything else (it reads
the coordinator address, process count and id from the environment or its arguments); JAX then
lists every host's devices, and the same setting spans them. Give each host its own Parquet
shards of the interactions (a folder per host as `raw_data_fpath`), so no host reads all data.

Example (the default: no distribution, and the scope changes nothing; with `distribution` set,
`recsys.model.training.build_model` and `fit` run inside it, the variables laid out over the devices):
    >>> config = Config()
    >>> make_distribution(config) is None
    True
    >>> with scope(config):
    ...     pass
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from recsys.config import Config
from recsys.errors import ConfigError

__all__ = ["ID_TABLES", "batch_multiple", "make_distribution", "row_multiple", "scope"]

ID_TABLES = ".*id_embedding.*embeddings"  # the LayoutMap key of both towers' id tables


def _devices(config: Config) -> list:
    if keras.backend.backend() != "jax":
        raise ConfigError(
            f"config 'distribution' is {config.distribution!r}, which needs the JAX backend "
            f"(KERAS_BACKEND=jax); this run uses {keras.backend.backend()}."
        )
    return keras.distribution.list_devices()


def row_multiple(config: Config) -> int:
    """How many shards each id table is split into (its rows are padded to a multiple of it)."""
    return len(_devices(config)) if config.distribution == "model_parallel" else 1


def batch_multiple(config: Config) -> int:
    """How many devices the batch axis spans: every training batch must be a multiple of it."""
    return len(_devices(config)) if config.distribution == "data_parallel" else 1


def make_distribution(config: Config) -> keras.distribution.Distribution | None:
    """The Keras distribution for the config's setting (None for "none"), its batch size checked."""
    if config.distribution == "none":
        return None
    devices = _devices(config)
    if config.batch_size % batch_multiple(config):
        raise ConfigError(
            f"config 'batch_size' is {config.batch_size}, which does not split over the "
            f"{len(devices)} devices of distribution {config.distribution!r}; use a multiple of "
            f"{len(devices)}."
        )
    if config.distribution == "data_parallel":
        return keras.distribution.DataParallel(devices=devices)
    mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    layout_map[ID_TABLES] = ("model", None)
    return keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")


@contextlib.contextmanager
def scope(config: Config) -> Iterator[None]:
    """Build and train inside this: the config's distribution, or nothing for "none"."""
    distribution = make_distribution(config)
    if distribution is None:
        yield
        return
    with distribution.scope():
        yield
