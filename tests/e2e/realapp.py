"""A small real service for end-to-end tests: an HTTP server whose request handling is the
``handler.py`` of a git checkout (what was deployed), calling a downstream service when told,
and exposing its own health as Prometheus gauges over the last 5 s on ``/metrics``:
``app_requests_per_s``, ``app_error_rate`` and ``app_latency_p95_ms`` (label ``service``).

    python realapp.py NAME PORT CHECKOUT [DOWNSTREAM_URL]
"""

from __future__ import annotations

import collections
import importlib.util
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, PORT, CHECKOUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DOWNSTREAM = sys.argv[4] if len(sys.argv) > 4 else ""
spec = importlib.util.spec_from_file_location("handler", f"{CHECKOUT}/handler.py")
assert spec and spec.loader
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)

WINDOW = 5.0
seen: collections.deque[tuple[float, bool, float]] = collections.deque()
lock = threading.Lock()
count = [0]


def record(ok: bool, ms: float) -> None:
    now = time.time()
    with lock:
        seen.append((now, ok, ms))
        while seen and seen[0][0] < now - WINDOW:
            seen.popleft()


class H(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/metrics":
            now = time.time()
            with lock:
                recent = [x for x in seen if x[0] >= now - WINDOW]
            n = len(recent)
            errors = sum(1 for _, ok, _ in recent if not ok)
            lat = sorted(ms for _, _, ms in recent)
            p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
            body = "".join(f'{m}{{service="{NAME}"}} {v}\n' for m, v in (
                ("app_requests_per_s", n / WINDOW), ("app_error_rate", errors / n if n else 0.0),
                ("app_latency_p95_ms", p95)))
            self._answer(200, body)
            return
        t0 = time.perf_counter()
        with lock:
            count[0] += 1
            i = count[0]
        try:
            if DOWNSTREAM:
                with urllib.request.urlopen(DOWNSTREAM, timeout=2) as r:
                    r.read()
            out = str(handler.handle(i))
            ok = True
        except Exception as exc:  # the service answers 500 on any failure
            out, ok = f"error: {exc!r}", False
        record(ok, (time.perf_counter() - t0) * 1000)
        self._answer(200 if ok else 500, out)

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: object) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
