"""The demo talks to the API as a client would: a real uvicorn server on a loopback port, and
the standard library's HTTP client (no test-only dependency such as Starlette's TestClient)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import C2CError, Conflict

START_TIMEOUT_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class ServerHandle:
    """A uvicorn server running in a background thread of this process."""

    def __init__(self, server: Any, thread: threading.Thread, base_url: str) -> None:
        self.server, self.thread, self.base_url = server, thread, base_url

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C makes uvicorn exit)."""
        try:
            while self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def serve_in_thread(app: Any, port: int, host: str = "127.0.0.1") -> Iterator[ServerHandle]:
    """Serve ``app`` on ``host:port`` until the block ends (or until ``wait`` returns)."""
    import uvicorn

    if not port_is_free(port, host):
        raise Conflict(f"port {port} on {host} is in use; choose another with --port")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    # uvicorn installs signal handlers only on the main thread; here Ctrl-C reaches `wait`.
    thread = threading.Thread(target=server.run, name="c2c-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise C2CError(f"the API did not start on {host}:{port}")
        time.sleep(0.05)
    handle = ServerHandle(server, thread, f"http://{host}:{port}")
    try:
        yield handle
    finally:
        handle.stop()


class ApiError(C2CError):
    """The API answered with an error status (message carries its problem detail)."""


class ApiClient:
    """JSON over HTTP with a bearer key; raises ApiError on any non-2xx answer."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, path: str, key: str | None = None,
                body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url + path
        if not url.startswith(("http://127.0.0.1", "http://localhost")):
            raise ValueError("the demo client only talks to a loopback server")
        req = urllib.request.Request(url, data=data, headers=headers,  # noqa: S310
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise ApiError(f"{method} {path} -> HTTP {exc.code}: {detail}") from None
        return json.loads(payload) if payload else None

    def post(self, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, key, body)

    def get(self, path: str, key: str | None = None) -> Any:
        return self.request("GET", path, key)
