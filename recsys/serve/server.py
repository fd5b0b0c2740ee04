"""The `recsys serve` command: the bundle loaded once, then served by uvicorn until interrupted.

fastapi and uvicorn are optional dependencies, imported only when serving (`require_web` says how
to install them).
"""

from __future__ import annotations

import gc
import socket
from pathlib import Path

from threadpoolctl import threadpool_limits

from recsys.errors import ArtifactError, RecsysError
from recsys.log import say
from recsys.serve.app import create_app, require_web
from recsys.serve.recommender import Recommender

__all__ = ["check_port", "limit_blas_threads", "serve"]


def check_port(host: str, port: int) -> None:
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
    threadpool_limits(limits=1, user_api="blas")


def serve(bundle: str | Path, host: str = "127.0.0.1", port: int = 8000, access_log: bool = False) -> None:
    """Load the bundle once, then serve it until interrupted (the `recsys serve` command)."""
    require_web()
    import uvicorn

    path = Path(bundle)
    if not path.exists():
        raise ArtifactError(f"no model bundle at {path} (train one first: recsys train).")
    check_port(host, port)
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
