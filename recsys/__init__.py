"""recsys: a two-tower recommender on Keras 3 (JAX by default; TensorFlow or PyTorch via KERAS_BACKEND)."""

import os as _os

# JAX is the default backend; a KERAS_BACKEND set by the user wins. Must happen before keras loads.
_os.environ.setdefault("KERAS_BACKEND", "jax")
# Keras may import TensorFlow (when installed) for its data adapters: keep its C++ start-up logs quiet.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def __getattr__(name: str):
    """`from recsys import Recommender`, imported on first use (it loads Keras)."""
    if name == "Recommender":
        from recsys.recommender import Recommender

        return Recommender
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
