"""When to ask for a review: a store's review settings and the timing rules (pure: no I/O).

A request is due some days after the order reached the shopper: `delay_days` after delivery
when the platform reports it, else after fulfilment plus `transit_days` (WooCommerce and many
Shopify carriers never report delivery). One reminder at most, `reminder_days` after the
request, only while no review came. Nothing is sent in the store's quiet hours (its own time
zone): what falls due then waits for the end of the quiet hours. A customer gets one request
per `customer_cap_days` across orders, a store at most `daily_limit` messages a (local) day.

Settings are data a merchant or an agency sets (`parcours reviews settings STORE FILE`), stored
as the store fact `review_settings`; missing keys take the defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from marshmallow import fields as f

from parcours.errors import ValidationError

__all__ = ["CHANNELS", "LOCALES", "ReviewSettings", "first_due", "outside_quiet_hours",
           "reminder_due", "store_zone"]

CHANNELS = ("email", "webhook")
LOCALES = ("en", "fr")
_CLOCK = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="a time such as 21:00")


@dataclass(frozen=True)
class ReviewSettings:
    enabled: bool = True
    delay_days: int = 7  # after delivery
    transit_days: int = 5  # fulfilment -> assumed delivery, when delivery is never reported
    reminder: bool = True
    reminder_days: int = 13  # after the first request
    customer_cap_days: int = 30  # one request per customer per this many days, across orders
    quiet_start: str | None = "21:00"  # None: no quiet hours
    quiet_end: str | None = "09:00"
    daily_limit: int = 500
    channel: str = "email"
    webhook_url: str | None = None  # channel "webhook": the store's messaging tool
    sender_name: str | None = None  # default: the store's name
    reply_to: str | None = None
    logo_url: str | None = None
    default_locale: str = "en"  # when the order says nothing (WooCommerce orders never do)
    link_days: int = 60  # how long the form link works
    photos: bool = True
    survey: bool = True  # the optional CES and NPS questions
    storefront_reviews: bool = False  # reviews from non-buyers on the storefront (unverified)
    incentive: str | None = None  # disclosed on every review; never depends on the rating

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ReviewSettings:
        """Validated settings; ValidationError naming each bad key (nothing is half-applied)."""
        try:
            loaded = _SettingsSchema().load(dict(data or {}))
        except SchemaError as exc:
            raise ValidationError("invalid review settings", _flat(exc.messages)) from None
        return cls(**loaded)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        if not self.quiet_start or not self.quiet_end or self.quiet_start == self.quiet_end:
            return None
        return time.fromisoformat(self.quiet_start), time.fromisoformat(self.quiet_end)


class _SettingsSchema(Schema):
    enabled = f.Bool()
    delay_days = f.Int(strict=True, validate=validate.Range(0, 60))
    transit_days = f.Int(strict=True, validate=validate.Range(0, 30))
    reminder = f.Bool()
    reminder_days = f.Int(strict=True, validate=validate.Range(1, 60))
    customer_cap_days = f.Int(strict=True, validate=validate.Range(0, 365))
    quiet_start = f.Str(allow_none=True, validate=_CLOCK)
    quiet_end = f.Str(allow_none=True, validate=_CLOCK)
    daily_limit = f.Int(strict=True, validate=validate.Range(1, 100_000))
    channel = f.Str(validate=validate.OneOf(CHANNELS))
    webhook_url = f.Url(allow_none=True, schemes={"https"}, require_tld=False)
    sender_name = f.Str(allow_none=True, validate=validate.Length(1, 100))
    reply_to = f.Email(allow_none=True)
    logo_url = f.Url(allow_none=True, schemes={"https"}, require_tld=False)
    default_locale = f.Str(validate=validate.OneOf(LOCALES))
    link_days = f.Int(strict=True, validate=validate.Range(7, 365))
    photos = f.Bool()
    survey = f.Bool()
    storefront_reviews = f.Bool()
    incentive = f.Str(allow_none=True, validate=validate.Length(1, 200))

    @validates_schema
    def _webhook_needs_its_url(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("channel") == "webhook" and not data.get("webhook_url"):
            raise SchemaError("required when the channel is webhook", "webhook_url")


assert {field.name for field in fields(ReviewSettings)} == set(_SettingsSchema().fields)


def _flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, list):
        return {prefix or "_schema": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in dict(messages).items():
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def store_zone(name: str | None) -> ZoneInfo:
    """The store's time zone; UTC when unknown (quiet hours are then UTC hours)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def first_due(settings: ReviewSettings, *, delivered_at: datetime | None,
              fulfilled_at: datetime | None, postponed_until: datetime | None = None
              ) -> datetime | None:
    """When the request falls due (before quiet hours); None while nothing says the order is
    on its way."""
    delay = timedelta(days=settings.delay_days)
    if delivered_at is not None:
        due = delivered_at + delay
    elif fulfilled_at is not None:
        due = fulfilled_at + timedelta(days=settings.transit_days) + delay
    else:
        return None
    return max(due, postponed_until) if postponed_until is not None else due


def reminder_due(settings: ReviewSettings, sent_at: datetime) -> datetime | None:
    return sent_at + timedelta(days=settings.reminder_days) if settings.reminder else None


def outside_quiet_hours(moment: datetime, settings: ReviewSettings, zone: ZoneInfo) -> datetime:
    """`moment`, or the end of the quiet hours it falls in (in the store's zone)."""
    quiet = settings.quiet_hours
    if quiet is None:
        return moment
    start, end = quiet
    local = moment.astimezone(zone)
    clock, day = local.time(), local.date()
    if start < end:  # e.g. 12:00-14:00 within one day
        inside = start <= clock < end
    else:  # across midnight, e.g. 21:00-09:00: the evening's quiet ends the next morning
        inside = clock >= start or clock < end
        if clock >= start:
            day += timedelta(days=1)
    if not inside:
        return moment
    return datetime.combine(day, end, tzinfo=zone).astimezone(moment.tzinfo)
