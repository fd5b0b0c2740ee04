"""The model layer: the two towers (`towers`), the retrieval tasks and their losses (`tasks`), the
training batches (`sampling`), training (`training`, `callbacks`, the row-sparse step in
`row_sparse`, sharding in `distribution`) and the saved model bundle (`bundle`, `manifest`).
Imports the data layer and the foundation.
"""

__all__: list[str] = []
