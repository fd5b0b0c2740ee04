"""HTTP service: `recsys serve --bundle PATH` answers recommendations as JSON (FastAPI + uvicorn).

    GET  /recommend/{user_id}?n=10   a known user's top-n unseen items; unknown users: most popular
    POST /recommend                  {"history": [...], "features": {...}, "n": 10, "exclude": [...]}
    GET  /similar/{item_id}?n=10     nearest items by cosine of the item embeddings
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
coroutines that map ids on the event loop and hand the ranking to a `Batcher` thread, which ranks
every query waiting at that moment in one matrix product (an idle server answers a request alone,
at once; a busy one reads the item matrix once per batch instead of once per request). The server
process limits BLAS to one thread: concurrent requests, not BLAS threads, share the cores.
`ServingRecommender` gives the same answers as `Recommender` without its per-call set-up.

fastapi and uvicorn are imported only here and only when serving: `pip install -r requirements.txt`
or `pip install -e .[serve]`.
"""

import asyncio
import contextlib
import datetime as _dt
import gc
import logging
import math
import queue
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from recsys import __version__
from recsys.bundle import MANIFEST
from recsys.errors import ArtifactError, RecsysError
from recsys.recommender import Recommender
from recsys.topn import top_k_from_scores
from recsys.vocabulary import Vocabulary

if TYPE_CHECKING:
    from fastapi import FastAPI

    from recsys.bundle import ModelBundle

MAX_N = 1000  # largest `n` a request may ask for
MAX_IDS = 10_000  # longest history or exclude list a request may send
SCORE_DECIMALS = 6
INSTALL_HINT = "pip install -r requirements.txt (or pip install 'fastapi==0.165.0' 'uvicorn==0.54.0')"
_INTEGER = re.compile(r"-?[0-9]+")
_INT64 = (-(2**63), 2**63 - 1)
LOGGER = logging.getLogger("recsys.service")

Id = StrictInt | StrictStr


# --- request and response shapes (also the OpenAPI page's schemas) ---------------------------
class RecommendRequest(BaseModel):
    """A visitor described by the items they interacted with (fold-in), or nobody in particular."""

    model_config = ConfigDict(extra="forbid")

    history: list[Id] | None = Field(
        default=None, max_length=MAX_IDS, description="Item ids the visitor interacted with (any order)."
    )
    features: dict[str, Any] | None = Field(
        default=None,
        description="A new user's features ({feature: value}), embedded by the user tower's feature "
        "path; with a history too, the two embeddings are averaged. Needs a model with user features.",
    )
    n: int = Field(default=10, ge=1, le=MAX_N, description="Number of items to return.")
    exclude: list[Id] = Field(
        default_factory=list, max_length=MAX_IDS, description="Item ids never to return."
    )


class ScoredItem(BaseModel):
    item: Id
    score: float | None = Field(
        description="The model's affinity (dot product of the embeddings); for a fallback, the "
        "item's number of training interactions; for similar items, the cosine."
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


# --- ids ----------------------------------------------------------------------------------------
class IdIndex:
    """External ids of a vocabulary <-> indices, one id at a time without per-call set-up (the
    vocabulary's vectorised lookups cost ~0.5 ms a call in polars, more than ranking one user).

    `coerce` maps a request's id (path text, a JSON number or string) to the vocabulary's type, or
    None when it cannot be one of its ids (text that is not a plain integer, for an integer
    vocabulary); `index` gives its index, -1 when the vocabulary does not hold it."""

    def __init__(self, vocab: Vocabulary):
        self.integer = vocab.ids.dtype.is_integer()
        self.ids: list = vocab.to_python()  # index -> id, as Python values
        if self.integer:  # sorted int64 (vocabularies are stored sorted): a binary search per id
            self._sorted = np.asarray(vocab.ids.to_numpy(), dtype=np.int64)
        else:
            self._positions = {value: position for position, value in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def coerce(self, value: int | str) -> int | str | None:
        if not self.integer:
            return value if isinstance(value, str) else str(value)
        if isinstance(value, str):
            if not _INTEGER.fullmatch(value):
                return None
            value = int(value)
        return value if _INT64[0] <= value <= _INT64[1] else None

    def indices(self, values: Sequence[int | str]) -> list[int]:
        """`index(coerce(value))` of each value (a binary search over all of them at once)."""
        coerced = [self.coerce(value) for value in values]
        if not coerced or not self.ids:
            return [-1] * len(coerced)
        if not self.integer:
            return [self._positions.get(value, -1) if value is not None else -1 for value in coerced]
        numbers = np.array([0 if value is None else value for value in coerced], dtype=np.int64)
        positions = np.minimum(np.searchsorted(self._sorted, numbers), len(self._sorted) - 1)
        typed = np.array([value is not None for value in coerced], dtype=bool)
        found = (self._sorted[positions] == numbers) & typed
        return np.where(found, positions, -1).tolist()

    def index(self, value: int | str | None) -> int:
        if value is None:
            return -1
        if not self.integer:
            return self._positions.get(value, -1)
        position = int(np.searchsorted(self._sorted, value))
        return position if position < len(self._sorted) and self._sorted[position] == value else -1


# --- ranking without per-call set-up ----------------------------------------------------------
class ServingRecommender(Recommender):
    """A `Recommender` for answering requests: the same answers, without per-call set-up.

    `Recommender` itself answers small batches with one product on the calling thread (its kept
    transposed item matrix and popularity order); its id lookups go through polars, ~0.5 ms a call.
    Here the rest of the serving set-up is done once: the unit item vectors (for similar items) and
    id indexes (`IdIndex`) are kept, and the embeddings are checked on construction.
    The `*_batch` methods rank the queries of several requests together (see `Batcher`).
    """

    def _use(self, bundle: "ModelBundle") -> None:
        """The parent's set-up (also run by `add_items`), then the serving caches."""
        super()._use(bundle)
        for name, vectors in (("user", self.user_vectors), ("item", self.item_vectors)):
            if not np.isfinite(vectors).all():
                raise ArtifactError(f"the {name} embeddings of the bundle contain NaN or infinite values.")
        items = np.ascontiguousarray(self.item_vectors, dtype=np.float32)
        norms = np.linalg.norm(items, axis=1, keepdims=True)
        self._unit_items = items / np.maximum(norms, np.finfo(np.float32).tiny)
        self._unit_items_t = np.ascontiguousarray(self._unit_items.T)
        self.users = IdIndex(self.user_vocab)
        self.items = IdIndex(self.item_vocab)

    @classmethod
    def of(cls, recommender: Recommender) -> "ServingRecommender":
        """The serving form of a loaded Recommender (same bundle; its embeddings are cached there)."""
        if isinstance(recommender, ServingRecommender):
            return recommender
        return cls(recommender.bundle)

    def _scored(
        self, top: np.ndarray, scores: np.ndarray, drop: AbstractSet[int] = frozenset(), n: int = 0
    ) -> list:
        """[(item id, score), ...] of one ranked row, padding and `drop` indices left out, at most n."""
        pairs = [
            (self.items.ids[i], float(s))
            for i, s in zip(top.tolist(), scores.tolist())
            if i >= 0 and i not in drop
        ]
        return pairs[:n] if n else pairs

    # Batches: one product for the queries of several concurrent requests (see `Batcher`). Each
    # query asks for its own n (and, for histories, its own excluded items); the batch ranks the
    # largest and each answer keeps its own share.
    def popular(self, n: int, exclude: AbstractSet[int] = frozenset()) -> list:
        """The n most popular items (training interactions), none of `exclude` (indices)."""
        top, scores = self._popular(1, n + len(exclude), None)
        return self._scored(top[0], scores[0], exclude, n)

    def users_batch(self, queries: list[tuple[int, int]]) -> list[list]:
        """For (user index, n) queries of known users: their top-n unseen items."""
        users = np.array([user for user, _ in queries], dtype=np.int64)
        top, scores = self.rank_users(users, max(n for _, n in queries))
        return [self._scored(top[q], scores[q], n=n) for q, (_, n) in enumerate(queries)]

    def histories_batch(self, queries: list[tuple[list[int], int, AbstractSet[int]]]) -> list[list]:
        """For (known history item indices, n, excluded indices) queries with a non-empty history:
        top-n items from the folded-in history (see `Recommender.fold_in`), the history excluded."""
        rows = [np.unique(np.asarray(items, dtype=np.int64)) for items, _, _ in queries]
        matrix = sp.csr_matrix(
            (
                np.ones(sum(r.size for r in rows), np.float32),
                np.concatenate(rows),
                np.concatenate(([0], np.cumsum([r.size for r in rows]))),
            ),
            shape=(len(rows), len(self.items)),
        )
        top, scores, _ = self.rank_histories(matrix, max(n + len(exclude) for _, n, exclude in queries))
        return [self._scored(top[q], scores[q], exclude, n) for q, (_, n, exclude) in enumerate(queries)]

    def similar_batch(self, queries: list[tuple[int, int]]) -> list[list]:
        """For (item index, n) queries: the n nearest items (cosine), the item itself excluded."""
        items = np.array([item for item, _ in queries], dtype=np.int64)
        itself = sp.csr_matrix(
            (np.ones(items.size, np.float32), items, np.arange(items.size + 1)),
            shape=(items.size, len(self.items)),
        )
        scores = self._unit_items[items] @ self._unit_items_t
        top, best = top_k_from_scores(scores, max(n for _, n in queries), seen=itself, n_threads=1)
        return [self._scored(top[q], best[q], n=n) for q, (_, n) in enumerate(queries)]


class Batcher:
    """Ranks the queries of concurrent requests together, on one thread.

    Ranking one query reads the whole item matrix (27,000 x 256 floats: 28 MB) for one
    matrix-vector product; 64 queries ranked together read it once. The thread takes the first
    waiting job and every job queued behind it (up to `max_batch`), so an idle server answers at
    once (a batch of one) and a busy one answers in batches as large as the load makes them. Only
    this thread ranks, so the model needs no locks. `submit` returns a concurrent Future."""

    def __init__(self, handlers: dict[str, Callable[[list], list]], max_batch: int = 64):
        self.handlers = handlers
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="recsys-batcher", daemon=True)
        self._thread.start()

    def submit(self, kind: str, query: Any) -> Future:
        future: Future = Future()
        self._jobs.put((kind, query, future))
        return future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # stop after this batch
                    break
                jobs.append(job)
            for kind in dict.fromkeys(kind for kind, _, _ in jobs):
                # set_running_or_notify_cancel: skip requests whose client went away
                group = [(q, f) for k, q, f in jobs if k == kind and f.set_running_or_notify_cancel()]
                if not group:
                    continue
                self._answer(self.handlers[kind], group)

    @staticmethod
    def _answer(handler: Callable[[list], list], group: list[tuple[Any, Future]]) -> None:
        """Answer a batch; if it fails, each query alone, so that only a failing query gets the
        error (an unexpected one: requests are validated before they are queued)."""
        try:
            answers = handler([query for query, _ in group])
        except BaseException as exc:
            if len(group) == 1:
                group[0][1].set_exception(exc)
                return
            for one in group:
                Batcher._answer(handler, [one])
            return
        for (_, future), answer in zip(group, answers):
            future.set_result(answer)


def _scored(pairs: list) -> list[dict]:
    return [
        {"item": item, "score": round(score, SCORE_DECIMALS) if math.isfinite(score) else None}
        for item, score in pairs
    ]


def _json_safe(value: Any) -> Any:
    """Metrics as JSON: non-finite floats (NaN metrics) become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def describe(recommender: Recommender, bundle_path: str | Path | None = None) -> dict:
    """What `/metadata` answers: the model's spec, when the bundle was written (its manifest's
    modification time), data counts and identity, training facts and validation metrics (if the
    bundle's metrics hold them: validation bundles and `Recommender.fit` bundles do)."""
    bundle = recommender.bundle
    model, metrics, manifest = bundle.model, bundle.metrics or {}, bundle.manifest or {}
    written = None
    if bundle_path is not None:
        manifest_file = Path(bundle_path) / MANIFEST
        if manifest_file.exists():
            stamp = manifest_file.stat().st_mtime
            written = _dt.datetime.fromtimestamp(stamp, _dt.UTC).isoformat(timespec="seconds")
    counts = manifest.get("counts") or {}
    training = {
        key: metrics[key]
        for key in ("epochs", "best_epoch", "epochs_run", "training_seconds", "final_loss", "split")
        if key in metrics
    }
    return _json_safe(
        {
            "model": {
                "embedding_dim": model.embedding_dim,
                "users": model.num_users,
                "items": model.num_items,
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


# --- the app ------------------------------------------------------------------------------------
def _require_web() -> None:
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


def _validation_message(errors: Sequence[Any], json_body: bool = True) -> str:
    """One line naming each invalid field, e.g. "n: Input should be less than or equal to 1000 (got 0)"."""
    parts: list[str] = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body")]
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
    return "invalid request: " + "; ".join(parts)


def create_app(recommender: Recommender, bundle_path: str | Path | None = None) -> "FastAPI":
    """The FastAPI application answering from `recommender` (loaded once, shared read-only by all
    requests). `bundle_path` only informs `/metadata` (when the bundle was written)."""
    _require_web()
    from fastapi import FastAPI, Query, Request
    from fastapi import Path as PathParam
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    model = ServingRecommender.of(recommender)
    metadata = describe(model, bundle_path)
    batcher = Batcher(
        {"user": model.users_batch, "history": model.histories_batch, "similar": model.similar_batch}
    )

    async def ranked(kind: str, query: Any) -> list:
        return await asyncio.wrap_future(batcher.submit(kind, query))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()

    errors: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorBody, "description": "A request the model cannot answer."},
        422: {"model": ErrorBody, "description": "A request that does not validate (names the field)."},
    }
    app = FastAPI(
        title="recsys",
        summary="Recommendations from a two-tower model bundle.",
        version=__version__,
        responses={500: {"model": ErrorBody, "description": "An unexpected error (no traceback)."}},
        lifespan=lifespan,
    )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        json_body = kind == "application/json" or kind.endswith("+json")
        return error(422, _validation_message(exc.errors(), json_body))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RecsysError)
    async def project_error(request: Request, exc: RecsysError) -> JSONResponse:
        return error(400, " ".join(str(exc).split()))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOGGER.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error(500, "internal server error")

    N = Annotated[int, Query(ge=1, le=MAX_N, description="Number of items to return (1..1000).")]

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
        user_id: Annotated[str, PathParam(description="A user id.")], n: N = 10
    ) -> JSONResponse:
        user = model.users.coerce(user_id)
        index = model.users.index(user)
        items = model.popular(n) if index < 0 else await ranked("user", (index, n))
        return JSONResponse(
            {"user": user_id if user is None else user, "items": _scored(items), "fallback": index < 0}
        )

    @app.post(
        "/recommend",
        response_model=HistoryRecommendations,
        responses=errors,
        summary="Top-n items for a visitor from their history (fold-in); without one, the most popular.",
    )
    async def recommend_visitor(body: RecommendRequest | None = None) -> JSONResponse:
        body = body or RecommendRequest()
        warnings: list[str] = []
        history = body.history or []
        if body.features:
            # A new user known by features (and maybe a history): the Recommender's feature path,
            # off the event loop; a model without user features is a 400 naming that.
            excluded = set(body.exclude)
            answer = await asyncio.to_thread(
                model.recommend_from_features, body.features, body.n + len(excluded), history or None
            )
            scored = [
                {"item": item, "score": score}
                for item, score in zip(answer.items[0], answer.scores[0])
                if item not in excluded
            ][: body.n]
            return JSONResponse(
                {
                    "items": scored,
                    "fallback": False,
                    "unknown_items": answer.unknown_items[0],
                    "warnings": warnings,
                }
            )
        indices = model.items.indices(history)
        unknown = [value for value, index in zip(history, indices) if index < 0]
        known = [index for index in indices if index >= 0]
        exclude = set(model.items.indices(body.exclude)) - {-1}
        fallback = not known
        if fallback:
            items = model.popular(body.n, exclude)
        else:
            items = await ranked("history", (known, body.n, exclude))
        return JSONResponse(
            {"items": _scored(items), "fallback": fallback, "unknown_items": unknown, "warnings": warnings}
        )

    @app.get(
        "/similar/{item_id:path}",
        response_model=SimilarItems,
        responses={**errors, 404: {"model": ErrorBody, "description": "The model does not know the item."}},
        summary="The n items nearest to an item (cosine of the item embeddings), itself excluded.",
    )
    async def similar(
        item_id: Annotated[str, PathParam(description="An item id.")], n: N = 10
    ) -> JSONResponse:
        item = model.items.coerce(item_id)
        index = model.items.index(item)
        if index < 0:
            return error(404, f"unknown item {item_id!r}: the model knows {len(model.items):,} items.")
        return JSONResponse({"item": item, "items": _scored(await ranked("similar", (index, n)))})

    return app


# --- the command --------------------------------------------------------------------------------
def _check_port(host: str, port: int) -> None:
    """Fail before the (slow) bundle load when the address cannot be listened on."""
    if not 0 <= port <= 65535:
        raise RecsysError(f"--port {port} is not a port number (0..65535).")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RecsysError(f"cannot listen on {host}:{port}: {reason}.") from None


def limit_blas_threads() -> None:
    """One BLAS thread for the whole process: concurrent requests, not BLAS threads, share the
    cores (two BLAS threads on one matrix-vector product are several times slower than one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")


def serve(bundle: str | Path, host: str = "127.0.0.1", port: int = 8000, access_log: bool = False) -> None:
    """Load the bundle once, then serve it until interrupted (the `recsys serve` command)."""
    _require_web()
    import uvicorn

    from recsys.log import say

    path = Path(bundle)
    if not path.exists():
        raise ArtifactError(f"no model bundle at {path} (train one first: recsys train).")
    _check_port(host, port)
    recommender = Recommender.load(path)
    limit_blas_threads()
    app = create_app(recommender, bundle_path=path)
    # Loading leaves ~300,000 long-lived objects (Keras, JAX, the vocabularies): a full garbage
    # collection then walks them all, pausing every request for 150-300 ms about once a second
    # under load. Frozen objects are never collected, nor walked again.
    gc.collect()
    gc.freeze()
    say(
        f"Serving {path} ({len(recommender.user_vocab):,} users x {len(recommender.item_vocab):,} items) "
        f"at http://{host}:{port} (API docs: http://{host}:{port}/docs). Ctrl-C stops."
    )
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="warning")


__all__ = ["ServingRecommender", "create_app", "describe", "serve"]
