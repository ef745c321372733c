"""Background work, so webhook answers never wait: investigations of alarms, in order (in worker
processes, :class:`InvestigationPool`, or a thread of the server), and syncs of the repositories
GitHub/GitLab webhooks name, coalesced."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shipwise
from shipwise.app.alarms import InvestigationError, InvestigationInterrupted
from shipwise.investigate.settings import InvestigateSettings

log = logging.getLogger(__name__)

#: a job whose worker process died this many times is recorded as failed (a poison alarm)
MAX_ATTEMPTS = 3


class InvestigationWorker:
    """A single worker thread fed by a queue of intake id batches."""

    def __init__(self, run: Callable[[list[str]], object], *, name: str = "shipwise-investigations"):
        self._run = run
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._busy = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, ids: list[str]) -> None:
        if ids:
            self._queue.put(list(ids))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Batches queued or running."""
        return self._queue.qsize() + (1 if self._busy.is_set() else 0)

    def stop(self, timeout: float | None = None) -> bool:
        """Finish what is queued, then stop; False when ``timeout`` passed first (the thread is a
        daemon, and rows left ``accepted``/``investigating`` resume on the next start)."""
        if not self._thread.is_alive():
            return True
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("investigation worker still busy after %.0f s; %d batch(es) left for the "
                        "next start", timeout or 0, self.pending)
            return False
        return True

    def _loop(self) -> None:
        while True:
            ids = self._queue.get()
            if ids is None:
                return
            self._busy.set()
            try:
                self._run(ids)
            except Exception:
                log.exception("investigating %s failed", ", ".join(ids))
            finally:
                self._busy.clear()


class WorkerLostError(Exception):
    """The investigation worker process died (killed, out of memory) before answering."""


class WorkerProcess:
    """One ``python -m shipwise.http.investigator`` child: started on first use, one job at a
    time over its stdin/stdout, restarted after it dies."""

    def __init__(self, opts: InvestigateSettings, name: str) -> None:
        self._opts = opts
        self.name = name
        self.proc: subprocess.Popen[str] | None = None
        self.started = 0
        #: a job is sent and its answer not read yet
        self.busy = False

    def _spawn(self) -> subprocess.Popen[str]:
        src = str(Path(shipwise.__file__).resolve().parents[1])  # the same code as this server
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else ""),
               "SHIPWISE_WORKER_PARENT": str(os.getpid())}
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipwise.http.investigator"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env, bufsize=1,
            start_new_session=True)  # Ctrl-C of the server does not reach it: the server stops it
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"investigate": self._opts.model_dump(mode="json")}) + "\n")
        proc.stdin.flush()
        self.started += 1
        log.info("%s: investigation worker process %d started", self.name, proc.pid)
        return proc

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """The answer to one job; :class:`WorkerLostError` when the process died first."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._spawn()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        self.busy = True
        try:
            proc.stdin.write(json.dumps(job, default=str) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError, ValueError) as exc:
            line = ""
            log.debug("worker pipe: %s", exc)
        finally:
            self.busy = False
        if not line:
            code = proc.wait()
            self.proc = None
            raise WorkerLostError(f"the investigation worker process {proc.pid} exited with "
                                  f"{_exit(code)} before answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self, timeout: float) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end of jobs: it exits
            proc.wait(timeout)
        except (subprocess.TimeoutExpired, OSError):
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


def _exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


#: investigates a batch of alarm ids, asking ``run`` to investigate each one elsewhere
BatchFn = Callable[[list[str], Callable[[str, dict[str, Any]], dict[str, Any]]], object]
#: the job for one alarm (its store slice read under the server's lock)
JobFn = Callable[[str, dict[str, Any]], dict[str, Any]]


class InvestigationPool:
    """Investigations in ``size`` worker processes, so the engine's CPU never competes with
    the event loop for this process's interpreter.

    ``size`` threads take batches from one queue; each owns a :class:`WorkerProcess`, started
    lazily. Per alarm the thread builds the job (``job``: the alarm and the store slice, read in
    one short query under the store lock), the process investigates, and ``batch`` (the intake's
    :func:`~shipwise.app.alarms.start_investigations`) writes the record with the row's status
    in one transaction. A process that dies mid-job (``kill -9``, out of memory) is seen at once
    (end of its stdout) and the same alarm is sent to a fresh process, up to
    :data:`MAX_ATTEMPTS` times; nothing the dead one did is kept, as it wrote nothing.
    """

    def __init__(self, batch: BatchFn, job: JobFn, opts: InvestigateSettings, size: int = 1,
                 *, name: str = "shipwise-investigations") -> None:
        self._batch = batch
        self._job = job
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self.processes = [WorkerProcess(opts, f"{name}-{i}") for i in range(size)]
        self._threads = [threading.Thread(target=self._loop, args=(p,), name=p.name, daemon=True)
                         for p in self.processes]
        self._busy = 0
        self._lock = threading.Lock()
        self._stopping = False
        self.lost = 0  # worker processes that died mid-job

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def submit(self, ids: list[str]) -> None:
        if ids:
            self._queue.put(list(ids))

    @property
    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self._busy

    @property
    def pids(self) -> list[int]:
        return [p for w in self.processes if (p := w.pid) is not None]

    def stop(self, timeout: float | None = None) -> bool:
        """Finish what is queued within ``timeout``, then stop the processes; what is left stays
        pending in the store and resumes on the next start."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        done = not any(t.is_alive() for t in self._threads)
        self._stopping = True
        if not done:
            log.warning("investigations still running after %.0f s; %d batch(es) left for the next "
                        "start", timeout or 0, self.pending)
            for w in self.processes:
                w.kill()  # its job is interrupted: the row stays pending
            for t in self._threads:
                t.join(5)
        for w in self.processes:
            w.stop(5)
        return done

    def _loop(self, worker: WorkerProcess) -> None:
        def run(alarm_id: str, alarm: dict[str, Any]) -> dict[str, Any]:
            job = self._job(alarm_id, alarm)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                if self._stopping:  # past the drain: no new process, the row stays pending
                    raise InvestigationInterrupted("the server is stopping")
                try:
                    answer = worker.run(job)
                except WorkerLostError as exc:
                    if self._stopping:
                        raise InvestigationInterrupted(str(exc)) from exc
                    self.lost += 1
                    log.warning("alarm %s: %s (attempt %d of %d)", alarm_id, exc, attempt,
                                MAX_ATTEMPTS)
                    if attempt == MAX_ATTEMPTS:
                        raise
                    continue
                if "error" in answer:
                    raise InvestigationError(answer["error"])
                record: dict[str, Any] = answer["record"]
                return record
            raise AssertionError("unreachable")

        while True:
            ids = self._queue.get()
            if ids is None or self._stopping:
                return
            with self._lock:
                self._busy += 1
            try:
                self._batch(ids, run)
            except InvestigationInterrupted:
                log.info("investigations interrupted by the shutdown; they resume on the next start")
            except Exception:
                log.exception("investigating %s failed", ", ".join(ids))
            finally:
                with self._lock:
                    self._busy -= 1


class SyncWorker:
    """One background thread that syncs the repositories webhooks name, coalescing bursts.

    A push, its workflow runs and their deployment statuses arrive as a dozen deliveries within
    seconds; each names the same repository. The worker waits ``delay`` seconds after the first
    one, then syncs every distinct (source, scope) queued meanwhile once.
    """

    def __init__(self, run: Callable[[str, str], object], *, delay: float = 2.0,
                 name: str = "shipwise-webhook-sync"):
        self._run = run
        self._delay = delay
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._busy = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, source: str, scope: str) -> None:
        self._queue.put((source, scope))

    @property
    def pending(self) -> int:
        return self._queue.qsize() + (1 if self._busy.is_set() else 0)

    def stop(self, timeout: float | None = None) -> bool:
        if not self._thread.is_alive():
            return True
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            self._busy.set()
            keys = {first}
            stop = False
            deadline = time.monotonic() + self._delay
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                keys.add(more)
            for source, scope in sorted(keys):
                try:
                    self._run(source, scope)
                except Exception:
                    log.exception("syncing %s %s after a webhook failed", source, scope)
            self._busy.clear()
            if stop:
                return
