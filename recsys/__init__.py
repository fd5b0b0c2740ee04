"""recsys: a two-tower recommender on Keras 3 (JAX, TensorFlow or PyTorch)."""

__version__ = "0.1.0"
