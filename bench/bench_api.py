"""Aggregate-read load on a real uvicorn server on loopback: requests/s, p50, p99.

Bounded: starts ``uvicorn`` in its own process on a free 127.0.0.1 port with a temporary
C2C_HOME and a small serving snapshot, sends a fixed number of requests from a few client
threads (httpx, keep-alive), prints the figures, stops the server. Prints only; asserts nothing.

    .venv/bin/python bench/bench_api.py [--requests 2000] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from api_support import write_serving_snapshot  # noqa: E402

from core.settings import Settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="c2c-bench-api-"))
    settings = Settings(home=home)
    rows = write_serving_snapshot(settings.serving_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "cli.serve_cmd:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env={**os.environ, "C2C_HOME": str(home)}, cwd=Path(__file__).resolve().parent.parent,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    queries = [
        {"limit": 50},
        {"metric": "hs_graduate", "limit": 20},
        {"reporting_lea": "1062166", "academic_year": "2022-23"},
        {"subgroup": "gender", "offset": 10, "limit": 10},
    ]
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = args.requests // args.threads
    errors = 0

    def worker(index: int) -> None:
        nonlocal errors
        local: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(per_thread):
                began = time.perf_counter()
                response = client.get("/v1/aggregates", params=queries[(index + i) % len(queries)])
                local.append(time.perf_counter() - began)
                bad += response.status_code != 200
        with lock:
            latencies.extend(local)
            errors += bad

    began = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    server.terminate()
    server.wait(timeout=10)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    print(f"aggregate reads: {len(latencies)} requests, {args.threads} client threads "
          f"(server in its own process), snapshot {rows} rows, {errors} non-200")
    print(f"throughput: {len(latencies) / elapsed:.0f} req/s")
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
