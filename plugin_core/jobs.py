"""Background jobs on Huey: SqliteHuey by default (no server), RedisHuey with PARCOURS_REDIS_URL.

The queue only wakes workers; the database says what is left to do. Every task is idempotent,
and a periodic sweep drains whatever a lost message or a killed worker left pending.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import ConfigError
from parcours.inbox import pending_count, process_pending
from parcours.privacy import purge_due
from parcours.reconcile import reconcile_stores
from parcours.review_publish import publish_all
from parcours.review_sender import send_due

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)
WAKE_INTERVAL = 0.05  # seconds: the longest a delivery waits for its wake-up under load


class Jobs:
    """Flask extension owning the Huey instance and the tasks registered on it."""

    def __init__(self, app: Flask | None = None) -> None:
        self.huey: Huey | None = None
        # wake(): wakes asked and wakes covered by an enqueue, and the thread that enqueues
        self._wakes = threading.Condition()
        self._asked = self._sent = 0
        self._waker: threading.Thread | None = None
        self._queue_down = False  # the last enqueue failed (logged once per outage)
        self._review_config_error = ""  # the last one logged
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        db: Database = app.extensions["parcours.db"]
        vault: Vault = app.extensions["parcours.vault"]
        redis_url = app.config.get("REDIS_URL")
        if redis_url:
            # Timeouts: an unreachable Redis (no answer, not refused) would otherwise hold a
            # connection for minutes. The socket one outlasts the consumer's 1 s blocking read.
            from redis import ConnectionPool

            pool = ConnectionPool.from_url(str(redis_url), socket_timeout=5,
                                           socket_connect_timeout=5)
            huey: Huey = RedisHuey("parcours", connection_pool=pool)
        else:
            Path(app.instance_path).mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey("parcours", filename=str(Path(app.instance_path, "huey.db")))
        huey.immediate = bool(app.config.get("JOBS_IMMEDIATE"))
        batch = int(app.config.get("INBOX_BATCH", 500))
        retention = timedelta(days=int(app.config.get("UNINSTALL_RETENTION_DAYS", 30)))

        @huey.task(retries=3, retry_delay=5)
        def drain_inbox() -> int:
            """Process pending inbox rows until none is due."""
            total = 0
            while (done := process_pending(db, limit=batch, uninstall_retention=retention)
                   ).done + done.failed + done.retried:
                total += done.events
            return total

        @huey.periodic_task(crontab(minute="*"))
        def sweep_inbox() -> None:
            """Safety net: drain rows a lost wake-up or a killed worker left behind."""
            if pending_count(db):
                drain_inbox()

        @huey.periodic_task(crontab(minute="*/15"))
        def reconcile() -> None:
            """Poll the platforms for what webhooks missed; new deliveries wake the drain."""
            if reconcile_stores(db, vault, app.config).new:
                drain_inbox()

        @huey.periodic_task(crontab(minute="7"))
        def purge() -> None:
            """Delete what is due: uninstalled or redacted stores, old deliveries."""
            with db.write() as conn:
                purge_due(conn, now=datetime.now(UTC))

        @huey.periodic_task(crontab(minute="*"))
        def review_send() -> None:
            """Send the review requests and reminders that fell due. Every worker may run it:
            messages are claimed one by one in the database, so none goes twice."""
            try:
                report = send_due(db, vault, app.config, wake=self.wake)
            except ConfigError as exc:
                if str(exc) != self._review_config_error:  # once, not every minute
                    log.error("review requests are not sent: %s", exc)
                self._review_config_error = str(exc)
                return
            self._review_config_error = ""
            if report.sent or report.failed or report.unconfirmed:
                log.info("review requests: %s sent, %s failed, %s unconfirmed, %s left due",
                         report.sent, report.failed, report.unconfirmed, report.deferred)

        @huey.periodic_task(crontab(minute="*"))
        def publish_reviews() -> None:
            """Publish new, moderated, replied-to or redacted reviews to their platforms."""
            publish_all(db, vault, app.config)

        def publish_now() -> None:
            """After a review is submitted or moderated: publish it without waiting a minute."""
            try:
                publish_reviews()
            except Exception:  # never fail the caller: the periodic run catches up
                log.exception("could not enqueue the review publication; the next run will")

        self.huey = huey
        self.drain_inbox = drain_inbox
        self.review_send = review_send
        self.publish_reviews = publish_reviews
        self.sweep_inbox = sweep_inbox
        self.reconcile = reconcile
        self.purge = purge
        app.extensions["parcours.jobs"] = self
        app.extensions["parcours.reviews.publish"] = publish_now

    def wake(self) -> None:
        """Ask a worker to drain the inbox, without ever waiting for the queue.

        The ack path calls this after its commit: a frozen or unreachable Redis must not hold
        the acknowledgement (the platform gives up after seconds and resends), so the enqueue
        runs on one background thread per process, at most once per `WAKE_INTERVAL`: under
        load one drain takes every due row, so one queue write per delivery would be waste. A
        row committed before `wake()` is followed by a wake-up within WAKE_INTERVAL once the
        queue answers; a pending wake-up is still sent when the process exits (a CLI command),
        for up to a second. Never fails the caller: the periodic sweep catches up whatever a
        lost message misses. With JOBS_IMMEDIATE (tests) the drain runs in the caller.
        """
        assert self.huey is not None
        if self.huey.immediate:
            self._enqueue()
            return
        with self._wakes:
            self._asked += 1
            self._wakes.notify()
            if self._waker is None or not self._waker.is_alive():  # first use, or a fork
                self._waker = threading.Thread(target=self._wake_loop, name="parcours-wake",
                                               daemon=True)
                self._waker.start()
                atexit.register(self.flush_wakes, 1.0)

    def _wake_loop(self) -> None:
        while True:
            with self._wakes:
                self._wakes.wait_for(lambda: self._sent < self._asked)
                asked = self._asked
            self._enqueue()
            with self._wakes:
                self._sent = asked
                self._wakes.notify_all()
            time.sleep(WAKE_INTERVAL)

    def flush_wakes(self, timeout: float) -> bool:
        """Wait until every wake asked so far is enqueued (or tried); False on timeout."""
        with self._wakes:
            return self._wakes.wait_for(lambda: self._sent >= self._asked, timeout)

    def _enqueue(self) -> None:
        try:
            self.drain_inbox()
        except Exception as exc:
            if not self._queue_down:  # once per outage, not once per delivery
                log.error("cannot reach the job queue (%s: %s): deliveries are still stored "
                          "and acknowledged; workers will catch up", type(exc).__name__, exc)
            self._queue_down = True
            return
        if self._queue_down:
            log.warning("the job queue answers again")
        self._queue_down = False

    def check(self) -> None:
        """Fail clearly when the queue's backend cannot be reached."""
        assert self.huey is not None
        try:
            self.huey.pending_count()
        except Exception as exc:
            raise ConfigError(f"cannot reach the job queue: {exc}") from None

    def consumer(self, workers: int = 2) -> Any:
        assert self.huey is not None
        return self.huey.create_consumer(workers=workers, worker_type="thread")
