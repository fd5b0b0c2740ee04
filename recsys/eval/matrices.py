"""Checks and sizes shared by the baselines: a users x items matrix validated and copied as the
models want it (`checked_matrix`, `binary_matrix`), and the memory the machine has for EASE's dense
matrices (`memory_limit`)."""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from recsys.errors import DataError

__all__ = [
    "MEMORY_FRACTION",
    "available_memory_bytes",
    "binary_matrix",
    "checked_matrix",
    "format_bytes",
    "memory_limit",
]

MEMORY_FRACTION = 0.8  # share of the available memory EASE may plan to use


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


def memory_limit(configured: int | None) -> tuple[int | None, str]:
    if configured is not None:
        return int(configured), "the configured memory_limit_bytes"
    available = available_memory_bytes()
    if available is None:
        return None, "unknown"
    return int(
        available * MEMORY_FRACTION
    ), f"{MEMORY_FRACTION:.0%} of the {format_bytes(available)} available"
