"""The ranking metrics' names: one table, from which their pattern, their order and the error text
for an unknown name are all derived.

Training, validation, the command line, the config (`monitor_metric`), compare and the report
name metrics alike: `NDCG@20` is the family `NDCG` at the cut-off K = 20; `MRR` takes no K. The
values are computed by `recsys.eval.metrics.metrics_from_topk`, whose docstring defines each one.

Example:
    >>> metric_names([10, 20])[:3]
    ['Recall@10', 'NDCG@10', 'HitRate@10']
    >>> parse_metric_name("NDCG@20")
    ('NDCG', 20)
    >>> format_metrics({"Recall@10": 0.25, "users": 3})
    'Recall@10 0.2500'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recsys.errors import ConfigError

__all__ = ["METRICS", "Metric", "format_metrics", "metric_names", "parse_metric_name"]


@dataclass(frozen=True)
class Metric:
    """One metric family: its name, whether it takes a cut-off K, and whether it is averaged over
    users (per-user) or measured on the whole catalogue (Coverage)."""

    family: str
    at_k: bool = True
    per_user: bool = True


# In report order: per-user metrics at each K, then MRR, then the catalogue's coverage at each K.
METRICS = (
    Metric("Recall"),
    Metric("NDCG"),
    Metric("HitRate"),
    Metric("Precision"),
    Metric("MAP"),
    Metric("MRR", at_k=False),
    Metric("Coverage", per_user=False),
)
_AT_K = [m.family for m in METRICS if m.at_k]
_WITHOUT_K = [m.family for m in METRICS if not m.at_k]
PATTERN = re.compile(rf"^({'|'.join(_AT_K)})@([0-9]+)$|^({'|'.join(_WITHOUT_K)})$")
KNOWN = ", ".join([f"{family}@K" for family in _AT_K] + _WITHOUT_K)


def metric_names(ks: list[int]) -> list[str]:
    """Every metric reported for the cut-offs `ks`, in report order.

    Args:
        ks: The cut-offs K, e.g. `[10, 20]`.

    Returns:
        Names such as `"Recall@10"`, per-user metrics at each K first, then `"MRR"`, then
        `"Coverage@K"` for each K.
    """
    per_user = [f"{m.family}@{k}" for k in ks for m in METRICS if m.at_k and m.per_user]
    without_k = [m.family for m in METRICS if not m.at_k]
    catalogue = [f"{m.family}@{k}" for k in ks for m in METRICS if m.at_k and not m.per_user]
    return per_user + without_k + catalogue


def parse_metric_name(name: str) -> tuple[str, int | None]:
    """The family and cut-off of a metric name.

    Args:
        name: A metric name, e.g. `"NDCG@20"` or `"MRR"`.

    Returns:
        `(family, K)`, K None for a metric without a cut-off.

    Raises:
        ConfigError: the name is not one of the table's.
    """
    match = PATTERN.match(name) if isinstance(name, str) else None
    if not match:
        raise ConfigError(f"unknown metric {name!r}; expected one of {KNOWN}.")
    if match.group(3):
        return match.group(3), None
    return match.group(1), int(match.group(2))


def format_metrics(metrics: dict[str, float], names: list[str] | None = None) -> str:
    """Metrics on one line, e.g. `"Recall@10 0.2500  NDCG@10 0.1800"`.

    Args:
        metrics: Metric name -> value (a `"users"` count is left out).
        names: The metrics to show, in order; default: every one of `metrics`.

    Returns:
        The line; names missing from `metrics` are skipped.
    """
    names = names or [n for n in metrics if n != "users"]
    return "  ".join(f"{n} {metrics[n]:.4f}" for n in names if n in metrics)
