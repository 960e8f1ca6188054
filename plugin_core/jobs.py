"""Background jobs on Huey: SqliteHuey by default (no server), RedisHuey with PARCOURS_REDIS_URL.

The queue only wakes workers; the database says what is left to do. Every task is idempotent,
and a periodic sweep drains whatever a lost message or a killed worker left pending.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huey import Huey, RedisHuey, SqliteHuey, crontab

from parcours.db import Database
from parcours.errors import ConfigError
from parcours.inbox import pending_count, process_pending

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


class Jobs:
    """Flask extension owning the Huey instance and the tasks registered on it."""

    def __init__(self, app: Flask | None = None) -> None:
        self.huey: Huey | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        db: Database = app.extensions["parcours.db"]
        redis_url = app.config.get("REDIS_URL")
        if redis_url:
            huey: Huey = RedisHuey("parcours", url=str(redis_url))
        else:
            Path(app.instance_path).mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey("parcours", filename=str(Path(app.instance_path, "huey.db")))
        huey.immediate = bool(app.config.get("JOBS_IMMEDIATE"))
        batch = int(app.config.get("INBOX_BATCH", 500))

        @huey.task(retries=3, retry_delay=5)
        def drain_inbox() -> int:
            """Process pending inbox rows until none is due."""
            total = 0
            while (done := process_pending(db, limit=batch)).done + done.failed + done.retried:
                total += done.events
            return total

        @huey.periodic_task(crontab(minute="*"))
        def sweep_inbox() -> None:
            """Safety net: drain rows a lost wake-up or a killed worker left behind."""
            if pending_count(db):
                drain_inbox()

        self.huey = huey
        self.drain_inbox = drain_inbox
        self.sweep_inbox = sweep_inbox
        app.extensions["parcours.jobs"] = self

    def wake(self) -> None:
        """Ask a worker to drain the inbox. Never fails the caller: the sweep catches up."""
        try:
            self.drain_inbox()
        except Exception:
            log.exception("could not enqueue the inbox drain; the periodic sweep will")

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
