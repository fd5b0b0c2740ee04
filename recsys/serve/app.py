"""HTTP service: `recsys serve --bundle PATH` answers recommendations as JSON (FastAPI + uvicorn).

    GET  /recommend/{user_id}?n=10   a known user's top-n unseen items; unknown users: most popular
    POST /recommend                  {"history": [...], "features": {...}, "n": 10, "exclude": [...]}
    GET  /similar/{item_id}?n=10     nearest items by cosine of the item embeddings
    (each answers `?fields=name` with every item's display name, for a model with item names)
    GET  /health                     {"status": "ok"}
    GET  /metadata                   the model, when it was written, data counts, validation metrics
    GET  /docs                       the OpenAPI page

The bundle is loaded once, before the server listens (a bundle that does not load is one line on
stderr and exit 1). Every error is a JSON object `{"error": "<one line>"}` with a 4xx status
(422 for a request that does not validate, naming the field; 404 for an unknown item or route); an
unexpected exception is a 500 with `{"error": "internal server error"}` and no traceback in the body
(the traceback goes to the server's log).

Ids come back in the vocabulary's type. Path ids arrive as text: for an integer vocabulary a plain
integer ("42", "-7") is parsed as one, and any other text is an id the model does not know (a
fallback for users, a 404 for items), never an error. Ids in a JSON body may be numbers or strings
and are mapped the same way (a number for a string vocabulary is its decimal text).

Concurrency: the model is read-only after loading, and only one thread ranks. Endpoints are
coroutines that map ids on the event loop (`Vocabulary.indices`) and hand the ranking to a
`Batcher` thread (`recsys.serve.batcher`), which ranks every query waiting at that moment in one
index search (`recsys.serve.batches.RequestRanker`: an idle server answers a request alone, at
once; a busy one reads the item matrix once per batch instead of once per request). The server
process (`recsys.serve.server`) limits BLAS to one thread: concurrent requests, not BLAS threads,
share the cores. Every path maps a request's ids by the same rule (`recsys.data.vocabulary`), and
excluded items are left out by the index search itself, so the features path excludes as the
history path does.

fastapi is imported only when the app is made (`create_app`), uvicorn only when serving: `pip
install -r requirements.txt` or `pip install -e .[serve]`.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations (the response
# class, the `N` query alias) as objects, and those defined inside functions cannot be resolved from
# strings.
import asyncio
import contextlib
import datetime as _dt
import json
import logging
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from recsys.errors import DataError, RecsysError, quoted, shortened
from recsys.files import json_ready
from recsys.layout import BundleFiles
from recsys.serve.batcher import Batcher
from recsys.serve.batches import RequestRanker
from recsys.serve.outputs import DECIMALS
from recsys.serve.recommender import Recommender
from recsys.serve.schemas import (
    MAX_BODY_BYTES,
    MAX_ERROR_CHARS,
    MAX_ID_CHARS,
    MAX_N,
    ErrorBody,
    HistoryRecommendations,
    RecommendRequest,
    SimilarItems,
    UserRecommendations,
)
from recsys.version import __version__

if TYPE_CHECKING:  # fastapi is optional: imported when the app is made
    from fastapi import FastAPI

__all__ = [
    "INSTALL_HINT",
    "SCORE_DECIMALS",
    "OPTIONAL_FIELDS",
    "BodyLimit",
    "FieldsError",
    "create_app",
    "describe",
    "parse_fields",
    "require_web",
    "validation_message",
]

SCORE_DECIMALS = DECIMALS  # one rounding for every answer, the files' too
INSTALL_HINT = "pip install -r requirements.txt (or pip install 'fastapi==0.165.0' 'uvicorn==0.54.0')"
LOGGER = logging.getLogger("recsys.serve")


def _scored(ranked: list, fields: frozenset[str] = frozenset()) -> list[dict]:
    """`[{"item", "score"[, "name"]}]` from a ranker's `(item, score, name)` rows, every score
    rounded to SCORE_DECIMALS as a Python float (a float32 rounded in float32 prints 16 digits in
    JSON), None where it is not finite; the name with `fields` holding "name"."""
    answers = []
    for item, score, name in ranked:
        rounded = round(float(score), SCORE_DECIMALS) if math.isfinite(score) else None
        answer = {"item": item, "score": rounded}
        if "name" in fields:
            answer["name"] = name
        answers.append(answer)
    return answers


OPTIONAL_FIELDS = ("name",)  # what `?fields=` may add to each answered item


def parse_fields(text: str | None, has_names: bool) -> frozenset[str]:
    """The optional fields a request asks for (`?fields=name`, comma-separated).

    Args:
        text: The `fields` query parameter, or None.
        has_names: Whether the model has item names (`item_name_column`).

    Returns:
        The set of fields asked for.

    Raises:
        DataError: an unknown field (a 422), or names asked of a model without them (a 400); the
            message names the parameter.

    Example:
        >>> sorted(parse_fields("name", has_names=True)), sorted(parse_fields(None, has_names=False))
        (['name'], [])
    """
    asked = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
    unknown = sorted(asked - set(OPTIONAL_FIELDS))
    if unknown:
        raise FieldsError(
            422,
            f"query parameter 'fields': unknown field {quoted(unknown[0])}; the optional fields are "
            f"{', '.join(OPTIONAL_FIELDS)}.",
        )
    if "name" in asked and not has_names:
        raise FieldsError(
            400,
            "query parameter 'fields': this model has no item names; set item_name_column (a column of "
            "the item features holding each item's name) and retrain.",
        )
    return asked


class FieldsError(DataError):
    """A `fields` parameter the service cannot answer, with the HTTP status to answer it with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def describe(recommender: Recommender, bundle_path: str | Path | None = None) -> dict:
    """What `/metadata` answers: the model's spec, when the bundle was written (its manifest's
    modification time), data counts and identity, training facts and validation metrics (if the
    bundle's metrics hold them: validation bundles and `Recommender.fit` bundles do).

    Args:
        recommender: The served model.
        bundle_path: Its bundle folder, if it was loaded from one.

    Returns:
        The JSON-ready description.
    """
    bundle = recommender.bundle
    model, metrics, manifest = bundle.model, bundle.metrics or {}, bundle.manifest or {}
    written = None
    if bundle_path is not None:
        manifest_file = Path(bundle_path) / BundleFiles.MANIFEST
        if manifest_file.exists():
            stamp = manifest_file.stat().st_mtime
            written = _dt.datetime.fromtimestamp(stamp, _dt.UTC).isoformat(timespec="seconds")
    counts = manifest.get("counts") or {}
    training = {
        key: metrics[key]
        for key in ("epochs", "best_epoch", "epochs_run", "training_seconds", "final_loss", "split")
        if key in metrics
    }
    return json_ready(
        {
            "model": {
                "embedding_dim": model.embedding_dim,
                "users": model.n_users,
                "items": model.n_items,
                "loss": bundle.config.loss,
                "normalize": model.normalize,
                "temperature": model.temperature,
                "user_features": model.user_feature_dim > 0,
                "item_features": model.item_feature_dim > 0,
                "user_id_type": "integer" if bundle.user_vocab.ids.dtype.is_integer() else "string",
                "item_id_type": "integer" if bundle.item_vocab.ids.dtype.is_integer() else "string",
            },
            "bundle": str(bundle_path) if bundle_path is not None else None,
            "trained_at": written,
            "data": {
                "users": counts.get("users", len(bundle.user_vocab)),
                "items": counts.get("items", len(bundle.item_vocab)),
                "interactions": counts.get("seen_nnz", int(bundle.seen.nnz)),
                "identity": manifest.get("identity") or metrics.get("identity"),
                "preparation": metrics.get("data"),
            },
            "training": training or None,
            "validation": metrics.get("validation") or None,
            "most_popular": metrics.get("most_popular") or None,
        }
    )


def require_web() -> None:
    """fastapi and uvicorn are optional: a one-line error with the install command when missing."""
    missing = []
    for module in ("fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        names = " and ".join(missing)
        raise RecsysError(f"serving needs {names}, which {verb} not installed: {INSTALL_HINT}.")


def validation_message(errors: Sequence[Any], json_body: bool = True) -> str:
    """One line naming each invalid field, e.g. "n: Input should be less than or equal to 1000 (got 0)"."""
    parts: list[str] = []
    for error in errors:
        loc = [shortened(str(p), 40) for p in error.get("loc", ()) if p not in ("query", "path", "body")]
        message, kind = error.get("msg", "invalid"), error.get("type")
        if len(loc) > 1 and loc[-1] in ("int", "str"):  # one error per member of `int | str`
            loc, message = loc[:-1], "Input should be an id (an integer or a string)"
        where = ".".join(loc) or "body"
        if kind == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            text = f"malformed JSON body ({reason})" if reason else "malformed JSON body"
        elif not loc and isinstance(error.get("input"), bytes | str) and not json_body:
            text = "the body must be a JSON object sent with the header Content-Type: application/json"
        else:
            text = f"{where}: {message}"
            if "input" in error and kind not in ("missing", "extra_forbidden"):
                shown = repr(error["input"])
                text += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        if text not in parts:
            parts.append(text)
    if len(parts) > 5:
        parts = [*parts[:5], f"and {len(parts) - 5} more"]
    return shortened("invalid request: " + "; ".join(parts), MAX_ERROR_CHARS)


def create_app(model: Recommender | RequestRanker, bundle_path: str | Path | None = None) -> "FastAPI":
    """The FastAPI application answering from a model loaded once and shared read-only by all
    requests.

    Args:
        model: The `Recommender` (or its `RequestRanker`) to answer from.
        bundle_path: Its bundle folder; only informs `/metadata` (when the bundle was written).

    Returns:
        The app, to run with uvicorn (`recsys.serve.server.serve`) or any ASGI server.

    Raises:
        RecsysError: fastapi is not installed (the message says how to install it).
        ArtifactError: the model's embeddings are not finite.
    """
    require_web()
    from fastapi import FastAPI

    ranker = model if isinstance(model, RequestRanker) else RequestRanker(model)
    batcher = Batcher(
        {"user": ranker.users_batch, "history": ranker.histories_batch, "similar": ranker.similar_batch}
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: "FastAPI") -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(
        title="recsys",
        summary="Recommendations from a two-tower model bundle.",
        version=__version__,
        responses={500: {"model": ErrorBody, "description": "An unexpected error (no traceback)."}},
        lifespan=lifespan,
    )
    _handle_errors(app)
    _add_routes(app, ranker, batcher, describe(ranker.recommender, bundle_path))
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    return app


def _error(status: int, message: str) -> Any:
    """A JSON error `{"error": "<one line>"}`, at most MAX_ERROR_CHARS long whatever it quotes."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": shortened(message, MAX_ERROR_CHARS)}, status_code=status)


def _path_id(vocab: Any, name: str, text: str) -> tuple[Any, int]:
    """A path's id in the vocabulary's type (None when it cannot be one) and its index (-1 when
    unknown); an HTTP 422 for an id over MAX_ID_CHARS characters."""
    from starlette.exceptions import HTTPException

    if len(text) > MAX_ID_CHARS:
        raise HTTPException(422, f"{name}: at most {MAX_ID_CHARS:,} characters (got {len(text):,}).")
    value = vocab.coerce(text)
    return value, vocab.index_of(value)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 with a one-line JSON
    error, by its Content-Length before it is read, or as soon as a streamed body passes the limit.

    Args:
        app: The ASGI app it guards.
        limit: The largest body accepted, in bytes.
    """

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._too_large(send)
            return
        received = 0

        async def limited() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Any) -> None:
        body = json.dumps({"error": f"request body over {self.limit:,} bytes (the service's limit)"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """A streamed body passed the limit (caught by `BodyLimit`)."""


def _handle_errors(app: "FastAPI") -> None:
    """Every error a JSON object {"error": "<one line>"}: 422 naming the invalid field, 400 for a
    project error, the route's own status (404, 405), 500 without a traceback (logged)."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        json_body = kind == "application/json" or kind.endswith("+json")
        return _error(422, validation_message(exc.errors(), json_body))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RecsysError)
    async def project_error(request: Request, exc: RecsysError) -> JSONResponse:
        return _error(getattr(exc, "status", 400), str(exc))  # made one short line by _error

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOGGER.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal server error")


def _add_routes(app: "FastAPI", ranker: RequestRanker, batcher: Batcher, metadata: dict) -> None:
    from fastapi import Path as PathParam
    from fastapi import Query
    from fastapi.responses import JSONResponse

    users, items = ranker.users, ranker.items
    errors: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorBody, "description": "A request the model cannot answer."},
        422: {"model": ErrorBody, "description": "A request that does not validate (names the field)."},
    }
    N = Annotated[int, Query(ge=1, le=MAX_N, description="Number of items to return (1..1000).")]
    Fields = Annotated[
        str | None,
        Query(
            max_length=100,
            description="Optional fields of each item, comma-separated: 'name' adds the item's display "
            "name (`item_name_column`; null where unnamed). 400 for a model without names.",
        ),
    ]
    has_names = ranker.item_names is not None

    async def ranked(kind: str, query: Any) -> list:
        return await asyncio.wrap_future(batcher.submit(kind, query))

    @app.get("/health", summary="Liveness: the model is loaded and the server answers.")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/metadata", summary="The model, when it was written, its data and validation metrics.")
    async def get_metadata() -> JSONResponse:
        return JSONResponse(metadata)

    @app.get(
        "/recommend/{user_id:path}",
        response_model=UserRecommendations,
        responses=errors,
        summary="Top-n unseen items for a user; unknown users get the most popular items.",
    )
    async def recommend_user(
        user_id: Annotated[str, PathParam(description="A user id.")], n: N = 10, fields: Fields = None
    ) -> JSONResponse:
        asked = parse_fields(fields, has_names)
        user, index = _path_id(users, "user_id", user_id)
        answer = ranker.popular(n) if index < 0 else await ranked("user", (index, n, frozenset()))
        user_id_out = user_id if user is None else user
        return JSONResponse({"user": user_id_out, "items": _scored(answer, asked), "fallback": index < 0})

    @app.post(
        "/recommend",
        response_model=HistoryRecommendations,
        responses=errors,
        summary="Top-n items for a visitor (or a known user with newer interactions) from their history; "
        "without one, the most popular.",
    )
    async def recommend_visitor(body: RecommendRequest | None = None, fields: Fields = None) -> JSONResponse:
        asked = parse_fields(fields, has_names)
        body = body or RecommendRequest()
        history = body.history or []
        indices = items.indices(history)
        unknown = [value for value, index in zip(history, indices) if index < 0]
        known = [index for index in indices if index >= 0]
        exclude = frozenset(items.indices(body.exclude)) - {-1}
        fallback = False
        user = -1 if body.user is None else int(users.indices([body.user])[0])
        if user >= 0:
            if not ranker.recommender.reads_history:
                return _error(
                    400,
                    "a history beside a known user needs a model whose user tower reads histories "
                    "(user_tower = 'history'); this model embeds user ids: retrain to count new "
                    "interactions.",
                )
            known, seen = ranker.extended_history(user, known)
            exclude = exclude | seen
        if body.features:
            # A new user known by features (and maybe a history): the feature path, off the event
            # loop; a model without user features is a 400 naming that.
            answer = await asyncio.to_thread(ranker.features, body.features, body.n, known, exclude)
        elif known:
            answer = await ranked("history", (known, body.n, exclude, user))
        else:
            fallback = True
            answer = ranker.popular(body.n, exclude)
        return JSONResponse(
            {"items": _scored(answer, asked), "fallback": fallback, "unknown_items": unknown, "warnings": []}
        )

    @app.get(
        "/similar/{item_id:path}",
        response_model=SimilarItems,
        responses={**errors, 404: {"model": ErrorBody, "description": "The model does not know the item."}},
        summary="The n items nearest to an item (cosine of the item embeddings), itself excluded.",
    )
    async def similar(
        item_id: Annotated[str, PathParam(description="An item id.")], n: N = 10, fields: Fields = None
    ) -> JSONResponse:
        asked = parse_fields(fields, has_names)
        item, index = _path_id(items, "item_id", item_id)
        if index < 0:
            return _error(404, f"unknown item {quoted(item_id)}: the model knows {len(items):,} items.")
        return JSONResponse({"item": item, "items": _scored(await ranked("similar", (index, n)), asked)})
