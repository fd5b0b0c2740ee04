"""Your data hook: edit `get_raw_data()` if your file needs custom parsing.

Return None (the default) to let the engine read `raw_data_fpath` from config.py by its column
names (or use the built-in demo dataset when no file is configured). Otherwise return a tuple
`(interaction_data, user_data, item_data)`:

- interaction_data: a list of dicts with keys "user", "item" and optionally "score" and
  "timestamp" (or a pandas/polars DataFrame with those columns);
- user_data: {user_id: {feature_name: value, ...}} or None;
- item_data: {item_id: {feature_name: value, ...}} or None.

Example, for a file of lines "user_id::item_id::rating" and a genre table:

    import polars as pl

    def get_raw_data():
        ratings = pl.read_csv("ratings.dat", separator=":", has_header=False)  # or parse by hand
        interactions = ratings.select(
            pl.col("column_1").alias("user"),
            pl.col("column_3").alias("item"),
            pl.col("column_5").alias("score"),
        )
        movies = pl.read_csv("movies.csv")
        items = {row["id"]: {"genres": row["genres"]} for row in movies.iter_rows(named=True)}
        return interactions, None, items

For MovieLens files see `recsys.data.movielens.load_movielens` and the README's worked example.
"""


def get_raw_data():
    return None
