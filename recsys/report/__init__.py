"""The report layer: the EDA (`eda`), figures (`figures`) and the run's HTML page (`page`, built from
`sections`, `samples` and the helpers of `html`). Reads what the run wrote; imports data and the
foundation.
"""

__all__: list[str] = []
