"""Private PostgreSQL and Redis servers that a fault scenario may crash, restart or freeze.

The machine's shared services (127.0.0.1:5432 and :6379) serve other tests and CI: a fault
scenario never touches them, and starts its own instance on a free port in a temporary folder
instead. PostgreSQL's `initdb` and `pg_ctl` refuse to run as root, so as root they run as the
`postgres` user (`runuser`), which owns the data folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from parcours.errors import ParcoursError

__all__ = ["PG_BIN", "PrivatePostgres", "PrivateRedis", "ServiceMissing", "free_port",
           "private_postgres", "private_redis"]

PG_BIN = Path(os.environ.get("PARCOURS_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ServiceMissing(ParcoursError):
    """A server binary a scenario needs is not installed here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust authentication, loopback only)."""

    def __init__(self, folder: Path) -> None:
        for tool in ("initdb", "pg_ctl"):
            if not (PG_BIN / tool).exists():
                raise ServiceMissing(f"{PG_BIN / tool} is missing (Debian: postgresql-15)")
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_owner:
            shutil.chown(folder, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync", "-E", "UTF8")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as_owner, *command], capture_output=True, text=True,
                              check=False, timeout=120)
        if done.returncode:
            raise ParcoursError(f"{Path(command[0]).name} failed: {done.stderr[-1000:]}")

    def _ctl(self, *args: str) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=60")
        self._ctl("-l", str(self.folder / "postgres.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: no checkpoint, connections cut, recovery at the next start."""
        self._ctl("-m", mode, "stop")

    def close(self) -> None:
        with suppress(ParcoursError):  # already stopped
            self.stop("immediate")


class PrivateRedis:
    """A redis-server of our own, without persistence (a restart empties the queue)."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServiceMissing("redis-server is missing (Debian: redis-server)")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ParcoursError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        """Gone at once, queue and all: clients get 'connection refused' until `start`."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def freeze(self) -> None:
        """Unreachable, not refused: connections open but nothing ever answers (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
        self.kill()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="parcours-pg-"))
    server = None
    try:
        server = PrivatePostgres(folder)
        yield server
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    try:
        yield server
    finally:
        server.close()
