"""The data layer: interactions and features from files, the `get_raw_data()` hook or the built-in
demo, checked (`loading`, `hook`, `tables`, `ids`, `values`), prepared into contiguous indices
(`preparation`, `vocabulary`, `interactions`), split (`splitting`), weighted (`weighting`) and
encoded (`features`); `experiment` holds one run's data, prepared once. Imports only the
foundation (`recsys.config`, `recsys.errors`, `recsys.files`, `recsys.log`).
"""

__all__: list[str] = []
