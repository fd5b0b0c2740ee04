"""The evaluation layer: ranking metrics (`metrics`), full-catalogue evaluation of any scorer
(`evaluation`), the validation run (`validation`), the baselines (`popular`, `ease`,
`recency_ease`, `ials`, one protocol in `baselines`) and their tuners (`tuners`), the model
comparison (`compare`) and the search over settings (`tuning`). Imports ranking, model, data.
"""

__all__: list[str] = []
