"""The HTTP service's request and response shapes: validated by pydantic on arrival, and the
schemas of the OpenAPI page (`/docs`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ERROR_CHARS",
    "MAX_ID_CHARS",
    "MAX_IDS",
    "MAX_N",
    "ErrorBody",
    "HistoryRecommendations",
    "Id",
    "RecommendRequest",
    "ScoredItem",
    "SimilarItems",
    "UserRecommendations",
]

MAX_N = 1000  # largest `n` a request may ask for
MAX_IDS = 10_000  # longest history or exclude list a request may send
MAX_BODY_BYTES = 1 << 20  # largest request body (1 MiB: 10,000 ids of ~50 characters fit); 413 beyond
MAX_ID_CHARS = 1000  # longest id a path may name; 422 beyond
MAX_ERROR_CHARS = 300  # longest error message: a bad value is quoted by a short prefix only

Id = StrictInt | StrictStr


class RecommendRequest(BaseModel):
    """A visitor described by the items they interacted with (fold-in), or nobody in particular."""

    model_config = ConfigDict(extra="forbid")

    history: list[Id] | None = Field(
        default=None,
        max_length=MAX_IDS,
        description="Item ids the visitor interacted with, oldest first (the history tower reads the "
        "order; fold-in does not).",
    )
    user: Id | None = Field(
        default=None,
        description="A known user whose interactions newer than the model are `history`: with the history "
        "tower they extend the user's saved history, without retraining (400 with the id tower). A user the "
        "model does not know is a visitor.",
    )
    features: dict[str, Any] | None = Field(
        default=None,
        description="A new user's features ({feature: value}), embedded by the user tower's feature "
        "path; with a history too, the two embeddings are averaged. Needs a model with user features.",
    )
    n: StrictInt = Field(default=10, ge=1, le=MAX_N, description="Number of items to return (not a boolean).")
    exclude: list[Id] = Field(
        default_factory=list, max_length=MAX_IDS, description="Item ids never to return."
    )


class ScoredItem(BaseModel):
    item: Id
    score: float | None = Field(
        description="The model's affinity (dot product of the embeddings); null for the most popular "
        "items of a fallback; for similar items, the cosine."
    )
    name: str | None = Field(
        default=None, description="The item's display name (only with `?fields=name`; null where unnamed)."
    )


class UserRecommendations(BaseModel):
    user: Id
    items: list[ScoredItem]
    fallback: bool = Field(description="True when the most popular items stand in for the model.")


class HistoryRecommendations(BaseModel):
    items: list[ScoredItem]
    fallback: bool
    unknown_items: list[Id] = Field(description="History items the model does not know (ignored).")
    warnings: list[str]


class SimilarItems(BaseModel):
    item: Id
    items: list[ScoredItem]


class ErrorBody(BaseModel):
    error: str
