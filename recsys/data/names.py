"""Display names of items: a column of the item feature table (a title, a name, a URL) named by
`item_name_column`, shown beside the ids in the outputs and the report, and never a model feature.

`item_names(experiment_items, vocab, column)` gives one name per item of a vocabulary, in its
order (null where the table has no row, or no name, for an item): a join by id, so a bundle's
vocabulary and the run's feature table need not be in the same order.

Example:
    >>> import polars as pl
    >>> from recsys.data.vocabulary import Vocabulary
    >>> table = pl.DataFrame({"id": [7, 3], "title": ["Heat (1995)", "Up (2009)"], "year": [1995, 2009]})
    >>> item_names(table, Vocabulary(pl.Series([3, 5, 7])), "title").to_list()
    ['Up (2009)', None, 'Heat (1995)']
"""

from __future__ import annotations

import polars as pl

from recsys.data.vocabulary import Vocabulary
from recsys.errors import ConfigError

__all__ = ["check_name_column", "item_names"]


def check_name_column(table: pl.DataFrame | None, column: str | None, source: str) -> None:
    """A ConfigError naming the setting when `item_name_column` is set but the item feature table
    is missing or lacks that column.

    Args:
        table: The item feature table (an `id` column and the features), or None.
        column: The configured `item_name_column`, or None.
        source: Where the table came from, for the message.

    Returns:
        None.
    """
    if column is None:
        return
    if table is None:
        raise ConfigError(
            f"config 'item_name_column' is {column!r}, but there is no item feature table to take names "
            "from; set item_features_fpath (or return item_data from get_raw_data())."
        )
    if column not in table.columns or column == "id":
        others = ", ".join(repr(c) for c in table.columns if c != "id")
        raise ConfigError(
            f"config 'item_name_column' is {column!r}, which is not a column of the {source} "
            f"(columns: {others}); set it to the column holding each item's name, or None."
        )


def item_names(table: pl.DataFrame | None, vocab: Vocabulary, column: str | None) -> pl.Series | None:
    """Each item's name, in the vocabulary's order (None without `column`).

    Args:
        table: The item feature table (its `id` column and `column`).
        vocab: The items, in index order.
        column: The name column (`item_name_column`), or None.

    Returns:
        A text Series of len(vocab) (null where unnamed), or None.
    """
    if column is None or table is None:
        return None
    ids = table["id"]
    if ids.dtype != vocab.ids.dtype:  # e.g. Categorical text ids, or integers read as text
        ids = ids.cast(pl.String).cast(vocab.ids.dtype, strict=False)
    named = pl.DataFrame({"id": ids, "name": table[column].cast(pl.String)})
    order = pl.DataFrame({"id": vocab.ids})
    return order.join(named.unique("id", keep="first"), on="id", how="left", maintain_order="left")["name"]
