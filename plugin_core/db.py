"""The database handle: engine set-up per backend, transactions, migrations, and upserts.

SQLite (the default, a file in the instance folder) runs in WAL mode so readers never wait for
the writer; writing transactions start with BEGIN IMMEDIATE so two writers queue instead of
failing half-way. PostgreSQL is used through psycopg 3 when `PARCOURS_DATABASE_URL` names it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from parcours.errors import StorageError

if TYPE_CHECKING:
    from flask import Flask

MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        # Straight to the driver: this runs for every transaction (each webhook ack), and the
        # statement needs none of SQLAlchemy's execution machinery.
        connection.connection.driver_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]


class _WriterQueue:
    """Queues SQLite writers of every process on an OS file lock.

    SQLite allows one writer; one that finds the database locked sleeps in its busy handler
    (1 ms, 2 ms, 5 ms, ... between tries), so under concurrent writes (several web workers
    acknowledging webhooks) most of the time goes to sleeping. Waiting on `flock` instead wakes
    the next writer the moment the lock is released. The thread lock orders the threads of one
    process, which share the file.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._file: tuple[int, TextIO] | None = None  # (pid, file): reopened after a fork
        self._owner: int | None = None  # the thread holding the lock

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self._owner == threading.get_ident():  # SQLite could never grant it: fail, not hang
            raise StorageError("a write transaction was opened inside another one")
        with self._threads:
            self._owner = threading.get_ident()
            if self._file is None or self._file[0] != os.getpid():
                self._file = (os.getpid(), self._path.open("a"))
            handle = self._file[1]
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                self._owner = None
                fcntl.flock(handle, fcntl.LOCK_UN)


class Database:
    """One per process; `init_app` reads `DATABASE_URL` (default: SQLite in the instance folder)."""

    def __init__(self, url: str | None = None) -> None:
        self._engine: Engine | None = None
        self._writers: _WriterQueue | None = None
        if url is not None:
            self.configure(url)

    def init_app(self, app: Flask) -> None:
        url = app.config.get("DATABASE_URL") or (
            f"sqlite:///{Path(app.instance_path, 'parcours.db')}"
        )
        if str(url).startswith("sqlite:///"):
            Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        self.configure(str(url))
        app.extensions["parcours.db"] = self

    def configure(self, url: str) -> None:
        url = normalise_url(url)
        if url.startswith("sqlite"):
            # Pooled connections: opening one runs the pragmas, and closing the last one makes
            # SQLite checkpoint the WAL; both would otherwise cost every short transaction
            # (the webhook ack path) about a millisecond. A connection is used by one thread at
            # a time, handed between threads by the pool.
            engine = create_engine(url, poolclass=QueuePool, pool_size=5, max_overflow=10,
                                   connect_args={"check_same_thread": False})
            _sqlite_pragmas(engine)
            database = engine.url.database
            if database and database != ":memory:":
                self._writers = _WriterQueue(Path(database + ".writer-lock"))
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                   connect_args={"connect_timeout": 10})
        self._engine = engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StorageError("the database is not configured")
        return self._engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any error."""
        queue = self._writers.hold() if self._writers is not None else nullcontext()
        with queue, self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    # -- migrations ---------------------------------------------------------------------------
    def _alembic(self, conn: Connection | None = None) -> AlembicConfig:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        return config

    def upgrade(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        try:
            with self.engine.begin() as conn:
                command.upgrade(self._alembic(conn), "head")
        except OperationalError as exc:
            raise StorageError(f"cannot reach the database at {self.url}: {exc.orig}") from None

    def check(self) -> None:
        """Fail with a clear StorageError when the database is unreachable or not migrated."""
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise StorageError(f"cannot reach the database at {self.url}: {exc.orig}") from None
        head = ScriptDirectory.from_config(self._alembic()).get_current_head()
        if current != head:
            raise StorageError(
                f"the database at {self.url} is at revision {current or 'none'}, expected "
                f"{head}: run `parcours db upgrade`"
            )


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
           keys: Sequence[str], *, add: Sequence[str] = (), replace: Sequence[str] = (),
           newer: str | None = None) -> None:
    """INSERT rows, or on a key conflict add to counters (`add`) and overwrite (`replace`).

    `newer` names a column that must grow for `replace` to happen: an older snapshot never
    overwrites a newer one.
    """
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    values: dict[str, Any] = {c: table.c[c] + stmt.excluded[c] for c in add}
    values.update({c: stmt.excluded[c] for c in replace})
    where = None if newer is None else stmt.excluded[newer] > table.c[newer]
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=values, where=where)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))


def chunks(items: Sequence[Any], size: int = 900) -> Iterator[Sequence[Any]]:
    """Slices small enough for every backend's limit on bound parameters."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def advisory_lock(conn: Connection, name: str) -> None:
    """Serialise, until the transaction ends, everyone who takes the lock `name` (PostgreSQL;
    SQLite's write transaction already serialises writers)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
