"""Benchmark: the HTTP service (`recsys serve`) under 1, 8 and 64 concurrent clients.

    python benchmarks/serve.py [--users 140000 --items 27000 --per-user 30 --requests 2000] [--quick]
                               [--user-tower id|history]

Builds (once; reused from benchmarks/_data/, which git ignores) a bundle of --users x --items with
an untrained model (`recsys.model.training.build_model`, the default config's embedding size) on synthetic
interactions (--per-user per user, Zipf-like item popularity): serving costs do not depend on the
weights' values. Starts `python -m recsys serve` on 127.0.0.1, waits for /health, then for each
scenario and concurrency level runs --requests requests spread over that many clients, each with
its own keep-alive connection (coroutines on one event loop, so that the clients take little of
the cores they share with the server; one warm-up request each, not timed):

  GET  /recommend/{user}?n=N      random known users
  POST /recommend                 {"history": [10 random items], "n": N}
  POST /recommend                 {"history": [50 random items], "n": N}

With `--user-tower history` the bundle's model has the history user tower (its known users'
windows from the synthetic interactions, which then get timestamps): every request, a known
user's included, runs the history encoder.

and prints throughput and p50 / p99 latency (client side: from sending the request to having
read the whole response). The clients run on the same machine as the server, so they take part
of its cores: on a small machine the numbers are a lower bound on what the server alone does.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / "_data"
TARGETS_MS = {
    "GET /recommend/{user}": 50.0,
    "POST /recommend (10-item history)": 100.0,
    "POST /recommend (50-item history)": 50.0,
}
TARGET_CLIENTS = 64


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=140_000)
    parser.add_argument("--items", type=int, default=27_000)
    parser.add_argument("--per-user", type=int, default=30, help="synthetic interactions per user")
    parser.add_argument("--dim", type=int, default=None, help="embedding size (default: the config's)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario and level")
    parser.add_argument("--clients", default="1,8,64", help="concurrency levels, comma-separated")
    parser.add_argument("--n", type=int, default=10, help="items per answer")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in about a minute")
    parser.add_argument("--user-tower", default="id", choices=["id", "history"], help="user tower")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.items, args.per_user, args.requests = 3000, 2000, 20, 300
    return args


def build_bundle(args) -> Path:
    """A saved bundle of the requested size (built once, then reused)."""
    from recsys.config import Config

    config = Config(
        verbosity=0, user_tower=args.user_tower, **({"embedding_dim": args.dim} if args.dim else {})
    )
    path = DATA / (
        f"serve_{args.users}x{args.items}_{args.per_user}_d{config.embedding_dim}_s{args.seed}"
        + ("_history" if args.user_tower == "history" else "")
    )
    if (path / "manifest.json").exists():
        print(f"reusing {path.relative_to(ROOT)}")
        return path
    import polars as pl

    from recsys.data.interactions import Interactions
    from recsys.data.vocabulary import Vocabulary
    from recsys.model.bundle import ModelBundle
    from recsys.model.training import build_model

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    popularity = 1.0 / np.arange(1, args.items + 1) ** 0.8
    popularity = popularity[rng.permutation(args.items)] / popularity.sum()
    users = np.repeat(np.arange(args.users, dtype=np.int32), args.per_user)
    items = rng.choice(args.items, size=users.size, p=popularity).astype(np.int32)
    times = np.tile(np.arange(args.per_user, dtype=float), args.users)  # an order for the history tower
    interactions = Interactions(users, items, args.users, args.items, timestamps=times)
    model = build_model(config, args.users, args.items, None, None, interactions)
    ModelBundle(
        model=model,
        config=config,
        user_vocab=Vocabulary(pl.Series("id", np.arange(args.users, dtype=np.int64)), "user"),
        item_vocab=Vocabulary(pl.Series("id", np.arange(args.items, dtype=np.int64)), "item"),
        seen=interactions.user_item_matrix(),
        metrics={"note": "benchmarks/serve.py: untrained model on synthetic interactions"},
    ).save(path)
    print(f"built {path.relative_to(ROOT)} in {time.perf_counter() - start:.0f} s")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(port: int, server: subprocess.Popen, limit_s: float = 600.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode} before answering")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer /health within {limit_s:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one HTTP/1.1 request on a keep-alive connection and read the whole response; its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def _request_bytes(port: int, method: str, url: str, body: str | None) -> bytes:
    payload = (body or "").encode()
    headers = f"{method} {url} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body is not None:
        headers += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return headers.encode() + b"\r\n" + payload


def run_level(port: int, make_request, clients: int, total: int, timeout: float, server_pid: int) -> dict:
    """`total` requests over `clients` concurrent keep-alive connections; latencies in seconds.

    The clients are coroutines on one event loop (raw HTTP/1.1 over asyncio streams): 64 clients
    cost this process a small share of a core, where 64 `http.client` threads took ~40 % of a
    2-core machine from the server they measure."""
    quotas = [total // clients + (1 if c < total % clients else 0) for c in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    async def client(c: int, ready: asyncio.Event, connected: list) -> None:
        rng = np.random.default_rng(1000 + c)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.wait_for(
                _exchange(reader, writer, _request_bytes(port, *make_request(rng))), timeout
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            errors[c] += 1  # warm-up: connect, first request
        connected.append(c)
        await ready.wait()
        for _ in range(quotas[c]):
            request = _request_bytes(port, *make_request(rng))
            start = time.perf_counter()
            try:
                ok = await asyncio.wait_for(_exchange(reader, writer, request), timeout) == 200
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                ok = False
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            latencies[c].append(time.perf_counter() - start)
            errors[c] += not ok
        writer.close()

    async def run() -> tuple[float, float, float]:
        ready, connected = asyncio.Event(), []
        tasks = [asyncio.create_task(client(c, ready, connected)) for c in range(clients)]
        while len(connected) < clients:
            await asyncio.sleep(0.01)
        start, cpu, own = time.perf_counter(), cpu_seconds(server_pid), time.process_time()
        ready.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - start, cpu_seconds(server_pid) - cpu, time.process_time() - own

    wall, cpu, client_cpu = asyncio.run(run())
    flat = np.array([x for per_client in latencies for x in per_client]) * 1000
    return {
        "requests": int(flat.size),
        "throughput": flat.size / wall,
        "p50": float(np.percentile(flat, 50)) if flat.size else float("nan"),
        "p99": float(np.percentile(flat, 99)) if flat.size else float("nan"),
        "errors": sum(errors),
        "server_cpu_ms": cpu * 1000 / max(flat.size, 1),
        "client_cpu_ms": client_cpu * 1000 / max(flat.size, 1),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    bundle = build_bundle(args)
    port = free_port()
    log = open(DATA / "serve_benchmark_server.log", "w")  # noqa: SIM115 (closed in the finally)
    command = [sys.executable, "-m", "recsys", "serve", "--bundle", str(bundle), "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        start = time.perf_counter()
        wait_healthy(port, server)
        print(f"server up in {time.perf_counter() - start:.1f} s (pid {server.pid}, port {port})")
        n = args.n

        def known_user(rng):
            return "GET", f"/recommend/{int(rng.integers(args.users))}?n={n}", None

        def history(length):
            def make(rng):
                items = rng.choice(args.items, size=length, replace=False).tolist()
                return "POST", "/recommend", json.dumps({"history": items, "n": n})

            return make

        scenarios = {
            "GET /recommend/{user}": known_user,
            "POST /recommend (10-item history)": history(10),
            "POST /recommend (50-item history)": history(50),
        }
        rows = []
        for name, make in scenarios.items():
            for clients in levels:
                result = run_level(port, make, clients, args.requests, args.timeout, server.pid)
                rows.append((name, clients, result))
                print(
                    f"  {name} x{clients}: {result['throughput']:.0f} req/s, p50 {result['p50']:.1f} ms, "
                    f"p99 {result['p99']:.1f} ms, server CPU {result['server_cpu_ms']:.2f} ms/request, "
                    f"clients' CPU {result['client_cpu_ms']:.2f} ms/request, "
                    f"{result['errors']} errors",
                    flush=True,
                )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()

    print()
    print(
        f"{args.users:,} users x {args.items:,} items, user tower {args.user_tower!r}, n={args.n}, "
        f"{args.requests:,} requests per row, one server process (uvicorn; ranking batched on one "
        "thread), clients on the same machine"
    )
    header = (
        f"{'request':34s} {'clients':>7s} {'req/s':>6s} {'p50 ms':>7s} {'p99 ms':>7s} "
        f"{'server CPU ms/req':>17s} {'client CPU':>10s} {'errors':>6s}  target"
    )
    print(header)
    print("-" * len(header))
    for name, clients, result in rows:
        target = TARGETS_MS[name]
        verdict = ""
        if clients == TARGET_CLIENTS:
            verdict = f"p99 <= {target:.0f} ms: {'met' if result['p99'] <= target else 'NOT met'}"
        print(
            f"{name:34s} {clients:7d} {result['throughput']:6.0f} {result['p50']:7.1f} {result['p99']:7.1f} "
            f"{result['server_cpu_ms']:17.2f} {result['client_cpu_ms']:10.2f} "
            f"{result['errors']:6d}  {verdict}"
        )
    print(f"(load average now {os.getloadavg()[0]:.1f}: other processes on the machine slow every row)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
