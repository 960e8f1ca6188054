"""`parcours bench faults`: deliveries acknowledged, lost and doubled when things break.

Each scenario runs Parcours as it runs in production (`parcours serve` under gunicorn, and
`parcours worker`) on its own database, drives signed Standard Webhooks deliveries at it at a
steady rate from a sender that retries every unacknowledged delivery, as platforms do, breaks
something mid-load, mends it, and counts:

- `acked`: deliveries answered 200;
- `lost`: acknowledged deliveries whose event never got recorded (must be 0);
- `duplicates`: events recorded, or counted in the rollups, more than once (must be 0);
- `refused`: answers other than 200 while it was broken (the sender retried them);
- `recovery_seconds`: from the end of the fault (process restarted, service back, space
  freed) until deliveries are acknowledged again and every one acknowledged before is recorded.

Each delivery carries one event with its own key, of its own shopper, so counting events by key
tells loss from duplication. The shared PostgreSQL and Redis of the machine are never touched:
scenarios that crash or freeze them start private ones (`bench/services.py`). Platform APIs
answering 429, 5xx or too late need the fake Shopify and WooCommerce, which are test code: those
scenarios are in tests/test_faults.py, with the same figures.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, text

from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.bench.services import ServiceMissing, free_port, private_postgres, private_redis
from parcours.credentials import Vault, generate_key, set_secret
from parcours.db import Database, chunks
from parcours.errors import ParcoursError
from parcours.standard_webhooks import sign

__all__ = ["SCENARIOS", "ServiceMissing", "run"]

STORE = "faults"
SECRET = "whsec_" + "ZmF1bHQtc2NlbmFyaW8tc2VjcmV0LTMyYnl0ZXMhIQ=="  # throwaway, this bench only
COMMAND = [sys.executable, "-m", "parcours.cli"]
SENDER_TIMEOUT = 5.0  # Shopify gives up on a webhook answer after 5 s
RETRY_PAUSE = 0.25  # the sender's pause before retrying a refused delivery (platforms: longer)


# -- the deployment under test ------------------------------------------------------------------
class Deployment:
    """One database with the custom store STORE, and the Parcours processes running on it."""

    def __init__(self, folder: Path, database_url: str, redis_url: str | None = None
                 ) -> None:
        keys = generate_key()
        db = Database(database_url)
        db.upgrade()
        with db.write() as conn:
            create_store(conn, STORE, account="faults", platform="custom")
            set_secret(conn, Vault(keys), get_store(conn, STORE).id, SECRET)
        db.engine.dispose()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith("PARCOURS_")}
        self.env.update({"PARCOURS_DATABASE_URL": database_url, "PARCOURS_SECRET_KEYS": keys,
                         "PARCOURS_INSTANCE_PATH": str(folder / "instance"),
                         "PARCOURS_INBOX_BATCH": "25"})
        if redis_url:
            self.env["PARCOURS_REDIS_URL"] = redis_url
        self.logs = folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, args: list[str], clock: str | None) -> subprocess.Popen[bytes]:
        command = faketime(clock) if clock else COMMAND
        # A session of its own: a SIGKILL of the group takes gunicorn's master and workers.
        with (self.logs / f"{name}.log").open("ab") as log:
            return subprocess.Popen([*command, *args], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def serve(self, clock: str | None = None) -> None:
        self.server = self._start("server", ["serve", "--port", str(self.port),
                                             "--workers", "2"], clock)
        deadline = time.monotonic() + 60
        while not _answers(f"{self.url}/healthz"):
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise ParcoursError(f"the server did not start: {self.log('server')[-1500:]}")
            time.sleep(0.1)

    def work(self, clock: str | None = None) -> None:
        self.workers.append(self._start("worker", ["worker", "--workers", "2"], clock))

    def kill_server(self) -> None:
        assert self.server is not None
        _kill_group(self.server)
        self.server = None

    def kill_workers(self) -> None:
        for worker in self.workers:
            _kill_group(worker)
        self.workers = []

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to each process group (a faketime wrapper would not pass it on), then
        SIGKILL to whatever is left of it."""
        running = [p for p in (self.server, *self.workers) if p is not None]
        for process in running:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            _kill_group(process)
        self.server, self.workers = None, []


# libfaketime 0.9.10 fails clock_nanosleep() with EINVAL once monotonic clocks are left alone,
# so the skewed process sleeps on a never-set Event instead (a monotonic condition wait).
SKEWED_MAIN = ("import threading, time; time.sleep = threading.Event().wait; "
               "from parcours.cli import main; main()")


def faketime(offset: str) -> list[str]:
    """The command that runs `parcours` with its wall clock `offset` away (libfaketime), as
    on a machine whose clock is off: monotonic clocks (sleeps, timeouts) are per machine and
    stay true."""
    binary = shutil.which("faketime")
    if binary is None:
        raise ServiceMissing("faketime is missing (Debian: faketime)")
    return ["env", "FAKETIME_DONT_FAKE_MONOTONIC=1", binary, "-f", offset, sys.executable,
            "-c", SKEWED_MAIN]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


# -- the load -------------------------------------------------------------------------------------
@dataclass
class Load:
    """`total` deliveries, `rate` per second, each retried until it is answered 200."""

    url: str
    total: int
    rate: float
    acked: dict[int, float] = field(default_factory=dict)  # delivery -> when acknowledged
    answers: Counter[str] = field(default_factory=Counter)  # status (or error) -> count
    refusals: list[str] = field(default_factory=list)  # a few non-200 bodies, as answered
    lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, number: int) -> bytes:
        event = {"name": "page_viewed", "occurred_at": "2026-11-20T10:00:00Z",
                 "key": f"fault:{number}", "identities": {"anonymous_id": f"shopper-{number}"},
                 "properties": {"url": f"https://shop.example/p/{number}"}}
        return json.dumps({"events": [event]}).encode()

    def _deliver(self, number: int) -> None:
        session, body = requests.Session(), self.body(number)
        while True:
            stamp = int(time.time())
            headers = {"content-type": "application/json", "webhook-id": f"msg-{number}",
                       "webhook-timestamp": str(stamp),
                       "webhook-signature": sign(SECRET, f"msg-{number}", stamp, body)}
            try:
                answer = session.post(f"{self.url}/webhooks/custom/{STORE}", data=body,
                                      headers=headers, timeout=SENDER_TIMEOUT)
                outcome = str(answer.status_code)
            except requests.RequestException as exc:
                answer, outcome = None, type(exc).__name__
            with self.lock:
                self.answers[outcome] += 1
                if answer is not None and answer.status_code == 200:
                    self.acked[number] = time.monotonic()
                    if answer.json().get("duplicate"):  # stored by an attempt never answered
                        self.answers["200 already stored"] += 1
                    return
                if answer is not None and len(self.refusals) < 5:
                    self.refusals.append(f"{answer.status_code} {answer.text[:300]}")
            time.sleep(RETRY_PAUSE)

    def run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as senders:
            for number in range(self.total):
                delay = started + number / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                senders.submit(self._deliver, number)

    @contextmanager
    def running(self) -> Iterator[Load]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        yield self
        thread.join(timeout=300)

    def acked_before(self, moment: float) -> list[int]:
        with self.lock:
            return [n for n, at in self.acked.items() if at <= moment]

    def first_ack_after(self, moment: float) -> float | None:
        with self.lock:
            later = [at for at in self.acked.values() if at > moment]
        return min(later) if later else None

    def refused(self) -> int:
        return sum(count for outcome, count in self.answers.items()
                   if not outcome.startswith("200"))


# -- counting -----------------------------------------------------------------------------------
def _recorded(db: Database, numbers: list[int]) -> set[int]:
    """The deliveries among `numbers` whose event is recorded."""
    found: set[int] = set()
    with db.read() as conn:
        for part in chunks([f"fault:{n}" for n in numbers]):
            found.update(int(key.split(":")[1]) for key in conn.execute(
                select(t.events.c.key).where(t.events.c.key.in_(part))).scalars())
    return found


def _done(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.inbox).where(
            t.inbox.c.status == "done")).scalar_one())


def _duplicates(db: Database) -> int:
    """Events stored twice under one key, plus rollup counts beyond the events stored."""
    with db.read() as conn:
        rows, keys = conn.execute(select(func.count(), func.count(t.events.c.key.distinct()))
                                  ).one()
        counted = conn.execute(select(func.coalesce(func.sum(t.event_rollups.c.events), 0))
                               ).scalar_one()
    return int(rows - keys) + max(0, int(counted) - int(rows))


def settle(db: Database, load: Load, fault_end: float, seconds: float = 150) -> float:
    """Wait until deliveries are acknowledged after `fault_end` and every delivery acknowledged
    before it is recorded; the seconds that took (the recovery time), or raise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        first = load.first_ack_after(fault_end)
        before = load.acked_before(fault_end)
        if first is not None and len(_recorded(db, before)) == len(before):
            return round(max(first, time.monotonic()) - fault_end, 2)
        time.sleep(0.2)
    raise ParcoursError(f"not recovered {seconds:.0f} s after the fault ended")


def drained(db: Database, load: Load, seconds: float = 300) -> float:
    """Seconds from the last acknowledgement until every acknowledged delivery is recorded."""
    deadline = time.monotonic() + seconds
    acked = sorted(load.acked)
    while len(_recorded(db, acked)) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.2)
    return round(time.monotonic() - max(load.acked.values()), 2)


def figure(name: str, db: Database, load: Load, recovery: float, notes: str,
           **extra: Any) -> dict[str, Any]:
    """The scenario's figures, once the load is over and its deliveries are all recorded."""
    acked = sorted(load.acked)
    deadline = time.monotonic() + 120
    while len(recorded := _recorded(db, acked)) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {"scenario": name, "acked": len(acked), "lost": len(acked) - len(recorded),
            "duplicates": _duplicates(db), "refused": load.refused(),
            "recovery_seconds": recovery, "answers": dict(load.answers), "notes": notes, **extra}


# -- scenarios ------------------------------------------------------------------------------------
@contextmanager
def _deployed(database_url: str | None = None, redis_url: str | None = None,
              folder: Path | None = None) -> Iterator[tuple[Deployment, Database]]:
    """A deployment on `database_url` (default: a SQLite file in `folder`, default the
    temporary folder that also holds the job queue and the logs)."""
    with tempfile.TemporaryDirectory(prefix="parcours-faults-") as scratch:
        url = database_url or f"sqlite:///{(folder or Path(scratch)) / 'parcours.db'}"
        deployment = Deployment(Path(scratch), url, redis_url)
        db = Database(url)
        try:
            yield deployment, db
        finally:
            deployment.stop()
            db.engine.dispose()


@contextmanager
def _small_disk(megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` (root only): a real filesystem that fills up."""
    folder = Path(tempfile.mkdtemp(prefix="parcours-disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                              str(folder)], capture_output=True, text=True, check=False)
    if mounted.returncode:
        folder.rmdir()
        raise ServiceMissing(f"cannot mount a small tmpfs (root needed): {mounted.stderr}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def _fill(folder: Path) -> Path:
    """Fill the filesystem of `folder` to the last byte; the ballast file, to delete after."""
    ballast = folder / "ballast"
    with ballast.open("wb") as out, suppress(OSError):  # ENOSPC: full
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return ballast


def server_killed(total: int = 240, rate: float = 30.0) -> dict[str, Any]:
    """SIGKILL of the app server (gunicorn's master and workers) mid-load, restarted 1 s later."""
    with _deployed() as (app, db):
        app.serve()
        app.work()
        load = Load(app.url, total, rate)
        with load.running():
            time.sleep(total / rate / 3)
            app.kill_server()
            time.sleep(1.0)
            fault_end = time.monotonic()
            app.serve()
            recovery = settle(db, load, fault_end)
        return figure("app server SIGKILL during load", db, load, recovery,
                      "SQLite; deliveries in flight at the kill got no answer and were sent "
                      "again: stored once (delivery key)")


def workers_killed(total: int = 300, rate: float = 40.0) -> dict[str, Any]:
    """Two workers SIGKILLed mid-batch, twice, under load (PostgreSQL: SKIP LOCKED claims)."""
    with private_postgres() as pg, _deployed(pg.url) as (app, db):
        app.serve()
        app.work()
        app.work()
        load = Load(app.url, total, rate)
        kills = []
        with load.running():
            for _ in range(2):
                time.sleep(total / rate / 4)
                done = _done(db)
                while _done(db) == done:  # kill while they work, not while they start
                    time.sleep(0.01)
                kills.append(_done(db))
                app.kill_workers()
                time.sleep(0.5)
                fault_end = time.monotonic()
                app.work()
                app.work()
            recovery = settle(db, load, fault_end)
        return figure("worker SIGKILL mid-batch", db, load, recovery,
                      "private PostgreSQL, 2 workers of 2 threads killed twice; batches of 25; "
                      "their transactions rolled back and the rows were claimed again",
                      done_at_kills=kills)


def _through(app: Deployment, db: Database, total: int, rate: float, fault: Callable[[], None],
             undo: Callable[[], None], seconds: float) -> tuple[Load, float, int]:
    """Serve and work, send the load, and a third of the way in hold `fault` for `seconds`
    before `undo`; (the load, the recovery time, the deliveries acked during the fault)."""
    app.serve()
    app.work()
    load = Load(app.url, total, rate)
    with load.running():
        time.sleep(total / rate / 3)
        acked_at_fault = len(load.acked)
        fault()
        time.sleep(seconds)
        acked_during = len(load.acked) - acked_at_fault
        undo()
        recovery = settle(db, load, time.monotonic())
    return load, recovery, acked_during


def postgres_restarted(total: int = 300, rate: float = 30.0) -> dict[str, Any]:
    """PostgreSQL crashes (`pg_ctl stop -m immediate`) mid-load and is back 2 s later."""
    with private_postgres() as pg, _deployed(pg.url) as (app, db):
        load, recovery, _ = _through(app, db, total, rate, lambda: pg.stop("immediate"),
                                     pg.start, 2.0)
        return figure("PostgreSQL restarted during load", db, load, recovery,
                      "private PostgreSQL crashed (immediate stop) and restarted; acks refused "
                      "with 503 while it was down, the pools reconnected on their own")


def redis_restarted(total: int = 240, rate: float = 30.0, freeze: bool = False
                    ) -> dict[str, Any]:
    """The job queue's Redis killed (queue lost) or frozen (SIGSTOP: connections hang) for 3 s."""
    with private_redis() as redis, _deployed(redis_url=redis.url) as (app, db):
        load, recovery, acked_during = _through(
            app, db, total, rate, redis.freeze if freeze else redis.kill,
            redis.thaw if freeze else redis.start, 3.0)
        how = "frozen (SIGSTOP)" if freeze else "killed, its queue lost, and restarted"
        return figure(f"Redis {'unreachable' if freeze else 'restarted'} during load", db, load,
                      recovery, f"SQLite + private Redis {how} for 3 s; acks kept coming from "
                      "the database; work resumed from the inbox rows",
                      acked_while_redis_down=acked_during)


def disk_full(total: int = 240, rate: float = 30.0) -> dict[str, Any]:
    """The disk holding the SQLite database fills up for 3 s, then space is freed."""
    with _small_disk(64) as disk, _deployed(folder=disk) as (app, db):
        ballast: list[Path] = []
        load, recovery, _ = _through(app, db, total, rate, lambda: ballast.append(_fill(disk)),
                                     lambda: ballast.pop().unlink(), 3.0)
        return figure("disk full", db, load, recovery,
                      "the SQLite file on a 64 MB tmpfs filled to the last byte for 3 s: acks "
                      "refused with 503 (SQLITE_FULL), none acknowledged unstored",
                      sample_refusals=load.refusals[:2], logged=_logged(app, "not stored"))


def read_only(total: int = 240, rate: float = 30.0) -> dict[str, Any]:
    """The PostgreSQL database turns read-only (a failover to a replica) for 3 s."""
    with private_postgres() as pg, _deployed(pg.url) as (app, db):
        load, recovery, _ = _through(app, db, total, rate, lambda: _set_read_only(db, True),
                                     lambda: _set_read_only(db, False), 3.0)
        return figure("database read-only", db, load, recovery,
                      "private PostgreSQL: default_transaction_read_only on, sessions cut (as "
                      "a failover does) for 3 s: acks refused with 503, none acknowledged "
                      "unstored", sample_refusals=load.refusals[:2],
                      logged=_logged(app, "not stored"))


def _set_read_only(db: Database, on: bool) -> None:
    """Every new session read-only (or not again), and the others cut so they reconnect."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SET default_transaction_read_only = off"))
        conn.execute(text(f"ALTER DATABASE postgres SET default_transaction_read_only = "
                          f"{'on' if on else 'off'}"))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = 'postgres' AND pid <> pg_backend_pid()"))
    db.engine.dispose()


def _logged(app: Deployment, words: str) -> list[str]:
    """The server's first log lines holding `words` (the clear error an operator reads)."""
    return [line for line in app.log("server").splitlines() if words in line][:2]


def clock_skew(total: int = 240, rate: float = 30.0) -> dict[str, Any]:
    """The app server's clock 2 minutes ahead, the worker's 2 minutes behind (libfaketime)."""
    with _deployed() as (app, db):
        app.serve(clock="+2m")
        app.work(clock="-2m")
        load = Load(app.url, total, rate)
        with load.running():
            pass
        lag = drained(db, load)
        return figure("clock skew ±2 min between processes", db, load, lag,
                      "server +2 min, worker -2 min, sender on time: signatures (±5 min "
                      "window) accepted; recovery = from the last ack until all are recorded")


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "server_kill": server_killed,
    "worker_kill": workers_killed,
    "postgres_restart": postgres_restarted,
    "redis_restart": redis_restarted,
    "redis_unreachable": lambda: redis_restarted(freeze=True),
    "disk_full": disk_full,
    "read_only": read_only,
    "clock_skew": clock_skew,
}


def run(names: list[str] | None = None) -> dict[str, Any]:
    chosen = names or list(SCENARIOS)
    return {"benchmark": "faults", "scenarios": [SCENARIOS[name]() for name in chosen]}
