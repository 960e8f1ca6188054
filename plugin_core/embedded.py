"""The embedded engine: Parcours inside a custom shop's own process, with no server or worker.

    from parcours import JourneyEngine

    with JourneyEngine("sqlite:///shop.db", store="my-shop") as engine:
        engine.track("product_viewed", anonymous_id="a-1", properties={"product_id": "42"})
        engine.kpis()["conversion"]

Events take the server's own path minus the queue: the same schema (`events.load_events`,
all or nothing, errors naming the field), the same recorder (`recorder.record`) in one
transaction, so the funnel, stages and KPIs are the JSON API's, computed by `reports`. It is
what a shop with one process and no operations team wants; a shop that grows points the same
database at `parcours serve` and `parcours worker` later and loses nothing.

Nothing here imports Flask or any HTTP library: `import parcours` stays light, and the engine
runs in scripts, workers and any web framework.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, TypeVar

from marshmallow import ValidationError as SchemaError
from sqlalchemy import Connection, text

from parcours import reports
from parcours.accounts import STORE_KEY, create_store, get_store, store_hosts
from parcours.api_schemas import PeriodQuery
from parcours.db import Database
from parcours.errors import ConfigError, NotFoundError, ValidationError
from parcours.events import load_events
from parcours.recorder import RecordResult, StoreRef, record
from parcours.segments import with_segments

__all__ = ["JourneyEngine"]

T = TypeVar("T")
Day = date | str | None


class JourneyEngine:
    """Records one store's events in a database and answers its reports, in this process.

    One engine is one store (`store`, created on first use with the custom platform): a custom
    shop is one store, and a report can never mix two. Thread-safe; create one per process and
    share it. `migrate=False` refuses a database that is not at the newest schema revision
    (StorageError) instead of migrating it: for deployments that migrate in a release step
    (`parcours db upgrade`), so that several processes starting at once never race to.
    """

    def __init__(self, database_url: str, store: str = "shop", *, migrate: bool = True) -> None:
        if not STORE_KEY.match(store):
            raise ConfigError("store: 2-63 characters, lower-case letters, digits and '-'")
        self.store_key = store
        self._db = Database(database_url)
        try:
            if migrate:
                self._db.upgrade()
            else:
                self._db.check()
            with self._db.write() as conn:
                self._store = self._ensure_store(conn)
        except BaseException:
            self._db.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"<parcours.JourneyEngine store={self.store_key!r} database={self._db.url!r}>"

    def __enter__(self) -> JourneyEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connections (the engine may not be used afterwards)."""
        self._db.engine.dispose()

    @property
    def database(self) -> Database:
        """The database handle, for what the engine does not wrap (the Flask extension serves
        the widgets' routes from it)."""
        return self._db

    # -- writing ---------------------------------------------------------------------------------
    def track(self, name: str, *, identities: Mapping[str, str] | None = None,
              anonymous_id: str | None = None, customer_id: str | None = None,
              email: str | None = None, properties: Mapping[str, Any] | None = None,
              occurred_at: datetime | None = None, key: str | None = None,
              source: str = "sdk") -> RecordResult:
        """Record that `name` happened to a shopper, now. The arguments are `Client.track`'s,
        so a shop can move between the embedded engine and a server by changing one line.

        `email` is hashed before it is stored (the address is never kept). Without `key` an
        event's id comes from its content: the same call with the same `occurred_at` is
        recorded once. Raises ValidationError naming the field; nothing is written then.
        """
        found = dict(identities or {})
        for kind, value in (("anonymous_id", anonymous_id), ("customer_id", customer_id),
                            ("email", email)):
            if value is not None:
                found[kind] = value
        moment = occurred_at if occurred_at is not None else datetime.now(UTC)
        event: dict[str, Any] = {
            "name": name, "identities": found, "properties": dict(properties or {}),
            "source": source,
            "occurred_at": moment.isoformat() if isinstance(moment, datetime) else moment,
        }
        if key is not None:
            event["key"] = key
        return self.process([event])

    def process(self, events: Sequence[Mapping[str, Any]], *,
                user_agent: str | None = None) -> RecordResult:
        """Record a batch of canonical events (docs/events.md), all or nothing.

        Every record is validated first; one bad record raises ValidationError naming each bad
        record and field, and nothing is written. `user_agent`, for storefront events (what
        `/collect` receives from a browser): each event gets the shopper's device, and page
        views their channel, as the server derives them.
        """
        if isinstance(events, Mapping | str | bytes):
            raise ValidationError("invalid batch", {"events": ["a list of event objects"]})
        loaded = load_events(self.store_key, list(events))
        if not loaded:
            return RecordResult()

        def write(conn: Connection) -> RecordResult:
            store = get_store(conn, self.store_key)  # the store's rules, as they are now
            batch = loaded if user_agent is None else with_segments(
                loaded, user_agent, store_hosts(conn, store.id))
            return record(conn, store, batch)

        return self._writing(write)

    # -- reading ---------------------------------------------------------------------------------
    def funnel(self, since: Day = None, until: Day = None) -> dict[str, Any]:
        """Journeys opened in the period reaching each stage, conversion and drop-off per step:
        `GET /api/v1/stores/<store>/funnel`'s answer."""
        return self._report(reports.funnel, since, until)

    def stages(self, since: Day = None, until: Day = None) -> dict[str, Any]:
        """Profiles per stage now, events per stage per day, and stage-to-stage flows."""
        return self._report(reports.stages, since, until)

    def kpis(self, since: Day = None, until: Day = None) -> dict[str, Any]:
        """The KPIs of docs/kpis.md over the period: the API's `kpis` answer."""
        return self._report(reports.kpis, since, until)

    def profile(self, profile_id: int) -> dict[str, Any]:
        """One profile: its journeys and latest events (NotFoundError if not this store's)."""
        with self._db.read() as conn:
            return reports.profile(conn, self._store, profile_id)

    # -- inside ----------------------------------------------------------------------------------
    def _ensure_store(self, conn: Connection) -> StoreRef:
        try:
            return get_store(conn, self.store_key)
        except NotFoundError:
            create_store(conn, self.store_key, account=self.store_key, platform="custom")
            return get_store(conn, self.store_key)

    def _writing(self, work: Callable[[Connection], T]) -> T:
        with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                # The lock the worker takes for a store (inbox.process_pending): an engine and
                # a worker sharing a database never fold one store's profiles at once.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._store.id})
            return work(conn)

    def _report(self, report: Callable[[Connection, StoreRef, reports.Period], dict[str, Any]],
                since: Day, until: Day) -> dict[str, Any]:
        period = _period(since, until)
        with self._db.read() as conn:
            return report(conn, get_store(conn, self.store_key), period)


def _day_text(value: Day) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _period(since: Day, until: Day) -> reports.Period:
    """The API's period (`?from=&to=`, inclusive days, 30 days by default), checked by the
    API's own schema; errors name this call's arguments."""
    query = {name: text for name, text in (("from", _day_text(since)), ("to", _day_text(until)))
             if text is not None}
    try:
        period: reports.Period = PeriodQuery().load(query)["period"]
    except SchemaError as exc:
        names = {"from": "since", "to": "until"}
        raise ValidationError("invalid period", {names.get(str(k), str(k)): v for k, v in
                                                 exc.normalized_messages().items()}) from None
    return period
