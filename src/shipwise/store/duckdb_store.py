"""The embedded store: a single DuckDB file with numbered, idempotent migrations.

All instants are stored as UTC ``TIMESTAMP`` (no time zone); the session time zone is pinned to
UTC so conversions never depend on the machine. Writers use :meth:`Store.transaction`, so a crash
leaves either the whole unit of work or none of it.

The store holds people's pseudonymised activity and the access log, so it is its owner's alone:
a process that opens a store file makes the files it creates from then on private (umask 077 —
DuckDB creates the write-ahead log afresh after every checkpoint, so only the umask reaches it),
and a store file (or WAL) of ours that others could read is made 0600 when opened.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from shipwise.errors import StoreBusyError, StoreError

SCHEMA_TABLE = "schema_migrations"
_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Capabilities:
    """What this engine supports; metrics ask, never branch on engine names."""

    name: str = "duckdb"
    ordered_set_aggregates: bool = True  # percentile_cont(p) WITHIN GROUP (ORDER BY x)
    list_columns: bool = True
    transactions: bool = True


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every packaged migration, in order."""
    found = []
    for entry in resources.files("shipwise.store.migrations").iterdir():
        m = _MIGRATION.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text()))
    return sorted(found)


def private_files() -> None:
    """Files this process creates from now on are readable by their owner only."""
    os.umask(os.umask(0o077) | 0o077)


def tighten(path: Path) -> None:
    """Make the store file and its WAL 0600 when they are ours and others could read them."""
    for f in (path, path.with_name(path.name + ".wal")):
        try:
            st = f.stat()
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(f, st.st_mode & 0o700 | 0o600)
        except FileNotFoundError:
            continue


#: (store file, its open connection) lent to the code running in this context: a command the
#: server runs for another process (:func:`borrowing`), whose ``Store.open`` of that file must
#: not try to take the file lock the server holds
_BORROWED: ContextVar[tuple[Path, Store] | None] = ContextVar(
    "shipwise_borrowed_store", default=None)

#: one facts refresh at a time per process, whichever connection runs it (the server's own, or a
#: cursor lent to an import): two would rebuild the same rows and one would fail on a conflict
REFRESH_LOCK = threading.RLock()


@contextmanager
def borrowing(path: Path, store: Store) -> Iterator[None]:
    """Within this context, ``Store.open(path)`` answers a :meth:`~Store.sibling` of ``store``
    (an independent connection to the same database, with its own transactions) instead of
    opening the file (which the process holding ``store`` has locked)."""
    token = _BORROWED.set((path.resolve(), store))
    try:
        yield
    finally:
        _BORROWED.reset(token)


def _lent(p: Path) -> Store | None:
    lent = _BORROWED.get()
    if lent is None:
        return None
    try:
        same = p.resolve() == lent[0]
    except OSError:
        return None
    return lent[1] if same else None


class Store:
    """A DuckDB-backed event store."""

    capabilities = Capabilities()

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path
        self._depth = 0

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, create: bool = False, read_only: bool = False,
             memory_limit: str | None = None) -> Store:
        """Open the store at ``path``; with ``create``, make it (and migrate) if missing."""
        p = Path(path)
        lent = _lent(p)
        if lent is not None:  # a command the server runs: its connection, already migrated
            return lent.sibling()
        if not p.exists() and not create:
            raise StoreError(
                f"no shipwise store at {p}", hint="run `shipwise init` (or `shipwise demo`) first"
            )
        private_files()
        if create:
            p.parent.mkdir(parents=True, exist_ok=True)
        tighten(p)
        try:
            con = duckdb.connect(str(p), read_only=read_only and p.exists())
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreBusyError(
                    f"{p} is in use by another shipwise process",
                    path=str(p), hint="stop it, or start `shipwise serve` and every command goes "
                    "through the server while it runs") from exc
            raise StoreError(f"cannot open {p}: {exc}", hint="is another shipwise process writing to it?") from exc
        store = cls(con, p)
        store._configure(memory_limit)
        if not read_only:
            store.migrate()
            return store
        store._check_version()
        if store.pending_migrations():
            # An older store opened for reading: upgrade it once (a writer), then read.
            store.close()
            cls.open(p, memory_limit=memory_limit).close()
            return cls.open(p, read_only=True, memory_limit=memory_limit)
        return store

    @classmethod
    def memory(cls) -> Store:
        store = cls(duckdb.connect(":memory:"), None)
        store._configure()
        store.migrate()
        return store

    def sibling(self) -> Store:
        """Another connection to this database, in this process, with its own transactions (a
        DuckDB cursor): a long write on it commits or rolls back alone while this one goes on."""
        store = Store(self.con.cursor(), self.path)
        store._configure()
        return store

    def _configure(self, memory_limit: str | None = None) -> None:
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit is not None:  # validated by the settings: digits and a unit
            self.con.execute(f"SET memory_limit = '{memory_limit.strip()}'")
        # DuckDB draws a progress bar on standard output for any query over two seconds (a
        # refresh or migration of a large store): it would land in `--format csv > file`
        self.con.execute("SET enable_progress_bar = false")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [SCHEMA_TABLE]
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = self.con.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA_TABLE}").fetchone()
        return int(row[0]) if row else 0

    def _check_version(self) -> None:
        latest = migrations()[-1][0]
        current = self.schema_version()
        if current > latest:
            raise StoreError(
                f"store schema version {current} is newer than this shipwise ({latest})",
                hint="upgrade shipwise",
            )

    def pending_migrations(self) -> list[int]:
        """Packaged migrations this store has not applied, by number: a gap (a migration merged
        after a later one was applied, as two branches adding migrations in parallel can) is applied too."""
        if not self.schema_version():
            return [v for v, _, _ in migrations()]
        done = {int(r[0]) for r in self.con.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchall()}
        return [v for v, _, _ in migrations() if v not in done]

    def migrate(self) -> list[int]:
        """Apply every migration not yet applied, each in its own transaction. Idempotent."""
        self._check_version()
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        applied = []
        pending = set(self.pending_migrations())
        for version, name, sql in migrations():
            if version not in pending:
                continue
            with self.transaction():
                self.con.execute(sql)
                self.con.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (version, name) VALUES (?, ?)", [version, name]
                )
            applied.append(version)
        return applied

    # -- units of work ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A unit of work: committed whole on success, rolled back whole on any error."""
        if self._depth:
            self._depth += 1
            try:
                yield self.con
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._depth = 0

    # -- small helpers ---------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        cols = [d[0] for d in cur.description or []]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def count(self, table: str) -> int:
        row = self.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(row[0]) if row else 0


#: lends an open store for one unit of work (the server's shared, locked connection; or a store
#: a caller already holds, through :func:`lend`)
StoreSession = Callable[[], AbstractContextManager[Store]]


def lend(store: Store) -> StoreSession:
    """A :data:`StoreSession` for a store the caller holds (it stays open afterwards). Its units
    of work take turns (one connection is not for two threads at once: evidence sources that
    read the store are queried in parallel)."""
    lock = threading.RLock()

    @contextmanager
    def session() -> Iterator[Store]:
        with lock:
            yield store

    return session
