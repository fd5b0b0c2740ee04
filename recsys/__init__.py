"""recsys: a two-tower recommender on Keras 3 (JAX by default; TensorFlow or PyTorch via KERAS_BACKEND).

The public API: `Recommender` (fit, recommend, save, load; `recsys.serve.recommender`), `Config`
and `load_config` (the settings: `recsys.config`, `recsys.config_loading`), and the error classes
(`recsys.errors`).
`Recommender` is imported on first use, since it loads Keras and its backend (seconds): importing
`recsys.config` from `main.py` or the command line stays instant.

Example:
    >>> from recsys import Config, ConfigError
    >>> Config(embedding_dim=32).embedding_dim
    32
    >>> try:
    ...     Config(embedding_dim=0)
    ... except ConfigError as error:
    ...     print(error)
    config 'embedding_dim' is 0 (int); expected greater than or equal to 1.
"""

import os as _os

# JAX is the default backend; a KERAS_BACKEND set by the user wins. Must happen before keras loads.
_os.environ.setdefault("KERAS_BACKEND", "jax")
# Keras may import TensorFlow (when installed) for its data adapters: keep its C++ start-up logs quiet.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from recsys.config import Config
from recsys.config_loading import load_config
from recsys.errors import ArtifactError, ConfigError, DataError, RecsysError, UsageError
from recsys.version import __version__

__all__ = [
    "ArtifactError",
    "Config",
    "ConfigError",
    "DataError",
    "Recommender",
    "RecsysError",
    "UsageError",
    "__version__",
    "load_config",
]


def __getattr__(name: str):
    """`from recsys import Recommender`, imported on first use (it loads Keras)."""
    if name == "Recommender":
        from recsys.serve.recommender import Recommender  # lazy: loads Keras (see the module doc)

        return Recommender
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
