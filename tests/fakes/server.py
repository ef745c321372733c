"""The HTTP scaffolding of the fake on-call services (PagerDuty, Opsgenie): a real
:class:`ThreadingHTTPServer` on 127.0.0.1, every request recorded, faults injected by path
pattern (an error status with headers — a 429 with ``Retry-After`` —, or the real answer cut short),
and the time spent answering counted (the fake's own cost, for benches).

A subclass says who may ask (:meth:`FakeServer.authorised`), what a refusal and an injected error
look like in its vendor's shape, and answers a GET (:meth:`FakeServer.route`)::

    class FakeVendor(FakeServer):
        def authorised(self, h): ...
        def refusal(self, h): return 401, {"message": "..."}
        def error(self, status): return {"message": f"fault {status}"}
        def route(self, path, q): return 200, {...}
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    pattern: str
    status: int = 500
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    #: serve the real answer cut to this many bytes instead of an error status
    truncate: int | None = None


class FakeServer:
    """A fake API on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        #: seconds spent answering (the fake's own cost, for benches)
        self.busy = 0.0
        self._server: ThreadingHTTPServer | None = None

    # -- what a subclass says -------------------------------------------------------------------

    def authorised(self, h: BaseHTTPRequestHandler) -> bool:
        raise NotImplementedError

    def refusal(self, h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        """The answer to a request :meth:`authorised` refused."""
        raise NotImplementedError

    def error(self, status: int) -> Any:
        return {"message": f"fault {status}"}

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        raise NotImplementedError

    # -- for tests ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(self, pattern: str, status: int = 500, *, times: int = 1,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             truncate: int | None = None) -> None:
        """The next ``times`` requests whose path matches ``pattern`` get ``status`` (or, with
        ``truncate``, the real answer cut to that many bytes)."""
        with self.lock:
            self.faults.append(Fault(pattern, status, times, dict(headers or {}), body, truncate))

    def count(self, pattern: str = "") -> int:
        """Requests so far whose path matches ``pattern``."""
        with self.lock:
            return sum(1 for path, _ in self.requests if re.search(pattern, path))

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- serving --------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        t0 = time.perf_counter()
        try:
            self._answer(h)
        finally:
            with self.lock:
                self.busy += time.perf_counter() - t0

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        with self.lock:
            self.requests.append((path, parts.query))
            fault = next((f for f in self.faults if f.times > 0 and re.search(f.pattern, path)),
                         None)
            if fault is not None:
                fault.times -= 1
        if fault is not None and fault.truncate is None:
            body = fault.body if fault.body is not None else json.dumps(
                self.error(fault.status)).encode()
            self.send(h, fault.status, body, fault.headers)
            return
        if not self.authorised(h):
            status, result = self.refusal(h)
        else:
            status, result = self.route(path, parse_qs(parts.query, keep_blank_values=True))
        body = json.dumps(result).encode()
        if fault is not None and fault.truncate is not None:
            body = body[:fault.truncate]
        self.send(h, status, body)

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes,
             headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
