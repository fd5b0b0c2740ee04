"""The package's version, in a module of its own so that any layer can name it without importing
the package root (`recsys/__init__`).

Example:
    >>> __version__.count(".")
    2
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
