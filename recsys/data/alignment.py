"""Feature tables aligned with the id indices: row i of the result holds the features of index i
(nulls for an id without a feature row), and the rows that match no id are counted and reported.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recsys.data.vocabulary import Vocabulary
from recsys.errors import DataError, quoted
from recsys.log import plural, say

__all__ = ["align_features"]


def _reject_colliding_ids(original: pl.Series, ids: pl.Series, kind: str, source: str) -> None:
    """Two feature rows whose ids become the same interaction id once cast to its type (e.g. '1' and
    '01' against integer ids) would give one id two rows: a DataError naming both ids and rows."""
    duplicated = ids.is_duplicated() & ids.is_not_null()
    if not duplicated.any():
        return
    first = int(np.flatnonzero(duplicated.to_numpy())[0])
    second = int(np.flatnonzero((ids == ids[first]).fill_null(False).to_numpy())[1])
    raise DataError(
        f"{source}: ids {quoted(original[first])} (row {first + 1}) and {quoted(original[second])} "
        f"(row {second + 1}) both match {kind} id {quoted(ids[first])} of the interactions "
        f"({duplicated.sum():,} such rows); expected one feature row per {kind}."
    )


def align_features(
    features: pl.DataFrame | None,
    vocab: Vocabulary,
    kind: str,
    all_ids: pl.Series,
    source: str | None = None,
) -> tuple[pl.DataFrame | None, dict]:
    """Features ordered like the vocabulary (nulls for ids without a row); report unknown/missing ids.

    Feature ids are cast to the interaction ids' type; ids that then collide are an error."""
    if features is None:
        return None, {}
    source = source or f"{kind} features"
    ids = features["id"]
    if isinstance(ids.dtype, pl.Categorical):  # text ids, compared as text
        ids = ids.cast(pl.String)
    if ids.dtype != vocab.ids.dtype:
        ids = ids.cast(vocab.ids.dtype, strict=False)
        _reject_colliding_ids(features["id"], ids, kind, source)
    index = vocab.indices_of(ids)
    matched = index >= 0
    if not matched.any():
        raise DataError(
            f"{source}: none of the {len(index):,} ids match a {kind} id of the interactions "
            f"(features ids look like {quoted(features['id'].head(3).to_list())}, "
            f"interaction ids like {quoted(vocab.ids.head(3).to_list())}). "
            "Check the id column of the feature table."
        )
    in_raw = (
        ids.is_in(all_ids.implode()).fill_null(False).to_numpy()
        if all_ids.dtype == ids.dtype
        else np.zeros(len(ids), bool)
    )
    unknown = int((~matched & ~in_raw).sum())  # ids never seen in the interactions
    filtered = int((~matched & in_raw).sum())  # ids of users/items removed by the filter
    aligned = (
        pl.DataFrame({"id": vocab.ids})
        .join(features.with_columns(ids.alias("id")), on="id", how="left", maintain_order="left")
        .drop("id")
    )
    missing = len(vocab) - int(matched.sum())
    report = {
        f"{kind}_feature_rows_unknown_id": unknown,
        f"{kind}_feature_rows_filtered_id": filtered,
        f"{kind}s_without_features": missing,
    }
    if unknown:
        say(f"  {kind} features: ignored {plural(unknown, 'row')} whose id never occurs in the interactions.")
    if filtered:
        say(
            f"  {kind} features: ignored {plural(filtered, 'row')} of {kind}s "
            "removed by the minimum-interaction filter."
        )
    if missing:
        say(
            f"  {kind} features: {plural(missing, kind)} have no feature row; "
            "their features are treated as missing."
        )
    return aligned, report
