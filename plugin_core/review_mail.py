"""One review-request email: what a channel hands over, and the email built from it.

`OutgoingRequest` is everything a channel needs to send one message, resolved by the sender
from the database (the store's name, the locale, signed links), so channels never read the
database. `build_message` renders it as a multipart/alternative email (plain text and HTML,
from the Jinja templates in templates/review_mail, French or English) with the headers mail
providers expect from bulk-ish senders: one-click unsubscribe (RFC 8058), Auto-Submitted, a
Message-ID that stays the same when the message is retried.

Names, product titles, the store's name and the incentive are untrusted text: the HTML
environment escapes them, and header values are collapsed to one line (no header injection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from parcours.adapters.base import ReviewItem
from parcours.review_timing import LOCALES, ReviewSettings

__all__ = ["OutgoingRequest", "build_message", "mail_locale", "parse_items"]

TEMPLATES = Path(__file__).with_name("templates") / "review_mail"
KINDS = ("request", "reminder")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class OutgoingRequest:
    """One message to send, resolved: channels format it, they never look anything up."""

    message_id: int  # the review_messages row
    key: str  # stable across retries of this message: Message-ID and webhook-id
    kind: str  # request, reminder
    request_id: int
    order_id: str
    store_id: int
    store_key: str
    store_name: str  # the sender's display name: settings.sender_name, else the store's name
    locale: str  # en, fr
    email: str | None
    name: str | None  # the first name to greet
    items: tuple[ReviewItem, ...]
    form_url: str
    unsubscribe_url: str | None  # None without an address (nothing to unsubscribe)
    settings: ReviewSettings


def mail_locale(locale: str | None, default: str) -> str:
    """The language of a message: the order's ("fr", "fr-CA", "en_US"...) when Parcours has
    texts for it, else the store's default (WooCommerce orders carry no language)."""
    language = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return language if language in LOCALES else default


def parse_items(stored: Any) -> tuple[ReviewItem, ...]:
    """The request's items as stored (JSON): lenient, a bad entry is dropped rather than
    costing the whole message; only https images are shown (no mixed content, no tracking
    over plain http)."""
    items: list[ReviewItem] = []
    for entry in stored if isinstance(stored, list) else []:
        if not isinstance(entry, dict) or not entry.get("product_id"):
            continue
        image = entry.get("image")
        items.append(ReviewItem(
            str(entry["product_id"]), str(entry.get("title") or entry["product_id"]),
            image if isinstance(image, str) and image.startswith("https://") else None))
    return tuple(items)


def one_line(text: str) -> str:
    """Untrusted text made safe for a header: no line breaks or control characters (a
    no-break space, as French puts before "?", is kept)."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", text)).strip(" ")


@cache
def _environment(html: bool) -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=html,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def _subject(message: OutgoingRequest) -> str:
    texts = _environment(False).get_template(f"{message.locale}.jinja").module
    return one_line(str(texts.subject(message.kind, one_line(message.store_name))))  # type: ignore[attr-defined]


def render(message: OutgoingRequest) -> tuple[str, str, str]:
    """(subject, text, html) of a message."""
    if message.kind not in KINDS or message.locale not in LOCALES:
        raise ValueError(f"no template for a {message.kind!r} in {message.locale!r}")
    subject = _subject(message)
    logo = message.settings.logo_url
    context = {
        "lang": message.locale, "kind": message.kind, "subject": subject,
        "store": one_line(message.store_name), "name": one_line(message.name or "") or None,
        "items": message.items,
        "form_url": message.form_url, "unsubscribe_url": message.unsubscribe_url,
        "incentive": message.settings.incentive, "link_days": message.settings.link_days,
        "logo_url": logo if logo and logo.startswith("https://") else None,
    }
    text = _environment(False).get_template("email.txt").render(context)
    html = _environment(True).get_template("email.html").render(context)
    return subject, text, html


def _address(display: str | None, address: str) -> Address:
    """`Display <address>`, quoted or encoded by the email package as the name needs (an
    untrusted name cannot smuggle in another address). ValueError for an invalid address."""
    return Address(display_name=one_line(display or ""), addr_spec=address)


def build_message(message: OutgoingRequest, mail_from: str, now: datetime) -> EmailMessage:
    """The email for one message. ValueError when it cannot be built (no address, an address
    the email package refuses): a permanent failure for that message."""
    if not message.email:
        raise ValueError("the request has no email address")
    sender = parseaddr(mail_from)[1] or mail_from
    if "@" not in sender:
        raise ValueError("MAIL_FROM is not an email address")
    subject, text, html = render(message)
    email = EmailMessage()
    email["Subject"] = subject
    email["From"] = _address(message.store_name, sender)
    email["To"] = _address(message.name, message.email)
    if message.settings.reply_to:
        email["Reply-To"] = message.settings.reply_to
    email["Date"] = format_datetime(now)
    # Stable across retries, so a client that somehow received a retried copy shows one.
    email["Message-ID"] = f"<{message.key}@{sender.rpartition('@')[2]}>"
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    email["X-Auto-Response-Suppress"] = "OOF, AutoReply"  # the same, for Exchange
    if message.unsubscribe_url:
        # RFC 8058 one-click: the provider POSTs to the URL, no page to go through.
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(text)
    email.add_alternative(html, subtype="html")
    email["Content-Language"] = message.locale  # after set_content, which clears Content-*
    return email
