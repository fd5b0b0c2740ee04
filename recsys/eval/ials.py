"""`IALS`: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) through the
`implicit` package (optional), on binary interactions or with a confidence that grows with a score
(ratings, play counts: `confidence_matrix`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.data.weighting import log_count_scale
from recsys.errors import ConfigError, DataError, RecsysError
from recsys.eval.evaluation import Scorer, embedding_scorer
from recsys.eval.matrices import checked_matrix

__all__ = ["IALS", "IALS_CONFIDENCES", "confidence_matrix", "import_implicit_als"]

# How iALS turns an observed pair into a confidence (see `confidence_matrix`).
IALS_CONFIDENCES = ("binary", "linear", "log")


def import_implicit_als():
    try:
        from implicit.als import AlternatingLeastSquares
    except ImportError as exc:
        raise RecsysError(
            f"the IALS baseline needs the 'implicit' package ({exc}); install it with `pip install implicit` "
            "(or `pip install recsys[baselines]`)."
        ) from None
    return AlternatingLeastSquares


def confidence_matrix(train, confidence: str, alpha: float) -> sp.csr_matrix:
    """The users x items matrix iALS fits: each observed pair's confidence (unobserved pairs have
    confidence 1 and target 0, `implicit`'s convention), from the matrix values c (scores):

    - 'binary': alpha for every observed pair, whatever its value (the values are ignored);
    - 'linear': alpha * c / mean(c): proportional to the score, scaled so that the mean confidence
      is alpha whatever the score's unit (one alpha grid serves ratings, hours and binary data);
    - 'log': 1 + alpha * log(1 + c / median(c)) (Hu, Koren & Volinsky's log scaling, with the
      median score as epsilon): for counts, where one item played 1,000 hours should not outweigh
      a hundred played for 10.

    'linear' and 'log' need positive values.
    """
    if confidence not in IALS_CONFIDENCES:
        raise ConfigError(f"IALS confidence must be one of {IALS_CONFIDENCES}, got {confidence!r}.")
    matrix = checked_matrix(train)
    values = matrix.data.astype(np.float64)
    if confidence == "binary":
        matrix.data[:] = alpha
        return matrix
    if not np.all(np.isfinite(values)) or values.min() <= 0:
        raise DataError(
            f"IALS confidence {confidence!r} needs positive finite scores; the smallest is {values.min():g}. "
            "Use confidence='binary' for these data."
        )
    if confidence == "linear":
        matrix.data[:] = alpha * values / values.mean()
    else:
        matrix.data[:] = 1.0 + alpha * log_count_scale(values)
    return matrix


class IALS:
    """Implicit ALS (Hu, Koren & Volinsky 2008) via `implicit`: observed pairs (target 1) weigh
    their confidence (`confidence_matrix`: alpha on binary interactions, or growing with a score),
    unobserved pairs (target 0) weigh 1; L2 penalty `regularization`."""

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 30.0,
        alpha: float = 5.0,
        iterations: int = 15,
        seed: int = 0,
        num_threads: int = 0,
        confidence: str = "binary",
    ):
        for name, value in (("factors", factors), ("iterations", iterations)):
            if int(value) < 1:
                raise ConfigError(f"IALS {name} must be a positive integer, got {value!r}.")
        if regularization < 0 or alpha <= 0:
            raise ConfigError(
                f"IALS regularization must be >= 0 and alpha > 0, got {regularization!r} and {alpha!r}."
            )
        if confidence not in IALS_CONFIDENCES:
            raise ConfigError(f"IALS confidence must be one of {IALS_CONFIDENCES}, got {confidence!r}.")
        self.factors, self.regularization, self.alpha = int(factors), float(regularization), float(alpha)
        self.iterations, self.seed, self.num_threads = int(iterations), int(seed), int(num_threads)
        self.confidence = confidence
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None

    def fit(self, train: sp.csr_matrix) -> IALS:
        """Fit on a users x items matrix (binary, or scores for a 'linear' / 'log' confidence) on the
        CPU, BLAS limited to one thread as implicit asks."""
        AlternatingLeastSquares = import_implicit_als()

        matrix = confidence_matrix(train, self.confidence, self.alpha)
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,  # the matrix already holds the confidences
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
                use_gpu=False,
            )
            model.fit(matrix, show_progress=False)  # implicit >= 0.5: rows are users
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        if self.user_factors.shape[0] != matrix.shape[0] or self.item_factors.shape[0] != matrix.shape[1]:
            raise RecsysError(  # pragma: no cover - guards against an implicit API change
                f"implicit returned factors for {self.user_factors.shape[0]:,} users and "
                f"{self.item_factors.shape[0]:,} items, expected {matrix.shape[0]:,} and "
                f"{matrix.shape[1]:,}; check the implicit version (>= 0.5)."
            )
        return self

    def scorer(self) -> Scorer:
        """Scores = user_factors[users] @ item_factorsᵀ."""
        if self.user_factors is None or self.item_factors is None:
            raise RecsysError("IALS is not fitted yet; call fit(train) first.")
        return embedding_scorer(self.user_factors, self.item_factors)
