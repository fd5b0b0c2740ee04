"""Reference recommenders scored by the same evaluation code as the two-tower model.

- `MostPopular`: every user gets the items with the most training interactions (the floor to beat).
- `EASE` (Steck 2019): a closed-form item x item linear model, B = I - P diag(1/diag P) with
  P = (XᵀX + λI)⁻¹ on the binary user x item matrix X; scores = X_u B. Strong on small catalogues.
- `RecencyWeightedEASE`: the same B, but each item of a user's history counts by its recency,
  scores = (X ∘ W)_u B with W = exp(s (p - 1)), p the item's time-rank percentile in the user's
  history (1 for the newest): a time-aware peer for data with timestamps; s = 0 is plain EASE.
- `IALS`: implicit-feedback matrix factorisation through the `implicit` package (optional), on
  binary interactions or with a confidence that grows with a score (ratings, play counts).

Each model has `fit(train, ...)` and `scorer()` (`fit` takes a users x items sparse matrix, or for
`RecencyWeightedEASE` the `Interactions` with their timestamps); a scorer maps user indices to a
dense float32 (users x items) score block, the contract of `recsys.evaluation.evaluate`.
`tune_ease`, `tune_recency_ease` and `tune_ials` choose hyper-parameters on a validation holdout
and report every trial.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys.errors import ConfigError, DataError, RecsysError
from recsys.evaluation import Scorer, embedding_scorer, evaluate
from recsys.interactions import Interactions
from recsys.log import plural, say
from recsys.metrics import parse_metric_name
from recsys.weighting import log_count_scale, recency_weights

DEFAULT_EASE_GRID = (50.0, 100.0, 200.0, 300.0, 500.0, 800.0, 1500.0)
# Recency strengths s tried with each l2 by tune_recency_ease: 0 (plain EASE) up to a history whose
# oldest item weighs exp(-8) of the newest.
DEFAULT_RECENCY_GRID = (0.0, 1.0, 2.0, 4.0, 8.0)
# implicit does not scale the L2 penalty by the number of interactions, so useful values are large;
# the best regularization grows with alpha (ml-latest-small: (10, 1), (30, 5), (100, 20) are all good).
DEFAULT_IALS_GRID = {"factors": [128, 256], "regularization": [10.0, 30.0, 100.0], "alpha": [1.0, 5.0, 20.0]}
# How iALS turns an observed pair into a confidence (see `confidence_matrix`).
IALS_CONFIDENCES = ("binary", "linear", "log")
MEMORY_FRACTION = 0.8  # share of the available memory EASE may plan to use
_BLOCK_ENTRIES = 1 << 23  # entries of a dense working block (64 MiB in float64)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def checked_matrix(train, what: str = "training matrix") -> sp.csr_matrix:
    """Validate a users x items sparse matrix and return a float32 CSR copy with its values
    (repeated entries summed, explicit zeros removed: a non-zero entry is an interaction)."""
    if not sp.issparse(train) or train.ndim != 2:
        raise DataError(f"{what}: expected a scipy.sparse users x items matrix, got {type(train).__name__}.")
    matrix = sp.csr_matrix(train, dtype=np.float32, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    if matrix.nnz == 0:
        raise DataError(
            f"{what}: has no interactions ({matrix.shape[0]:,} users x {matrix.shape[1]:,} items, all empty)."
        )
    return matrix


def binary_matrix(train, what: str = "training matrix") -> sp.csr_matrix:
    """Validate a users x items sparse matrix and return it as binary float32 CSR (1 per pair)."""
    matrix = checked_matrix(train, what)
    matrix.data[:] = 1.0
    return matrix


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} TiB"  # pragma: no cover


def available_memory_bytes() -> int | None:
    """Memory the OS says is available (Linux MemAvailable, else free pages); None when unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _memory_limit(configured: int | None) -> tuple[int | None, str]:
    if configured is not None:
        return int(configured), "the configured memory_limit_bytes"
    available = available_memory_bytes()
    if available is None:
        return None, "unknown"
    return int(
        available * MEMORY_FRACTION
    ), f"{MEMORY_FRACTION:.0%} of the {format_bytes(available)} available"


def _metric_key(metric: str, ks: Iterable[int]) -> tuple[str, list[int]]:
    """Check the selection metric and make sure its K is among the evaluated cut-offs."""
    name, k = parse_metric_name(metric)
    if name in ("MRR", "Coverage"):
        raise ConfigError(
            f"cannot tune on {metric!r}; choose an accuracy metric such as 'NDCG@20' or 'Recall@20'."
        )
    assert k is not None  # only 'MRR' has no K, and it was refused above
    cutoffs = sorted(set(int(x) for x in ks) | {k})
    return metric, cutoffs


def _report_trial(model_name: str, params: dict, metrics: dict, metric: str, seconds: float) -> None:
    shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    say(f"  {model_name} {shown}: {metric} {metrics[metric]:.4f}  ({seconds:.1f} s)")


# --------------------------------------------------------------------------------------------
# most popular
# --------------------------------------------------------------------------------------------
class MostPopular:
    """Scores every item by its number of training interactions, the same list for every user."""

    def __init__(self) -> None:
        self.item_counts: np.ndarray | None = None

    def fit(self, train: sp.csr_matrix) -> MostPopular:
        matrix = binary_matrix(train)
        self.item_counts = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float32)
        return self

    def scorer(self) -> Scorer:
        if self.item_counts is None:
            raise RecsysError("MostPopular is not fitted yet; call fit(train) first.")
        counts = self.item_counts

        def score(users: np.ndarray) -> np.ndarray:
            return np.tile(counts, (len(users), 1))  # writable: top-k masks seen items in place

        return score


# --------------------------------------------------------------------------------------------
# EASE
# --------------------------------------------------------------------------------------------
def ease_memory_bytes(n_users: int, n_items: int, method: str, dtype=np.float64, tuning: bool = False) -> int:
    """Peak bytes EASE's dense matrices need.

    primal: the item x item Gram matrix, inverted in place (8 or 4 bytes per entry), plus the
    float32 weights B (in place when the inverse is float32); tuning keeps the Gram matrix, a
    working copy and the best weights. dual (fewer users than items): two users x users matrices
    and four items x users matrices, whatever the tuning.
    """
    if method == "dual":
        return int(8 * 2 * n_users**2 + 8 * 4 * n_items * n_users)
    width = np.dtype(dtype).itemsize
    per_entry = (
        (width + (4 if width == 8 else 0)) if not tuning else (2 * width + 4 + (4 if width == 8 else 0))
    )
    return int(per_entry * n_items**2)


def _spd_inverse_inplace(matrix: np.ndarray) -> np.ndarray:
    """Invert a symmetric positive definite C-ordered matrix in place (Cholesky: potrf + potri)."""
    potrf, potri = scipy.linalg.get_lapack_funcs(("potrf", "potri"), (matrix,))
    fortran = matrix.T  # same memory; symmetric, so it is the matrix itself in Fortran order
    factor, info = potrf(fortran, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        raise RecsysError(
            f"EASE: the regularised item x item matrix is not positive definite (LAPACK potrf info={info}); "
            "use a larger l2."
        )
    inverse, info = potri(factor, lower=0, overwrite_c=1)
    if info != 0:  # pragma: no cover - cannot happen after a successful factorisation
        raise RecsysError(f"EASE: inverting the item x item matrix failed (LAPACK potri info={info}).")
    if not np.shares_memory(inverse, matrix):  # pragma: no cover - LAPACK wrapper copied
        matrix[...] = inverse.T
    # The upper triangle of the Fortran view (= the lower triangle of `matrix`) holds the inverse:
    # mirror it into the other triangle block by block.
    n = matrix.shape[0]
    rows = max(1, _BLOCK_ENTRIES // max(n, 1))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        matrix[start:stop, stop:] = matrix[stop:, start:stop].T
        block = matrix[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]
    return matrix


def _gram(matrix: sp.csr_matrix, dtype) -> np.ndarray:
    """Dense XᵀX (items x items), built in row blocks so the sparse intermediate stays small."""
    n_items = matrix.shape[1]
    x = matrix.astype(dtype)
    xt = x.T.tocsr()
    gram = np.empty((n_items, n_items), dtype=dtype)
    rows = max(1, _BLOCK_ENTRIES // max(n_items, 1))
    for start in range(0, n_items, rows):
        stop = min(start + rows, n_items)
        (xt[start:stop] @ x).toarray(out=gram[start:stop])
    return gram


def _weights_from_inverse(inverse: np.ndarray) -> np.ndarray:
    """B = -P / diag(P) column-wise with a zero diagonal, as float32 (in place if P is float32)."""
    n = inverse.shape[0]
    scale = (-1.0 / np.diag(inverse)).astype(inverse.dtype)
    out = inverse if inverse.dtype == np.float32 else np.empty((n, n), dtype=np.float32)
    rows = max(1, _BLOCK_ENTRIES // max(n, 1))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        np.multiply(inverse[start:stop], scale[None, :], out=out[start:stop], casting="unsafe")
    np.fill_diagonal(out, 0.0)
    return out


class _PrimalSolver:
    """Primal EASE: the Gram matrix once, then one Cholesky inverse per l2."""

    def __init__(self, matrix: sp.csr_matrix, dtype):
        self.gram = _gram(matrix, dtype)
        self.diag = np.diag(self.gram).copy()

    def weights(self, l2: float, consume: bool = False) -> np.ndarray:
        work = self.gram if consume else self.gram.copy()
        work[np.diag_indices_from(work)] = self.diag + l2
        return _weights_from_inverse(_spd_inverse_inplace(work))


class _DualSolver:
    """Dual EASE for fewer users than items (Woodbury): P = (I - Xᵀ(XXᵀ + λI)⁻¹X) / λ.

    With XXᵀ = W diag(s) Wᵀ and Z = XᵀW, P = (I - Z diag(1/(s+λ)) Zᵀ) / λ, so every l2 costs only a
    users x users rescaling; B is never formed (scores are computed through Z).
    """

    def __init__(self, matrix: sp.csr_matrix):
        x = matrix.astype(np.float64)
        kernel = (x @ x.T).toarray()
        self.eigenvalues, eigenvectors = np.linalg.eigh(kernel)
        self.eigenvalues = np.maximum(self.eigenvalues, 0.0)
        z = np.asarray(x.T @ eigenvectors)  # items x users
        self.z_squared = z * z
        self.z32 = np.ascontiguousarray(z, dtype=np.float32)
        self.zt32 = np.ascontiguousarray(self.z32.T)

    def weights(self, l2: float) -> dict:
        coef = 1.0 / (self.eigenvalues + l2)
        diag_p = (1.0 - self.z_squared @ coef) / l2
        return {
            "l2": float(l2),
            "coef": coef.astype(np.float32),
            "inv_diag": (1.0 / diag_p).astype(np.float32),
        }


class EASE:
    """Embarrassingly Shallow Autoencoder (Steck 2019) on the binary user x item matrix.

    method 'primal' inverts the items x items matrix (memory grows with items²); 'dual' solves the
    same model through the users x users matrix (exactly equal; fast when users < items); 'auto'
    picks the smaller. Refuses with a RecsysError when the dense matrices would not fit in memory
    (`memory_limit_bytes`, default 80 % of the available memory).
    """

    def __init__(self, memory_limit_bytes: int | None = None, method: str = "auto"):
        if method not in ("auto", "primal", "dual"):
            raise ConfigError(f"EASE method must be 'auto', 'primal' or 'dual', got {method!r}.")
        self.memory_limit_bytes = memory_limit_bytes
        self.method = method
        self.l2: float | None = None
        self.method_used: str | None = None
        self._train: sp.csr_matrix | None = None
        self._weights: np.ndarray | None = None  # primal: B (items x items, float32)
        self._dual: _DualSolver | None = None
        self._dual_params: dict | None = None

    # -- set-up shared with tune_ease ---------------------------------------------------------
    def _plan(self, matrix: sp.csr_matrix, tuning: bool) -> tuple[str, type]:
        """Choose the method and precision that fit in memory, or refuse with the sizes."""
        n_users, n_items = matrix.shape
        method = self.method
        if method == "auto":
            method = "dual" if n_users < n_items else "primal"
        limit, source = _memory_limit(self.memory_limit_bytes)
        if method == "dual":
            need = ease_memory_bytes(n_users, n_items, "dual")
            if limit is not None and need > limit:
                raise RecsysError(
                    f"EASE (dual form) on {n_users:,} users x {n_items:,} items needs about "
                    f"{format_bytes(need)}, more than the memory limit of {format_bytes(limit)} ({source}). "
                    "Use fewer users or IALS."
                )
            return method, np.float64
        need64 = ease_memory_bytes(n_users, n_items, "primal", np.float64, tuning)
        need32 = ease_memory_bytes(n_users, n_items, "primal", np.float32, tuning)
        if limit is None or need64 <= limit:
            return method, np.float64
        if need32 <= limit:
            say(
                f"  EASE: {n_items:,} items: computing the inverse in float32 ({format_bytes(need32)}) "
                f"because float64 would need {format_bytes(need64)}, over the limit of {format_bytes(limit)}."
            )
            return method, np.float32
        raise RecsysError(
            f"EASE on a catalogue of {n_items:,} items needs about {format_bytes(need32)} even in float32 "
            f"({format_bytes(need64)} in float64) for its items x items matrices, more than the memory "
            f"limit of {format_bytes(limit)} ({source}). Reduce the catalogue (raise "
            "min_interactions_per_item) or use IALS, whose memory grows linearly with the number of items."
        )

    def _solver(self, matrix: sp.csr_matrix, tuning: bool = False):
        method, dtype = self._plan(matrix, tuning)
        self.method_used = method
        return _DualSolver(matrix) if method == "dual" else _PrimalSolver(matrix, dtype)

    def _set(self, matrix: sp.csr_matrix, solver, l2: float, weights) -> EASE:
        self._train, self.l2 = matrix, float(l2)
        if isinstance(solver, _DualSolver):
            self._dual, self._dual_params, self._weights = solver, weights, None
        else:
            self._dual, self._dual_params, self._weights = None, None, weights
        return self

    # -- public -------------------------------------------------------------------------------
    def fit(self, train: sp.csr_matrix, l2: float = 500.0) -> EASE:
        """Fit on a users x items matrix (any non-zero counts as an interaction) with L2 penalty l2 > 0."""
        l2 = _check_l2(l2)
        matrix = binary_matrix(train)
        solver = self._solver(matrix)
        weights = solver.weights(l2) if isinstance(solver, _DualSolver) else solver.weights(l2, consume=True)
        return self._set(matrix, solver, l2, weights)

    def scorer(self, history: sp.csr_matrix | None = None) -> Scorer:
        """Scores h_u B, h_u the users' rows of `history`: by default the binary training matrix given
        to fit (plain EASE); a weighted matrix of the same shape weighs each history item
        (`RecencyWeightedEASE` passes recency weights)."""
        if self._train is None:
            raise RecsysError("EASE is not fitted yet; call fit(train, l2=...) first.")
        if history is None:
            rows_of = self._train
        else:
            if not sp.issparse(history) or history.shape != self._train.shape:
                raise DataError(
                    "EASE history: expected a scipy.sparse matrix of the training shape "
                    f"{self._train.shape}, got {getattr(history, 'shape', type(history).__name__)}."
                )
            rows_of = sp.csr_matrix(history, dtype=np.float32)
        if self._weights is not None:
            weights = self._weights

            def score(users: np.ndarray) -> np.ndarray:
                return np.asarray(rows_of[users] @ weights, dtype=np.float32)

            return score
        # _set stores either the primal weights or the dual solver together with its parameters.
        assert self._dual is not None and self._dual_params is not None
        z, zt, p = self._dual.z32, self._dual.zt32, self._dual_params

        def score_dual(users: np.ndarray) -> np.ndarray:
            rows = rows_of[users]
            dense_rows = rows.toarray()
            # h_u P = (h_u - (h_u Z) diag(coef) Zᵀ) / λ ;  h_u B = h_u - (h_u P) diag(1/diag P)
            scores = ((rows @ z) * p["coef"]) @ zt
            np.subtract(dense_rows, scores, out=scores)  # λ h_u P
            scores *= p["inv_diag"] / np.float32(p["l2"])
            np.subtract(dense_rows, scores, out=scores)
            return scores

        return score_dual

    def weights(self) -> np.ndarray:
        """The items x items weight matrix B (float32, zero diagonal); formed on demand for 'dual'."""
        if self._train is None:
            raise RecsysError("EASE is not fitted yet; call fit(train, l2=...) first.")
        if self._weights is not None:
            return self._weights
        n_items = self._train.shape[1]
        need = ease_memory_bytes(self._train.shape[0], n_items, "primal", np.float64)
        limit, source = _memory_limit(self.memory_limit_bytes)
        if limit is not None and need > limit:
            raise RecsysError(
                f"forming EASE's {n_items:,} x {n_items:,} weight matrix needs about {format_bytes(need)}, "
                f"more than the memory limit of {format_bytes(limit)} ({source}); "
                "score through scorer() instead."
            )
        assert self._dual is not None and self._dual_params is not None  # as in scorer()
        z, p = self._dual.z32.astype(np.float64), self._dual_params
        inverse = (np.eye(z.shape[0]) - (z * p["coef"]) @ z.T) / p["l2"]
        return _weights_from_inverse(inverse)


def _check_l2(l2) -> float:
    try:
        value = float(l2)
    except (TypeError, ValueError):
        raise ConfigError(f"EASE l2 must be a positive number, got {l2!r}.") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"EASE l2 must be a positive number, got {l2!r}.")
    return value


# --------------------------------------------------------------------------------------------
# recency-weighted EASE
# --------------------------------------------------------------------------------------------
def _check_strength(strength) -> float:
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise ConfigError(f"recency strength s must be a number >= 0, got {strength!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"recency strength s must be a number >= 0, got {strength!r}.")
    return value


def _require_timestamps(interactions: Interactions) -> None:
    if not isinstance(interactions, Interactions):
        raise DataError(
            "recency-weighted EASE fits on Interactions (with timestamps), "
            f"got {type(interactions).__name__}."
        )
    if interactions.timestamps is None:
        raise DataError("recency-weighted EASE needs the interactions' timestamps; these have none.")
    if len(interactions) == 0:
        raise DataError("recency-weighted EASE: the training interactions are empty.")


def recency_history(interactions: Interactions, strength: float) -> sp.csr_matrix:
    """users x items float32 CSR of recency weights exp(s (p - 1)), p each interaction's time-rank
    percentile in its user's history (`recency_percentiles`); a pair that occurs more than once
    keeps its largest (newest) weight, so s = 0 gives exactly the binary matrix."""
    _require_timestamps(interactions)
    strength = _check_strength(strength)
    weights = recency_weights(interactions, strength).astype(np.float32)
    keys = interactions.users.astype(np.int64) * np.int64(interactions.n_items) + interactions.items
    order = np.lexsort((weights, keys))  # by pair, the largest weight last
    is_last = np.append(keys[order][1:] != keys[order][:-1], True)
    kept = order[is_last]
    matrix = sp.csr_matrix(
        (weights[kept], (interactions.users[kept], interactions.items[kept])),
        shape=(interactions.n_users, interactions.n_items),
        dtype=np.float32,
    )
    matrix.sort_indices()
    return matrix


class RecencyWeightedEASE:
    """EASE whose user representation weighs each history item by its recency.

    B is plain EASE's item x item matrix on the binary training matrix (L2 penalty l2); a user's
    scores are h_u B with h_u their recency weights exp(s (p - 1)) (`recency_history`). s = 0 is
    plain EASE; a larger s lets the latest items decide more of what comes next, which helps when
    tastes drift and the test items are each user's latest.
    """

    def __init__(self, memory_limit_bytes: int | None = None, method: str = "auto"):
        self.ease = EASE(memory_limit_bytes, method)
        self.strength: float | None = None
        self._history: sp.csr_matrix | None = None

    @property
    def l2(self) -> float | None:
        return self.ease.l2

    def fit(self, train: Interactions, l2: float = 500.0, strength: float = 2.0) -> RecencyWeightedEASE:
        """Fit B on the binary matrix of `train` and weigh its histories with recency strength s."""
        _require_timestamps(train)
        history = recency_history(train, strength)
        self.ease.fit(train.user_item_matrix("binary"), l2=l2)
        return self._set(history, strength)

    def _set(self, history: sp.csr_matrix, strength: float) -> RecencyWeightedEASE:
        self._history, self.strength = history, _check_strength(strength)
        return self

    def scorer(self) -> Scorer:
        """Scores (X ∘ W)_u B for the users' training histories."""
        if self._history is None:
            raise RecsysError(
                "RecencyWeightedEASE is not fitted yet; call fit(train, l2=..., strength=...) first."
            )
        return self.ease.scorer(self._history)


# --------------------------------------------------------------------------------------------
# iALS through `implicit`
# --------------------------------------------------------------------------------------------
def _import_implicit_als():
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
        AlternatingLeastSquares = _import_implicit_als()
        from threadpoolctl import threadpool_limits

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


# --------------------------------------------------------------------------------------------
# tuning on a validation holdout
# --------------------------------------------------------------------------------------------
def _best(table: list[dict], metric: str) -> int:
    return int(np.argmax([row[metric] for row in table]))


def tune_ease(
    train: sp.csr_matrix,
    validation: sp.csr_matrix,
    ks: Iterable[int] = (10, 20),
    grid: Iterable[float] = DEFAULT_EASE_GRID,
    metric: str = "NDCG@20",
    memory_limit_bytes: int | None = None,
    method: str = "auto",
) -> tuple[EASE, float, list[dict]]:
    """Pick EASE's l2 by `metric` on `validation` (held out from `train`); the factorisation is
    shared across the grid. Returns (model fitted on `train` with the best l2, best l2, one row per trial)."""
    metric, ks = _metric_key(metric, ks)
    grid = [_check_l2(v) for v in grid]
    if not grid:
        raise ConfigError("tune_ease needs at least one l2 value in grid.")
    matrix = binary_matrix(train)
    held = binary_matrix(validation, "validation matrix")
    model = EASE(memory_limit_bytes, method)
    started = time.perf_counter()
    solver = model._solver(matrix, tuning=True)
    setup_seconds = time.perf_counter() - started
    say(f"  EASE ({model.method_used}) set-up for {matrix.shape[1]:,} items: {setup_seconds:.1f} s")
    table, best_weights, best_score = [], None, -np.inf
    for l2 in grid:
        started = time.perf_counter()
        weights = solver.weights(l2)
        candidate = EASE(memory_limit_bytes, method)._set(matrix, solver, l2, weights)
        metrics = evaluate(candidate.scorer(), matrix, held, ks)
        seconds = time.perf_counter() - started
        table.append({"l2": l2, **metrics, "seconds": seconds})
        _report_trial("EASE", {"l2": l2}, metrics, metric, seconds)
        if metrics[metric] > best_score:
            best_weights, best_score = weights, metrics[metric]
        del weights, candidate
    best_l2 = table[_best(table, metric)]["l2"]
    return model._set(matrix, solver, best_l2, best_weights), best_l2, table


def tune_recency_ease(
    train: Interactions,
    validation: sp.csr_matrix,
    ks: Iterable[int] = (10, 20),
    l2_grid: Iterable[float] = DEFAULT_EASE_GRID,
    strength_grid: Iterable[float] = DEFAULT_RECENCY_GRID,
    metric: str = "NDCG@20",
    memory_limit_bytes: int | None = None,
    method: str = "auto",
) -> tuple[RecencyWeightedEASE, dict, list[dict]]:
    """Pick recency-weighted EASE's l2 and recency strength s together (every pair of the grids) by
    `metric` on `validation` (held out from `train`, which must have timestamps). The factorisation
    is shared across the l2 grid and each l2's B across the s grid, so a trial costs little more
    than an evaluation. Returns (model fitted on `train` with the best pair, {"l2", "strength"},
    one row per trial; a trial's seconds include computing B for the first s of its l2)."""
    metric, ks = _metric_key(metric, ks)
    l2_grid = [_check_l2(v) for v in l2_grid]
    strength_grid = [_check_strength(v) for v in strength_grid]
    if not l2_grid or not strength_grid:
        raise ConfigError("tune_recency_ease needs at least one l2 and one recency strength in the grids.")
    _require_timestamps(train)
    matrix = binary_matrix(train.user_item_matrix("binary"))
    held = binary_matrix(validation, "validation matrix")
    histories = {strength: recency_history(train, strength) for strength in strength_grid}
    model = EASE(memory_limit_bytes, method)
    started = time.perf_counter()
    solver = model._solver(matrix, tuning=True)
    say(
        f"  EASE, recency-weighted ({model.method_used}) set-up for {matrix.shape[1]:,} items: "
        f"{time.perf_counter() - started:.1f} s"
    )
    table, best_weights, best_score = [], None, -np.inf
    for l2 in l2_grid:
        started = time.perf_counter()
        weights = solver.weights(l2)
        candidate = EASE(memory_limit_bytes, method)._set(matrix, solver, l2, weights)
        for strength in strength_grid:
            metrics = evaluate(candidate.scorer(histories[strength]), matrix, held, ks)
            seconds = time.perf_counter() - started
            table.append({"l2": l2, "strength": strength, **metrics, "seconds": seconds})
            _report_trial("EASE, recency-weighted", {"l2": l2, "s": strength}, metrics, metric, seconds)
            if metrics[metric] > best_score:
                best_weights, best_score = weights, metrics[metric]
            started = time.perf_counter()
        del weights, candidate
    best = table[_best(table, metric)]
    model._set(matrix, solver, best["l2"], best_weights)
    fitted = RecencyWeightedEASE(memory_limit_bytes, method)
    fitted.ease = model
    fitted._set(histories[best["strength"]], best["strength"])
    return fitted, {"l2": best["l2"], "strength": best["strength"]}, table


def tune_ials(
    train: sp.csr_matrix,
    validation: sp.csr_matrix,
    ks: Iterable[int] = (10, 20),
    grid: dict | None = None,
    metric: str = "NDCG@20",
    iterations: int = 15,
    seed: int = 0,
    confidence: str = "binary",
) -> tuple[IALS, dict, list[dict]]:
    """Pick iALS factors / regularization / alpha (all combinations of `grid`) by `metric` on
    `validation`. `train` holds scores when `confidence` is 'linear' or 'log' (`confidence_matrix`);
    rankings exclude and evaluation counts its non-zero pairs. Returns (best model fitted on
    `train`, its parameters, one row per trial)."""
    metric, ks = _metric_key(metric, ks)
    grid = dict(DEFAULT_IALS_GRID if grid is None else grid)
    unknown = set(grid) - {"factors", "regularization", "alpha", "iterations"}
    if unknown or not all(grid.values()):
        raise ConfigError(
            "tune_ials grid must map 'factors', 'regularization', 'alpha' (and optionally 'iterations') "
            f"to non-empty lists; got {sorted(grid)}."
        )
    _import_implicit_als()  # fail before any work when implicit is missing
    confidence_matrix(train, confidence, 1.0)  # refuse unusable scores before any trial
    scores = checked_matrix(train)  # what each trial fits (its confidences come from these values)
    matrix = binary_matrix(train)
    held = binary_matrix(validation, "validation matrix")
    names = list(grid)
    combos = list(itertools.product(*(grid[n] for n in names)))
    say(f"  iALS: {plural(len(combos), 'trial')} on {matrix.shape[0]:,} users x {matrix.shape[1]:,} items")
    table, best_model, best_score = [], None, -np.inf
    for combo in combos:
        params = {"iterations": iterations, **dict(zip(names, combo))}
        started = time.perf_counter()
        model = IALS(seed=seed, confidence=confidence, **params).fit(scores)
        metrics = evaluate(model.scorer(), matrix, held, ks)
        seconds = time.perf_counter() - started
        table.append({**params, **metrics, "seconds": seconds})
        _report_trial("iALS", params, metrics, metric, seconds)
        if metrics[metric] > best_score:
            best_model, best_score = model, metrics[metric]
    # combos is never empty (an empty grid still makes one trial) and metrics are finite, so the
    # first trial already beats -inf.
    assert best_model is not None
    best = table[_best(table, metric)]
    return best_model, {k: best[k] for k in ["iterations", *names]}, table
