"""A real HTTP server on 127.0.0.1 in a thread, for tests of outbound calls (JWKS, FHIR).

Routes map a path (with query) to a handler returning (status, headers, body); every
request is recorded with its headers so tests can assert what the service sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[["Seen"], Reply]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Loopback:
    base_url: str
    routes: dict[str, Route | Reply | Any] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def json(self, path: str, body: Any, status: int = 200) -> None:
        self.routes[path] = (
            status,
            {"Content-Type": "application/json"},
            json.dumps(body).encode(),
        )


@contextmanager
def loopback_server() -> Iterator[Loopback]:
    state = Loopback(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen = Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
            state.seen.append(seen)
            route = state.routes.get(self.path)
            if route is None:
                status, headers, body = 404, {"Content-Type": "application/json"}, b"{}"
            elif callable(route):
                status, headers, body = route(seen)
            else:
                status, headers, body = route
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
