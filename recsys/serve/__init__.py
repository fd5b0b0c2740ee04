"""The serving layer: the Python API (`recommender.Recommender`, its answers in `answers`, its
indexes and queries in item indices in `item_ranking`), the output
files (`outputs`) and the HTTP service (`schemas`, `batcher`, `batches`, `app`, `server`).
Imports eval (`Recommender.fit` runs the validation run), ranking, model, data.
"""

__all__: list[str] = []
