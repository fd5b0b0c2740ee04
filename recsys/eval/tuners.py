"""Each baseline's hyper-parameters chosen on a validation holdout (`tune_ease`,
`tune_recency_ease`, `tune_ials`): every trial is evaluated by the same code as the two-tower
model and reported, and the model of the best trial is returned fitted."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from recsys.data.interactions import Interactions
from recsys.errors import ConfigError
from recsys.eval.ease import EASE, check_l2
from recsys.eval.evaluation import evaluate
from recsys.eval.ials import IALS, confidence_matrix, import_implicit_als
from recsys.eval.matrices import binary_matrix, checked_matrix
from recsys.eval.recency_ease import RecencyWeightedEASE, check_strength, recency_history, require_timestamps
from recsys.log import plural, say
from recsys.metric_names import parse_metric_name

__all__ = [
    "DEFAULT_EASE_GRID",
    "DEFAULT_IALS_GRID",
    "DEFAULT_RECENCY_GRID",
    "tune_ease",
    "tune_ials",
    "tune_recency_ease",
]

DEFAULT_EASE_GRID = (50.0, 100.0, 200.0, 300.0, 500.0, 800.0, 1500.0)
# Recency strengths s tried with each l2 by tune_recency_ease: 0 (plain EASE) up to a history whose
# oldest item weighs exp(-8) of the newest.
DEFAULT_RECENCY_GRID = (0.0, 1.0, 2.0, 4.0, 8.0)
# implicit does not scale the L2 penalty by the number of interactions, so useful values are large;
# the best regularization grows with alpha (ml-latest-small: (10, 1), (30, 5), (100, 20) are all good).
DEFAULT_IALS_GRID = {"factors": [128, 256], "regularization": [10.0, 30.0, 100.0], "alpha": [1.0, 5.0, 20.0]}


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
    grid = [check_l2(v) for v in grid]
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
    l2_grid = [check_l2(v) for v in l2_grid]
    strength_grid = [check_strength(v) for v in strength_grid]
    if not l2_grid or not strength_grid:
        raise ConfigError("tune_recency_ease needs at least one l2 and one recency strength in the grids.")
    require_timestamps(train)
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
    import_implicit_als()  # fail before any work when implicit is missing
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
