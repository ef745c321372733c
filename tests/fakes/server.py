"""The plumbing the fake HTTP services share: a real ``ThreadingHTTPServer`` on 127.0.0.1, faults
scripted by path (a status, headers such as ``Retry-After``, a body of the test's choosing, or the
real answer cut short), the requests received, and the time spent answering (a bench's "the fake's
own cost").

A fake subclasses :class:`FakeServer` and either answers everything itself
(:meth:`FakeServer.answer`, e.g. ServiceNow's headers and POSTs) or, for a JSON API read by GET,
says who may ask, what a refusal and an injected error look like in its vendor's shape, and answers
a GET (the default :meth:`FakeServer.answer` applies faults and truncation)::

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
    """A fake service on 127.0.0.1 (``url``); ``with`` starts and stops it."""

    #: ``HTTP/1.1`` keeps connections open between requests, as real services do
    protocol_version = "HTTP/1.0"

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        #: (path, query) of every request, in order
        self.requests: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        #: seconds spent answering (the fake's own cost, for benches)
        self.busy = 0.0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(self, pattern: str, status: int = 500, *, times: int = 1,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             truncate: int | None = None) -> None:
        """The next ``times`` requests whose path matches ``pattern`` get ``status`` (with
        ``body`` if given), or with ``truncate`` the real answer cut to that many bytes."""
        with self.lock:
            self.faults.append(Fault(pattern, status, times, dict(headers or {}), body, truncate))

    def count(self, pattern: str = "") -> int:
        with self.lock:
            return sum(1 for path, _ in self.requests if re.search(pattern, path))

    def received(self, path: str, query: Any) -> tuple[int, Fault | None]:
        """Log a request; the number answered before it, and the fault it gets if any."""
        with self.lock:
            before = len(self.requests)
            self.requests.append((path, query))
            fault = next((f for f in self.faults if f.times > 0 and re.search(f.pattern, path)),
                         None)
            if fault is not None:
                fault.times -= 1
        return before, fault

    # -- what a JSON-over-GET fake says (the default answer's hooks) ---------------------------

    def authorised(self, h: BaseHTTPRequestHandler) -> bool:
        raise NotImplementedError

    def refusal(self, h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        """The answer to a request :meth:`authorised` refused."""
        raise NotImplementedError

    def error(self, status: int) -> Any:
        return {"message": f"fault {status}"}

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        raise NotImplementedError

    def answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        """A JSON API read by GET: the scripted fault, else :meth:`refusal` or :meth:`route`."""
        parts = urlsplit(h.path)
        path = parts.path
        _, fault = self.received(path, parts.query)
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

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = fake.protocol_version

            def do_GET(self) -> None:
                fake._timed(self, "GET")

            def do_POST(self) -> None:
                fake._timed(self, "POST")

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

    def _timed(self, h: BaseHTTPRequestHandler, method: str) -> None:
        t0 = time.perf_counter()
        try:
            self.answer(h, method)
        finally:
            with self.lock:
                self.busy += time.perf_counter() - t0

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes,
             headers: dict[str, str] | None = None, ctype: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
