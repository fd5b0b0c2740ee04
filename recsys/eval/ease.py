"""`EASE` (Steck 2019): a closed-form item x item linear model, B = I - P diag(1/diag P) with
P = (XᵀX + λI)⁻¹ on the binary user x item matrix X; scores = X_u B. Strong on small catalogues.

Solved in the primal (the items x items Gram matrix, inverted in place by Cholesky) or, with fewer
users than items, in the dual (through the users x users matrix, exactly equal); refused with the
sizes when the dense matrices would not fit in memory."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recsys.errors import ConfigError, DataError, RecsysError
from recsys.eval.evaluation import Scorer
from recsys.eval.matrices import binary_matrix, format_bytes, memory_limit
from recsys.log import say

__all__ = ["EASE", "check_l2", "ease_memory_bytes"]

_BLOCK_ENTRIES = 1 << 23  # entries of a dense working block (64 MiB in float64)


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
        limit, source = memory_limit(self.memory_limit_bytes)
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
        l2 = check_l2(l2)
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
        limit, source = memory_limit(self.memory_limit_bytes)
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


def check_l2(l2) -> float:
    try:
        value = float(l2)
    except (TypeError, ValueError):
        raise ConfigError(f"EASE l2 must be a positive number, got {l2!r}.") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"EASE l2 must be a positive number, got {l2!r}.")
    return value
