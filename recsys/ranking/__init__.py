"""The ranking layer: every top-k list of the project, through one `search(queries, k, exclude)`:
exact (`exact`), approximate (`ivf`), chosen by `index.make_index`; selection, exclusion, padding
and tie order defined once (`selection`); similar items (`similarity`). Pure numpy and
scipy.sparse: it imports only `recsys.errors`.
"""

__all__: list[str] = []
