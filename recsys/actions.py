"""The actions a run can make, by name: the seed's four, run in order when none is named, and two
more. Their work is `recsys.pipeline`'s; the names live here so that the command line can check
and list them without loading the engine (Keras).

Example:
    >>> DEFAULT_SEQUENCE[0], ACTION_NAMES[-1]
    ('exploratory_data_analysis', 'compare_models')
"""

from __future__ import annotations

__all__ = ["ACTION_NAMES", "DEFAULT_SEQUENCE"]

# The seed's actions, in the order `python main.py` runs them when none is named.
DEFAULT_SEQUENCE = (
    "exploratory_data_analysis",
    "train_validation_model",
    "train_production_model",
    "compute_predictions",
)
ACTION_NAMES = (*DEFAULT_SEQUENCE, "similar_items", "compare_models")
