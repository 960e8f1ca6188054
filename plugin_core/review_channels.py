"""Channels that deliver review requests: email over SMTP, or a webhook to the store's own
messaging tool. A registry names them, so SMS or WhatsApp can be added without touching the
sender.

A channel's `send` calls `handing()` right before the moment after which the message may have
gone (SMTP: before the final "." of DATA; webhook: before the POST). The sender commits the
"handing" status there, which is what lets it never send a message twice even when a worker is
killed: a message still "sending" was certainly not handed over and can be sent again; one
"handing" may have gone and never is. If `handing()` raises, the channel stops without handing
the message over.

Errors: `ChannelError` with `temporary` (retry later) and `uncertain` (raised after the
handover without an answer: the message may have gone). A missing or refused configuration
(no SMTP_URL, credentials refused) is a `ConfigError`: the fault of no one message, so the
sender leaves messages due instead of failing them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import SMTP
from email.utils import parseaddr
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import requests
from sqlalchemy import Connection

from parcours.credentials import Vault, read_secrets, set_secret
from parcours.db import Database, advisory_lock
from parcours.errors import ConfigError, ParcoursError
from parcours.netcheck import address_problem
from parcours.review_mail import OutgoingRequest, build_message
from parcours.standard_webhooks import SECRET_PREFIX, sign

__all__ = [
    "CHANNELS",
    "WEBHOOK_SECRET_PURPOSE",
    "Channel",
    "ChannelContext",
    "ChannelError",
    "EmailChannel",
    "SmtpSettings",
    "WebhookChannel",
    "register_channel",
    "review_webhook_secrets",
    "rotate_review_webhook_secret",
    "smtp_settings",
    "webhook_payload",
]

log = logging.getLogger(__name__)
WEBHOOK_SECRET_PURPOSE = "review_webhook"
SMTP_TIMEOUT = 20.0  # seconds, per network operation
WEBHOOK_TIMEOUT = (5.0, 20.0)  # seconds: connect, read


class ChannelError(ParcoursError):
    """A message could not be delivered. `temporary`: worth retrying later. `uncertain`: the
    message was handed over and no answer came, so it may have gone (never resend it)."""

    def __init__(self, message: str, *, temporary: bool, uncertain: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.uncertain = uncertain


def _nothing() -> None:
    return None


class Channel(Protocol):
    """What the sender needs of a channel. `needs_address`: a request without an email is
    skipped (the webhook channel forwards it: the merchant's tool may know the customer)."""

    name: str
    needs_address: bool

    def send(self, message: OutgoingRequest, handing: Callable[[], None] = _nothing) -> str:
        """Deliver one message; the id it is known by (Message-ID, webhook-id)."""
        ...

    def close(self) -> None:
        ...


@dataclass(frozen=True)
class ChannelContext:
    """What a channel may be built from (one per sender run)."""

    db: Database
    vault: Vault
    config: Mapping[str, Any]


ChannelFactory = Callable[[ChannelContext], Channel]
CHANNELS: dict[str, ChannelFactory] = {}


def register_channel(name: str, factory: ChannelFactory) -> None:
    CHANNELS[name] = factory


# -- email ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed, never logged

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_settings(url: str | None) -> SmtpSettings:
    """PARCOURS_SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS when the server offers
    it and a password is given; port 25, or 587 with a password) or smtps://... (implicit
    TLS, port 465). User and password are percent-encoded. Errors never quote the URL."""
    if not url:
        raise ConfigError("PARCOURS_SMTP_URL is not set: review requests by email need an "
                          "SMTP server (smtp://user:password@host:587)")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("PARCOURS_SMTP_URL must look like smtp://user:password@host:587 or "
                          "smtps://user:password@host:465")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("PARCOURS_SMTP_URL has an invalid port") from None
    password = unquote(parts.password) if parts.password is not None else None
    implicit = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname, port=port or (465 if implicit else 587 if password else 25),
        implicit_tls=implicit, username=unquote(parts.username) if parts.username else None,
        password=password)


def _stuffed(data: bytes) -> bytes:
    """The DATA body without its terminator: lines starting with "." doubled (RFC 5321
    4.5.2), ending with CRLF."""
    body = re.sub(rb"(?m)^\.", b"..", data)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


class EmailChannel:
    """Review emails over SMTP, one connection per sender run (reused between messages).

    smtplib's `data()` sends the message and its terminator at once; this sends the body,
    calls `handing()`, then the terminating "." alone, so that a worker killed anywhere before
    the terminator leaves a message the server never accepted.
    """

    name = "email"
    needs_address = True

    def __init__(self, smtp_url: str | None, mail_from: str | None, *,
                 timeout: float = SMTP_TIMEOUT,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._url = smtp_url
        self._mail_from = mail_from
        self._timeout = timeout
        self._clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._clean = True  # False in the middle of DATA: QUIT would then be message text

    @classmethod
    def from_context(cls, context: ChannelContext) -> EmailChannel:
        return cls(context.config.get("SMTP_URL"), context.config.get("MAIL_FROM"),
                   timeout=float(context.config.get("SMTP_TIMEOUT") or SMTP_TIMEOUT))

    def _sender(self) -> str:
        address = parseaddr(self._mail_from or "")[1]
        if "@" not in address:
            raise ConfigError("PARCOURS_MAIL_FROM is not set to an email address: it is the "
                              "From and envelope address of review requests")
        return address

    def _connect(self) -> smtplib.SMTP:
        settings = smtp_settings(self._url)
        context = ssl.create_default_context()
        try:
            if settings.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                      timeout=self._timeout, context=context)
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=self._timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"cannot reach the SMTP server {settings.where}: {exc}",
                               temporary=True) from None
        try:
            smtp.ehlo()
            if settings.password is not None and not settings.implicit_tls:
                if not smtp.has_extn("starttls"):
                    raise ConfigError(f"the SMTP server {settings.where} does not offer "
                                      "STARTTLS: refusing to send the password in clear (use "
                                      "smtps:// or a server with STARTTLS)")
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise ConfigError(f"the SMTP server {settings.where} refused the credentials of "
                              f"PARCOURS_SMTP_URL ({exc.smtp_code})") from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise ChannelError(f"SMTP session with {settings.where} failed: {exc}",
                               temporary=True) from None
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: OutgoingRequest, handing: Callable[[], None] = _nothing) -> str:
        sender = self._sender()
        try:
            email = build_message(message, sender, self._clock())
            data = _stuffed(email.as_bytes(policy=SMTP))
            recipient = str(message.email).encode("ascii").decode()
        except (ValueError, UnicodeError) as exc:
            raise ChannelError(f"cannot build the email: {exc}", temporary=False) from None
        message_id = str(email["Message-ID"])
        reused = self._smtp is not None
        try:
            return self._transaction(sender, recipient, data, message_id, handing)
        except _Stale as exc:
            self.close()
            if not reused:
                raise ChannelError(str(exc), temporary=True) from None
        # A kept connection the server had closed meanwhile: once more on a fresh one.
        try:
            return self._transaction(sender, recipient, data, message_id, handing)
        except _Stale as exc:
            self.close()
            raise ChannelError(str(exc), temporary=True) from None

    def _transaction(self, sender: str, recipient: str, data: bytes, message_id: str,
                     handing: Callable[[], None]) -> str:
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            self._clean = False
            _expect(smtp.mail(sender), (250,), "MAIL FROM", config=True)
            _expect(smtp.rcpt(recipient), (250, 251), "RCPT TO")
            _expect(smtp.docmd("DATA"), (354,), "DATA")
            smtp.send(data)
        except (ChannelError, ConfigError):
            self._reset()
            raise
        except (OSError, smtplib.SMTPException) as exc:
            # Nothing was handed over: a kept connection may just have been closed by the
            # server while idle (retried once on a fresh one), else a temporary failure.
            raise _Stale(f"SMTP error before the message was handed over: {exc}") from None
        except BaseException:
            self.close()
            raise
        try:
            handing()
        except BaseException:
            self.close()  # without the terminator: the server drops the message
            raise
        try:
            smtp.send(b".\r\n")
            reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise ChannelError(f"no answer from the SMTP server after the message: {exc}",
                               temporary=False, uncertain=True) from None
        self._clean = True
        _expect(reply, (250,), "the message")
        return message_id

    def _reset(self) -> None:
        """After a refused command, RSET so the connection serves the next message."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
            self._clean = True
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if self._clean:
                smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()
            self._clean = True


class _Stale(Exception):
    """The session failed before the message was handed over (nothing can have gone)."""


def _expect(reply: tuple[int, bytes], codes: tuple[int, ...], step: str, *,
            config: bool = False) -> None:
    """A refused command: 4xx is temporary, 5xx permanent (for MAIL FROM, the sender address
    itself is refused: a configuration problem, not the message's)."""
    code, text = reply
    if code in codes:
        return
    detail = f"{step} refused: {code} {text.decode(errors='replace')}"
    if config and 500 <= code < 600:
        raise ConfigError(f"the SMTP server refuses PARCOURS_MAIL_FROM: {detail}")
    raise ChannelError(detail, temporary=400 <= code < 500)


# -- webhook -------------------------------------------------------------------------------------

def _new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def review_webhook_secrets(conn: Connection, vault: Vault, store_id: int,
                           now: datetime | None = None) -> list[str]:
    """The store's secrets for signing review webhooks, newest first (during a rotation the
    older one still signs, so the merchant's tool can switch at its pace). The first call
    creates one: the merchant copies it into their tool. Needs a writing connection."""
    found = read_secrets(conn, vault, store_id, purpose=WEBHOOK_SECRET_PURPOSE, now=now)
    if found:
        return found
    advisory_lock(conn, f"review-webhook-secret:{store_id}")  # two first calls make one secret
    found = read_secrets(conn, vault, store_id, purpose=WEBHOOK_SECRET_PURPOSE, now=now)
    if found:
        return found
    secret = _new_secret()
    set_secret(conn, vault, store_id, secret, purpose=WEBHOOK_SECRET_PURPOSE, now=now)
    return [secret]


def rotate_review_webhook_secret(conn: Connection, vault: Vault, store_id: int, *,
                                 keep_previous: timedelta = timedelta(days=1),
                                 now: datetime | None = None) -> str:
    """A new secret; the previous one keeps signing (second signature) for `keep_previous`."""
    secret = _new_secret()
    set_secret(conn, vault, store_id, secret, purpose=WEBHOOK_SECRET_PURPOSE,
               keep_previous=keep_previous, now=now)
    return secret


def webhook_payload(message: OutgoingRequest, timestamp: datetime) -> dict[str, Any]:
    """The JSON body: a Standard Webhooks envelope {type, timestamp, data}."""
    return {
        "type": f"review.{message.kind}",
        "timestamp": timestamp.isoformat(),
        "data": {
            "kind": message.kind,
            "request_id": message.request_id,
            "order_id": message.order_id,
            "store": message.store_key,
            "store_name": message.store_name,
            "locale": message.locale,
            "recipient": {"email": message.email, "name": message.name},
            "items": [{"product_id": item.product_id, "title": item.title,
                       "image": item.image} for item in message.items],
            "form_url": message.form_url,
            "unsubscribe_url": message.unsubscribe_url,
            "incentive": message.settings.incentive,
        },
    }


class WebhookChannel:
    """POSTs each message to the store's `webhook_url`, signed the Standard Webhooks way.

    `webhook-id` is the same on every retry of a message, so the receiver can drop a repeat:
    that is why a network error, even after the POST went out, is only a temporary failure.
    """

    name = "webhook"
    needs_address = False

    def __init__(self, secrets_for: Callable[[int], list[str]], *,
                 timeout: tuple[float, float] = WEBHOOK_TIMEOUT,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 allow_private: bool = False) -> None:
        self._secrets_for = secrets_for
        self._allow_private = allow_private
        self._timeout = timeout
        self._clock = clock
        self._session = requests.Session()

    @classmethod
    def from_context(cls, context: ChannelContext) -> WebhookChannel:
        def secrets_for(store_id: int) -> list[str]:
            with context.db.write() as conn:
                return review_webhook_secrets(conn, context.vault, store_id)

        # A tool on the merchant's own network is allowed only where the operator says so.
        allow = str(context.config.get("REVIEW_WEBHOOK_LOCAL", "")).lower() in (
            "1", "true", "yes")
        return cls(secrets_for, allow_private=allow)

    def send(self, message: OutgoingRequest, handing: Callable[[], None] = _nothing) -> str:
        url = message.settings.webhook_url
        if not url:
            raise ChannelError("the store's review settings have no webhook_url",
                               temporary=False)
        parts = urlsplit(url)
        problem = None if self._allow_private else address_problem(
            parts.hostname or "", parts.port or 443)
        if problem:  # checked at each send: the name may have been re-pointed since
            raise ChannelError(f"the webhook_url cannot be called: {problem}", temporary=False)
        msg_id = f"msg_{message.key}"
        body = json.dumps(webhook_payload(message, self._clock()),
                          separators=(",", ":")).encode()
        stamp = int(time.time())
        signature = " ".join(sign(secret, msg_id, stamp, body)
                             for secret in self._secrets_for(message.store_id))
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(stamp), "webhook-signature": signature,
                   "user-agent": "Parcours review requests"}
        handing()
        try:
            response = self._session.post(url, data=body, headers=headers,
                                          timeout=self._timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise ChannelError(f"webhook POST failed: {type(exc).__name__}",
                               temporary=True) from None
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return msg_id
        detail = f"the webhook answered {status}"
        raise ChannelError(detail, temporary=status == 429 or status >= 500)

    def close(self) -> None:
        self._session.close()


register_channel("email", EmailChannel.from_context)
register_channel("webhook", WebhookChannel.from_context)
