"""Display names of items and users: a column of the item (or user) feature table — a title, a
name, a URL — named by `item_name_column` (`user_name_column`), shown beside the ids in the outputs
and the report, and never a model feature.

`display_names(table, ids, column)` gives one name per id, in the ids' order (null where the table
has no row, or no name, for an id): a join by id, so a bundle's vocabulary and the run's feature
table need not be in the same order.

Example:
    >>> import polars as pl
    >>> table = pl.DataFrame({"id": [7, 3], "title": ["Heat (1995)", "Up (2009)"], "year": [1995, 2009]})
    >>> display_names(table, pl.Series([3, 5, 7]), "title").to_list()
    ['Up (2009)', None, 'Heat (1995)']
"""

from __future__ import annotations

import polars as pl

from recsys.errors import ConfigError

__all__ = ["check_name_column", "display_names"]


def check_name_column(
    table: pl.DataFrame | None, column: str | None, source: str, side: str = "item"
) -> None:
    """A ConfigError naming the setting when `item_name_column` (`user_name_column` for `side`
    "user") is set but the feature table is missing or lacks that column.

    Args:
        table: The feature table (an `id` column and the features), or None.
        column: The configured name column, or None.
        source: Where the table came from, for the message.
        side: "item" or "user".

    Returns:
        None.

    Example:
        >>> check_name_column(None, None, "items.csv")  # no name column: nothing to check
    """
    if column is None:
        return
    if table is None:
        raise ConfigError(
            f"config '{side}_name_column' is {column!r}, but there is no {side} feature table to take "
            f"names from; set {side}_features_fpath (or return {side}_data from get_raw_data())."
        )
    if column not in table.columns or column == "id":
        others = ", ".join(repr(c) for c in table.columns if c != "id")
        raise ConfigError(
            f"config '{side}_name_column' is {column!r}, which is not a column of the {source} "
            f"(columns: {others}); set it to the column holding each {side}'s name, or None."
        )


def display_names(table: pl.DataFrame | None, ids: pl.Series, column: str | None) -> pl.Series | None:
    """Each id's name, in the order of `ids` (None without `column`).

    Args:
        table: The feature table (its `id` column and `column`).
        ids: The ids to name (e.g. a vocabulary's `ids`, in index order).
        column: The name column (`item_name_column` or `user_name_column`), or None.

    Returns:
        A text Series as long as `ids` (null where unnamed), or None.

    Example:
        >>> table = pl.DataFrame({"id": ["a", "b"], "name": ["Ann", "Bo"]})
        >>> display_names(table, pl.Series(["b", "c"]), "name").to_list()
        ['Bo', None]
    """
    if column is None or table is None:
        return None
    named_ids = table["id"]
    if named_ids.dtype != ids.dtype:  # e.g. Categorical text ids, or integers read as text
        named_ids = named_ids.cast(pl.String).cast(ids.dtype, strict=False)
    named = pl.DataFrame({"id": named_ids, "name": table[column].cast(pl.String)})
    order = pl.DataFrame({"id": ids})
    return order.join(named.unique("id", keep="first"), on="id", how="left", maintain_order="left")["name"]
