"""The server as the store's one writer, and the door other local processes use while it runs.

DuckDB lets one process hold a store file read-write, and while it does no other process may open
the file at all, not even to read. So while ``shipwise serve`` runs it is the store's one writer,
and every other local process — a CLI command, ``shipwise mcp`` over stdio, a scheduled sync —
has the server do its work:

- At start the server writes a *server file* beside the store (``<store>.serve.json``, mode 0600:
  its pid, its loopback URL and a random secret made for this run) and removes it when it stops.
  Whoever can read that file can read the store itself, so it grants no more than owning the store
  does: the secret is accepted only from a loopback client, and only while this run lasts.
- A command that finds the store locked (:class:`~shipwise.errors.StoreBusyError`) and a live
  server file sends its arguments to ``POST /local/run`` with the secret. The server runs the same
  command in one of its threads — the same code, its own DuckDB connection to the same database
  (:func:`~shipwise.store.duckdb_store.borrowing`), with its own transactions — and streams the
  command's output back as it is written; the client prints it and exits with the command's code.
  So the dashboard keeps answering while an import writes, and a failed command rolls back alone.
- ``shipwise mcp`` relays its stdio session to the server's ``/mcp`` (see
  :mod:`shipwise.mcp.relay`).

Commands sent this way run one at a time, in the order they arrive.
"""

from __future__ import annotations

import hmac
import io
import json
import os
import queue
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

LOOPBACK_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: the HTTP header a relayed request carries its secret in (the Authorization header stays free
#: for the caller's own token)
SECRET_HEADER = "x-shipwise-local"


def server_file(db: Path) -> Path:
    """Where the server running on ``db`` says so."""
    return db.with_name(db.name + ".serve.json")


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    url: str
    secret: str


def advertise(db: Path, url: str) -> ServerInfo:
    """Write the server file for this run (0600 from the start, moved into place whole)."""
    info = ServerInfo(os.getpid(), url, secrets.token_urlsafe(32))
    path = server_file(db)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"pid": info.pid, "url": info.url, "secret": info.secret}, fh)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return info


def withdraw(db: Path, info: ServerInfo) -> None:
    """Remove the server file if it is still this run's (a newer server may have replaced it)."""
    found = running_server(db, check_pid=False)
    if found is not None and found.secret == info.secret:
        server_file(db).unlink(missing_ok=True)


def running_server(db: Path, *, check_pid: bool = True) -> ServerInfo | None:
    """The server that holds ``db``, per its file; ``None`` when there is none or its process is
    gone (a server killed with -9 leaves its file behind)."""
    try:
        raw = json.loads(server_file(db).read_text())
        info = ServerInfo(int(raw["pid"]), str(raw["url"]), str(raw["secret"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_pid:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, someone else's: the secret decides
    return info


def secret_matches(info: ServerInfo | None, presented: str | None, client: str | None) -> bool:
    """Is ``presented`` this run's secret, from a loopback client?"""
    if info is None or not presented or client not in LOOPBACK_CLIENTS:
        return False
    return hmac.compare_digest(presented.encode(), info.secret.encode())


# -- output of a command run for another process ------------------------------------------------

class _Router(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while the server runs: a thread running a relayed command
    writes to its own sink, every other thread to the stream it replaced."""

    def __init__(self, original: TextIO, name: str) -> None:
        self.original = original
        self.name = name
        self.local = threading.local()

    def _target(self) -> Callable[[str], Any] | None:
        sink: Callable[[str], Any] | None = getattr(self.local, "sink", None)
        return sink

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as a text stream does (click probes with b"")
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        sink = self._target()
        if sink is None:
            return self.original.write(text)
        sink(text)
        return len(text)

    def flush(self) -> None:
        if self._target() is None:
            self.original.flush()

    def isatty(self) -> bool:
        return False if self._target() is not None else self.original.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8" if self._target() is not None else self.original.encoding

    def fileno(self) -> int:
        if self._target() is not None:
            raise io.UnsupportedOperation("a relayed command has no file descriptor")
        return self.original.fileno()


class _NoInput(io.TextIOBase):
    """``sys.stdin`` of a relayed command: empty (a prompt aborts; pass --yes instead)."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.relayed = threading.local()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        if getattr(self.relayed, "on", False):
            return ""
        return self.original.readline() if size is None or size < 0 else self.original.readline(size)

    def read(self, size: int | None = -1) -> str:
        if getattr(self.relayed, "on", False):
            return ""
        return self.original.read() if size is None or size < 0 else self.original.read(size)

    def isatty(self) -> bool:
        return False if getattr(self.relayed, "on", False) else self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()


class Relay:
    """Runs commands for other local processes: one at a time, output streamed as it is written."""

    def __init__(self, turn: threading.Lock | None = None) -> None:
        #: held while a command runs (shared with the server's other long writers)
        self._one = turn or threading.Lock()
        self._installed: tuple[_Router, _Router, _NoInput] | None = None

    def install(self) -> None:
        """Route this process's standard streams (undone by :meth:`uninstall`)."""
        if self._installed is None:
            out, err = _Router(sys.stdout, "stdout"), _Router(sys.stderr, "stderr")
            stdin = _NoInput(sys.stdin)
            self._installed = (out, err, stdin)
            sys.stdout, sys.stderr, sys.stdin = out, err, stdin

    def uninstall(self) -> None:
        if self._installed is not None:
            out, err, stdin = self._installed
            sys.stdout, sys.stderr, sys.stdin = out.original, err.original, stdin.original
            self._installed = None

    def run(self, job: Callable[[], int]) -> Iterator[bytes]:
        """Run ``job`` (a command: returns its exit code) in a thread of its own; yield its
        output as NDJSON lines, ``{"out": …}``/``{"err": …}``, then ``{"exit": code}``."""
        if self._installed is None:
            raise RuntimeError("Relay.install() first")
        out, err, stdin = self._installed
        events: queue.Queue[tuple[str, Any]] = queue.Queue()

        def target() -> None:
            with self._one:
                out.local.sink = lambda text: events.put(("out", text))
                err.local.sink = lambda text: events.put(("err", text))
                stdin.relayed.on = True
                code = 1
                try:
                    code = job()
                except BaseException as exc:  # a bug in the command: say so, keep the server up
                    events.put(("err", f"Error: the server could not run this command: {exc!r}\n"))
                finally:
                    out.local.sink = err.local.sink = None
                    stdin.relayed.on = False
                    events.put(("exit", code))

        threading.Thread(target=target, name="shipwise-relayed-command", daemon=True).start()
        while True:
            kind, value = events.get()
            if kind == "exit":
                yield _line("exit", value)
                return
            texts = [value]  # what else of the same stream arrived meanwhile goes in one line
            while True:
                try:
                    more_kind, more = events.get_nowait()
                except queue.Empty:
                    break
                if more_kind != kind:
                    yield _line(kind, "".join(texts))
                    if more_kind == "exit":
                        yield _line("exit", more)
                        return
                    kind, texts = more_kind, []
                texts.append(more)
            yield _line(kind, "".join(texts))


def _line(kind: str, value: Any) -> bytes:
    return (json.dumps({kind: value}) + "\n").encode()
