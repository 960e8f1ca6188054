"""The review-request sender against a real SMTP server (aiosmtpd on loopback) and a real
HTTPS webhook receiver, on SQLite and PostgreSQL: what goes out, when, to whom, and that
nothing goes twice when workers race or die."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from parcours import tables as t
from parcours.accounts import create_store, save_store_facts
from parcours.adapters.base import OrderContact, ReviewItem
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from parcours.errors import ConfigError
from parcours.events import JourneyEvent, email_hash
from parcours.inbox import process_pending
from parcours.review_channels import review_webhook_secrets
from parcours.review_links import read_form_token, read_unsubscribe_token
from parcours.review_requests import save_contacts, schedule
from parcours.review_sender import LEASE, MAX_ATTEMPTS, SendReport, send_due
from tests.smtp_support import SmtpServer
from tests.webhook_support import HttpsReceiver

KEY = generate_key()
PUBLIC = "https://parcours.example"
FROZEN = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday, 10:00 UTC: outside quiet hours
ITEMS = (ReviewItem("p1", "Lampe <script>alert(1)</script>", "https://shop.example/p1.svg"),
         ReviewItem("p2", "Abat-jour en lin", "https://shop.example/p2.svg"))
SCREENSHOTS = os.environ.get("PARCOURS_SCREENSHOTS")


@pytest.fixture
def vault() -> Vault:
    return Vault(KEY)


@pytest.fixture
def shop(db: Database) -> int:
    with db.write() as conn:
        return create_store(conn, "shop", account="acme", name="Atelier Lumière").id


@pytest.fixture
def config(smtp_server: SmtpServer) -> dict[str, Any]:
    return {"SMTP_URL": smtp_server.url, "MAIL_FROM": "Reviews <reviews@parcours.example>",
            "PUBLIC_URL": PUBLIC}


def set_settings(db: Database, store_id: int, **values: Any) -> None:
    """Review settings; requests due at fulfilment unless said otherwise (simpler clocks)."""
    with db.write() as conn:
        save_store_facts(conn, store_id, {"review_settings": {
            "delay_days": 0, "transit_days": 0, **values}}, datetime.now(UTC))


def set_zone(db: Database, store_id: int, zone: str) -> None:
    with db.write() as conn:
        conn.execute(update(t.stores).where(t.stores.c.id == store_id).values(timezone=zone))


def order(db: Database, store_id: int, order_id: str, email: str | None, *,
          fulfilled: datetime = FROZEN - timedelta(hours=1), name: str | None = "Alice",
          locale: str | None = "en-US", items: tuple[ReviewItem, ...] = ITEMS) -> int:
    """An order's contact and fulfilment through the real path (what the inbox worker calls);
    its request falls due at `fulfilled` with the test settings. The request's id."""
    with db.write() as conn:
        save_contacts(conn, store_id, [OrderContact(order_id, email, name, locale, None, items)],
                      fulfilled)
        schedule(conn, store_id, [JourneyEvent("shop", "order_fulfilled", fulfilled,
                                               {"order_id": order_id})], fulfilled)
        return int(conn.execute(select(t.review_requests.c.id).where(
            t.review_requests.c.order_id == order_id)).scalar_one())


def messages(db: Database) -> dict[tuple[str, str], Any]:
    """(order id, kind) -> the message row and its request's status."""
    m, r = t.review_messages.c, t.review_requests.c
    with db.read() as conn:
        rows = conn.execute(select(r.order_id, m.kind, m.status, m.reason, m.due_at, m.sent_at,
                                   m.attempts, m.message_id, r.status.label("request_status"),
                                   r.reason.label("request_reason"))
                            .join(t.review_requests, r.id == m.request_id)).all()
    return {(row.order_id, row.kind): row for row in rows}


def run(db: Database, vault: Vault, config: dict[str, Any], now: datetime) -> SendReport:
    return send_due(db, vault, config, now=now)


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


# -- what goes out ----------------------------------------------------------------------------

def test_a_due_request_is_mailed_with_text_html_headers_and_working_links(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop, incentive="a 10% voucher", reply_to="help@atelier.example",
                 logo_url="https://shop.example/logo.svg")
    request_id = order(db, shop, "1001", "alice@example.com")

    report = run(db, vault, config, FROZEN)

    assert (report.sent, report.skipped, report.failed) == (1, 0, 0)
    [received] = smtp_server.received
    assert received.mail_from == "reviews@parcours.example"
    assert received.rcpt_tos == ["alice@example.com"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain", "text/html"]
    assert message["Subject"] == "How was your order from Atelier Lumière?"
    assert message["From"].addresses[0].display_name == "Atelier Lumière"
    assert message["From"].addresses[0].addr_spec == "reviews@parcours.example"
    assert message["To"].addresses[0].addr_spec == "alice@example.com"
    assert message["Reply-To"] == "help@atelier.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@parcours.example>")
    assert message["Date"].datetime is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(rf"<{PUBLIC}/r/unsubscribe/([^>]+)>", message["List-Unsubscribe"])
    assert unsubscribe, message["List-Unsubscribe"]
    assert read_unsubscribe_token(vault, unsubscribe.group(1)).email_hash == email_hash(
        "alice@example.com")
    assert read_unsubscribe_token(vault, unsubscribe.group(1)).store_id == shop

    html, text = html_of(message), text_of(message)
    assert '<html lang="en"' in html
    assert "Hello Alice," in html and "Hello Alice," in text
    links = set(re.findall(rf'href="({PUBLIC}/r/[^"]+)"', html))
    form_links = {link for link in links if "/r/unsubscribe/" not in link}
    assert len(form_links) == 1, links
    [form_url] = form_links
    assert form_url in text
    link = read_form_token(vault, form_url.rsplit("/", 1)[1])
    assert not link.expired(1, datetime.now(UTC))
    with db.read() as conn:
        nonce = conn.execute(select(t.review_requests.c.nonce).where(
            t.review_requests.c.id == request_id)).scalar_one()
    assert (link.request_id, link.nonce) == (request_id, nonce)
    assert f"{PUBLIC}/r/unsubscribe/{unsubscribe.group(1)}" in links
    assert 'alt="Atelier Lumière"' in html and 'src="https://shop.example/logo.svg"' in html
    assert ">Review your order</a>" in html
    # Untrusted titles are text, never markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "- Lampe <script>alert(1)</script>" in text
    assert "For every review, good or bad: a 10% voucher" in html
    assert "For every review, good or bad: a 10% voucher" in text

    rows = messages(db)
    sent = rows[("1001", "request")]
    assert (sent.status, sent.sent_at, sent.attempts) == ("sent", FROZEN, 1)
    assert sent.message_id == message["Message-ID"]
    assert sent.request_status == "sent"
    reminder = rows[("1001", "reminder")]
    assert (reminder.status, reminder.due_at) == ("due", FROZEN + timedelta(days=13))

    # The journey records the request, through the inbox like every event.
    with db.read() as conn:
        delivery = conn.execute(select(t.inbox.c.source, t.inbox.c.body).where(
            t.inbox.c.delivery_key == "parcours:order:1001:review_requested")).one()
    assert delivery.source == "custom"
    assert b"alice" not in delivery.body  # the address's hash only
    process_pending(db, now=FROZEN + timedelta(minutes=1))
    with db.read() as conn:
        event = conn.execute(select(t.events.c.occurred_at, t.events.c.identities).where(
            t.events.c.name == "review_requested")).one()
    assert event.occurred_at == FROZEN
    assert event.identities["order_id"] == "1001"
    assert event.identities["email_hash"] == email_hash("alice@example.com")

    assert run(db, vault, config, FROZEN + timedelta(minutes=1)).sent == 0
    assert len(smtp_server.received) == 1


def test_french_and_english_from_the_order_or_the_store_default(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop, default_locale="fr", incentive="un bon de 5 €")
    order(db, shop, "1", "quebec@example.com", locale="fr-CA", name="Zoé")
    order(db, shop, "2", "woo@example.com", locale=None, name=None)  # WooCommerce: no language
    order(db, shop, "3", "london@example.com", locale="en-GB", name="Ann")

    assert run(db, vault, config, FROZEN).sent == 3

    by_recipient = {item.rcpt_tos[0]: item.message for item in smtp_server.received}
    quebec = by_recipient["quebec@example.com"]
    assert quebec["Subject"] == "Votre commande chez Atelier Lumière vous a-t-elle plu\u00a0?"
    assert quebec["Content-Language"] == "fr"
    assert '<html lang="fr"' in html_of(quebec)
    assert "Bonjour Zoé," in text_of(quebec)
    assert ">Donner mon avis</a>" in html_of(quebec)
    assert "Pour chaque avis, positif ou négatif\u00a0: un bon de 5 €" in text_of(quebec)
    assert "Ne plus recevoir de demandes d'avis" in html_of(quebec)
    woo = by_recipient["woo@example.com"]
    assert woo["Content-Language"] == "fr"
    assert "Bonjour,\n" in text_of(woo)  # no first name: no empty greeting
    london = by_recipient["london@example.com"]
    assert london["Content-Language"] == "en"
    assert "Hello Ann," in text_of(london)


def test_nothing_goes_before_it_is_due(db: Database, vault: Vault, shop: int,
                                       config: dict[str, Any], smtp_server: SmtpServer) -> None:
    set_settings(db, shop)
    order(db, shop, "1", "later@example.com", fulfilled=FROZEN + timedelta(hours=2))
    order(db, shop, "2", "waiting@example.com", fulfilled=FROZEN)
    with db.write() as conn:  # never fulfilled: no message at all
        save_contacts(conn, shop, [OrderContact("3", "unshipped@example.com")], FROZEN)

    assert run(db, vault, config, FROZEN - timedelta(seconds=1)).sent == 0
    assert run(db, vault, config, FROZEN).sent == 1
    assert smtp_server.recipients() == ["waiting@example.com"]
    assert run(db, vault, config, FROZEN + timedelta(hours=2)).sent == 1
    assert smtp_server.recipients() == ["waiting@example.com", "later@example.com"]


def test_quiet_hours_hold_messages_until_they_end_in_the_stores_zone(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop, quiet_start="21:00", quiet_end="09:00")
    set_zone(db, shop, "Europe/Paris")
    evening = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)  # 22:00 in Paris (winter time)
    order(db, shop, "1", "night@example.com", fulfilled=evening)

    report = run(db, vault, config, evening)
    assert (report.sent, report.deferred) == (0, 1)
    assert run(db, vault, config, datetime(2026, 1, 16, 7, 59, tzinfo=UTC)).sent == 0  # 08:59
    row = messages(db)[("1", "request")]
    assert (row.status, row.due_at, row.attempts) == ("due", evening, 0)  # left as it was

    assert run(db, vault, config, datetime(2026, 1, 16, 8, 0, tzinfo=UTC)).sent == 1  # 09:00
    assert smtp_server.recipients() == ["night@example.com"]


def test_one_request_per_customer_within_the_cap_across_orders(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop, customer_cap_days=30, reminder=False)
    order(db, shop, "1", "fan@example.com", fulfilled=FROZEN - timedelta(hours=2))
    order(db, shop, "2", "Fan@Example.com ", fulfilled=FROZEN - timedelta(hours=1))

    report = run(db, vault, config, FROZEN)

    assert (report.sent, report.skipped) == (1, 1)
    assert smtp_server.recipients() == ["fan@example.com"]
    capped = messages(db)[("2", "request")]
    assert capped.status == "skipped" and "30 days" in capped.reason
    assert (capped.request_status, capped.request_reason) == ("skipped", capped.reason)

    later = FROZEN + timedelta(days=30, minutes=1)
    order(db, shop, "3", "fan@example.com", fulfilled=later)
    assert run(db, vault, config, later).sent == 1
    assert len(smtp_server.recipients()) == 2


def test_the_daily_limit_counts_the_stores_local_day(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop, daily_limit=2, quiet_start=None, quiet_end=None)
    set_zone(db, shop, "Europe/Paris")
    late = datetime(2026, 1, 10, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    for n in range(5):
        order(db, shop, str(n), f"c{n}@example.com", fulfilled=late - timedelta(minutes=10 - n))

    report = run(db, vault, config, late)
    assert (report.sent, report.deferred) == (2, 3)
    assert run(db, vault, config, late + timedelta(minutes=20)).sent == 0
    assert sum(row.status == "due" for (_, kind), row in messages(db).items()
               if kind == "request") == 3

    # 00:30 in Paris: a new local day, though still the same day in UTC.
    assert run(db, vault, config, late + timedelta(hours=1)).sent == 2
    assert smtp_server.recipients() == [f"c{n}@example.com" for n in range(4)]


def test_unsubscribed_addresses_cancelled_orders_and_platform_requests_are_never_mailed(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop)
    order(db, shop, "1", "Gone@Example.com")
    with db.write() as conn:
        conn.execute(insert(t.review_unsubscribes).values(
            store_id=shop, email_hash=email_hash("gone@example.com"), created_at=FROZEN))
    order(db, shop, "2", "cancelled@example.com")
    with db.write() as conn:  # cancelled through the real path: its message is cancelled
        schedule(conn, shop, [JourneyEvent("shop", "order_cancelled", FROZEN - timedelta(
            minutes=5), {"order_id": "2"})], FROZEN)
    order(db, shop, "3", "raced@example.com")
    with db.write() as conn:  # cancelled with its message still due (a race with the sender)
        conn.execute(update(t.review_requests).where(t.review_requests.c.order_id == "3")
                     .values(status="cancelled", reason="refunded"))
    order(db, shop, "4", None)

    report = run(db, vault, config, FROZEN)

    assert smtp_server.received == []
    assert (report.sent, report.skipped) == (0, 3)
    rows = messages(db)
    assert rows[("1", "request")].status == "skipped"
    assert rows[("1", "request")].request_status == "skipped"
    assert "unsubscribed" in rows[("1", "request")].request_reason
    assert (rows[("2", "request")].status, rows[("2", "request")].request_status) == (
        "cancelled", "cancelled")
    assert (rows[("3", "request")].status, rows[("3", "request")].request_status) == (
        "skipped", "cancelled")
    assert rows[("4", "request")].request_reason == "no email address"

    # WooCommerce 10.8+ asking for reviews itself: Parcours never asks twice.
    with db.write() as conn:
        save_store_facts(conn, shop, {"platform_review_requests": {
            "available": True, "enabled": True, "delay_days": 7}}, FROZEN)
    order(db, shop, "5", "woo@example.com")
    assert run(db, vault, config, FROZEN).skipped == 1
    assert messages(db)[("5", "request")].request_reason == (
        "the platform sends its own review request")
    assert smtp_server.received == []


def test_one_reminder_only_while_no_review_came_and_it_does_not_count_for_the_cap(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop, reminder_days=13, customer_cap_days=30)
    order(db, shop, "1", "quiet@example.com")
    order(db, shop, "2", "reviewer@example.com")
    assert run(db, vault, config, FROZEN).sent == 2
    with db.write() as conn:  # the second customer answers (what the form does)
        conn.execute(update(t.review_requests).where(t.review_requests.c.order_id == "2")
                     .values(status="submitted", submitted_at=FROZEN + timedelta(days=2)))

    assert run(db, vault, config, FROZEN + timedelta(days=12)).sent == 0
    report = run(db, vault, config, FROZEN + timedelta(days=13))
    assert (report.sent, report.skipped) == (1, 1)
    assert run(db, vault, config, FROZEN + timedelta(days=14)).sent == 0

    reminders = [item for item in smtp_server.received if item.rcpt_tos == [
        "quiet@example.com"]]
    assert len(reminders) == 2
    assert reminders[1].message["Subject"].startswith("A quick reminder")
    assert "A few days ago" in text_of(reminders[1].message)
    assert reminders[0].message["Message-ID"] != reminders[1].message["Message-ID"]
    assert smtp_server.recipients().count("reviewer@example.com") == 1
    rows = messages(db)
    assert (rows[("2", "reminder")].status, rows[("2", "reminder")].reason) == (
        "skipped", "a review came")
    assert rows[("1", "request")].request_status == "sent"

    # The reminder 13 days ago does not hold a new order's request: the cap counts requests.
    new_order = FROZEN + timedelta(days=31)
    order(db, shop, "3", "quiet@example.com", fulfilled=new_order)
    assert run(db, vault, config, new_order).sent == 1


# -- failures -----------------------------------------------------------------------------------

def test_refusals_retry_with_backoff_or_fail(db: Database, vault: Vault, shop: int,
                                             config: dict[str, Any],
                                             smtp_server: SmtpServer) -> None:
    set_settings(db, shop)
    order(db, shop, "1", "busy@example.com")
    smtp_server.rcpt_reply = "451 4.7.1 try again later"
    moment = FROZEN
    for attempt in range(1, MAX_ATTEMPTS):
        assert run(db, vault, config, moment).retried == 1
        row = messages(db)[("1", "request")]
        assert (row.status, row.attempts) == ("due", attempt)
        assert row.due_at > moment and "451" in row.reason
        assert run(db, vault, config, row.due_at - timedelta(seconds=1)).retried == 0
        moment = row.due_at
    assert run(db, vault, config, moment).failed == 1
    assert messages(db)[("1", "request")].status == "failed"

    smtp_server.rcpt_reply = "550 5.1.1 no such user"
    order(db, shop, "2", "nobody@example.com")
    assert run(db, vault, config, FROZEN).failed == 1
    row = messages(db)[("2", "request")]
    assert row.status == "failed" and "550" in row.reason
    assert row.request_status == "skipped"
    assert smtp_server.received == []


def test_a_hanging_server_times_out_retried_before_the_handover_never_after(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop)
    order(db, shop, "1", "slow@example.com")
    smtp_server.hang_on_mail = 1

    report = send_due(db, vault, {**config, "SMTP_TIMEOUT": 0.3}, now=FROZEN)

    assert report.retried == 1
    row = messages(db)[("1", "request")]
    assert row.status == "due" and row.due_at > FROZEN
    assert run(db, vault, config, row.due_at).sent == 1
    assert smtp_server.recipients() == ["slow@example.com"]

    # No answer to the message's final ".": it may have been accepted, so it is never resent.
    order(db, shop, "2", "unsure@example.com")
    smtp_server.hang_on_data = 2
    report = send_due(db, vault, {**config, "SMTP_TIMEOUT": 0.3}, now=FROZEN)
    assert (report.unconfirmed, report.retried) == (1, 0)
    assert messages(db)[("2", "request")].status == "unconfirmed"
    assert run(db, vault, config, FROZEN + timedelta(days=1)).sent == 0
    assert smtp_server.data_count == 2


def test_a_configuration_problem_leaves_messages_due(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop)
    order(db, shop, "1", "a@example.com")
    order(db, shop, "2", "b@example.com")
    # A password over a connection that cannot be encrypted is never sent.
    insecure = {**config, "SMTP_URL": f"smtp://user:s3cret@127.0.0.1:{smtp_server.port}"}

    report = send_due(db, vault, insecure, now=FROZEN)

    assert report.sent == 0 and report.deferred == 2
    assert "STARTTLS" in report.errors[0] and "s3cret" not in report.errors[0]
    assert {(row.status, row.attempts) for row in messages(db).values()} == {("due", 0)}
    report = send_due(db, vault, {**config, "SMTP_URL": None}, now=FROZEN)
    assert "PARCOURS_SMTP_URL" in report.errors[0]
    with pytest.raises(ConfigError, match="PARCOURS_PUBLIC_URL"):
        send_due(db, vault, {**config, "PUBLIC_URL": None}, now=FROZEN)
    with pytest.raises(ConfigError, match="PARCOURS_SECRET_KEYS"):  # the links' signing keys
        send_due(db, Vault(None), config, now=FROZEN)
    assert {(row.status, row.attempts) for row in messages(db).values()} == {("due", 0)}
    assert run(db, vault, config, FROZEN).sent == 2


# -- never twice --------------------------------------------------------------------------------

def test_two_workers_racing_send_each_email_once(
        db: Database, database_url: str, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer) -> None:
    set_settings(db, shop)
    count = 30
    for n in range(count):
        order(db, shop, str(n), f"race{n}@example.com", fulfilled=FROZEN - timedelta(seconds=n))
    other = Database(database_url)  # as a second process would have its own
    start = threading.Barrier(2)
    reports: list[SendReport] = []
    errors: list[BaseException] = []

    def worker(database: Database) -> None:
        start.wait()
        try:
            reports.append(send_due(database, vault, config, now=FROZEN))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(database,)) for database in (db, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    other.engine.dispose()

    assert not errors
    recipients = smtp_server.recipients()
    assert sorted(recipients) == sorted(f"race{n}@example.com" for n in range(count))
    assert sum(report.sent for report in reports) == count
    assert {row.status for row in messages(db).values() if row.kind == "request"} == {"sent"}


WORKER = textwrap.dedent("""
    import sys
    from datetime import datetime
    from parcours.app import create_app
    from parcours.review_sender import send_due
    app = create_app()
    send_due(app.extensions["parcours.db"], app.extensions["parcours.vault"], app.config,
             now=datetime.fromisoformat(sys.argv[1]))
""")


def kill_worker_when_it_hangs(database_url: str, config: dict[str, Any],
                              smtp_server: SmtpServer, instance: Path) -> None:
    """Run `send_due` in a process of its own, configured as a worker is (environment), and
    SIGKILL it once the SMTP server holds it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARCOURS_")}
    env.update({"PARCOURS_DATABASE_URL": database_url, "PARCOURS_SECRET_KEYS": KEY,
                "PARCOURS_SMTP_URL": smtp_server.url,
                "PARCOURS_MAIL_FROM": str(config["MAIL_FROM"]), "PARCOURS_PUBLIC_URL": PUBLIC,
                "PARCOURS_INSTANCE_PATH": str(instance)})
    worker = subprocess.Popen([sys.executable, "-c", WORKER, FROZEN.isoformat()], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not smtp_server.hanging.wait(0.05):
            if worker.poll() is not None:
                pytest.fail(f"the worker ended early: {worker.stderr.read()!r}")  # type: ignore[union-attr]
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(30)
        worker.stderr.close()  # type: ignore[union-attr]


def test_a_worker_killed_mid_send_never_sends_a_message_twice(
        db: Database, database_url: str, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer, tmp_path: Path) -> None:
    set_settings(db, shop, reminder=False)
    for n in range(1, 6):
        order(db, shop, str(n), f"k{n}@example.com", fulfilled=FROZEN - timedelta(minutes=10 - n))
    smtp_server.hang_on_mail = 3

    kill_worker_when_it_hangs(database_url, config, smtp_server, tmp_path / "instance")

    statuses = {order_id: row.status for (order_id, _), row in messages(db).items()}
    assert statuses == {"1": "sent", "2": "sent", "3": "sending", "4": "due", "5": "due"}
    assert smtp_server.recipients() == ["k1@example.com", "k2@example.com"]

    # Within the lease the claim still stands: the others go, the third waits.
    report = run(db, vault, config, FROZEN + timedelta(minutes=1))
    assert (report.sent, report.released) == (2, 0)
    assert messages(db)[("3", "request")].status == "sending"
    # After it, the third was never handed over: it is sent, once.
    report = run(db, vault, config, FROZEN + LEASE + timedelta(minutes=1))
    assert (report.sent, report.released) == (1, 1)
    recipients = smtp_server.recipients()
    assert sorted(recipients) == [f"k{n}@example.com" for n in range(1, 6)]
    assert {row.status for row in messages(db).values()} == {"sent"}


def test_a_worker_killed_while_handing_over_leaves_it_unconfirmed_never_resent(
        db: Database, database_url: str, vault: Vault, shop: int, config: dict[str, Any],
        smtp_server: SmtpServer, tmp_path: Path) -> None:
    set_settings(db, shop, reminder=False)
    order(db, shop, "1", "first@example.com", fulfilled=FROZEN - timedelta(minutes=2))
    order(db, shop, "2", "maybe@example.com", fulfilled=FROZEN - timedelta(minutes=1))
    smtp_server.hang_on_data = 2  # the whole message went; its acceptance never comes back

    kill_worker_when_it_hangs(database_url, config, smtp_server, tmp_path / "instance")

    assert messages(db)[("2", "request")].status == "handing"
    assert run(db, vault, config, FROZEN + timedelta(minutes=1)).unconfirmed == 0  # the lease
    assert messages(db)[("2", "request")].status == "handing"
    report = run(db, vault, config, FROZEN + LEASE + timedelta(minutes=1))
    assert (report.unconfirmed, report.sent) == (1, 0)
    row = messages(db)[("2", "request")]
    assert row.status == "unconfirmed" and "may have gone" in row.reason
    assert run(db, vault, config, FROZEN + timedelta(days=1)).sent == 0
    assert smtp_server.data_count == 2  # never handed over a second time
    assert smtp_server.recipients() == ["first@example.com"]


# -- the webhook channel ------------------------------------------------------------------------

def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, written from the specification (not Parcours' code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) <= 300
    return fresh and any(hmac.compare_digest(expected, given)
                         for given in headers["webhook-signature"].split())


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsReceiver]:
    with HttpsReceiver(tmp_path) as running:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(running.ca_file))  # trust its certificate
        yield running


def test_a_webhook_on_a_private_network_is_refused_unless_allowed(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        receiver: HttpsReceiver) -> None:
    set_settings(db, shop, channel="webhook", webhook_url=f"{receiver.url}/hooks/reviews")
    order(db, shop, "1", "hook@example.com")
    assert run(db, vault, config, FROZEN).failed == 1  # 127.0.0.1: Parcours' own network
    assert receiver.received == []
    assert "not a public address" in messages(db)[("1", "request")].reason


def test_the_webhook_channel_posts_signed_requests_and_retries_on_5xx(
        db: Database, vault: Vault, shop: int, config: dict[str, Any],
        receiver: HttpsReceiver, smtp_server: SmtpServer) -> None:
    config = {**config, "REVIEW_WEBHOOK_LOCAL": True}  # the receiver is on loopback
    set_settings(db, shop, channel="webhook", webhook_url=f"{receiver.url}/hooks/reviews",
                 default_locale="fr")
    request_id = order(db, shop, "1", "hook@example.com", locale=None, name="Léa")
    order(db, shop, "2", None, name="Phone only")  # the merchant's tool may know whom to ask
    receiver.statuses = [503]

    report = run(db, vault, config, FROZEN)

    assert (report.sent, report.retried) == (1, 1)
    retry = next(row for row in messages(db).values() if row.status == "due"
                 and row.kind == "request")
    assert run(db, vault, config, retry.due_at).sent == 1
    with db.write() as conn:
        [secret] = review_webhook_secrets(conn, vault, shop)  # what the merchant configures
    assert secret.startswith("whsec_")
    assert len(receiver.received) == 3 and smtp_server.received == []
    for path, headers, body in receiver.received:
        assert path == "/hooks/reviews"
        assert headers["content-type"] == "application/json"
        assert verify_standard_webhook(secret, headers, body)
        assert not verify_standard_webhook("whsec_" + base64.b64encode(b"x" * 32).decode(),
                                           headers, body)
    ids = [headers["webhook-id"] for _, headers, _ in receiver.received]
    assert len(set(ids)) == 2  # the retried message kept its id: the receiver can dedupe
    payloads = {json.loads(body)["data"]["order_id"]: json.loads(body)
                for _, _, body in receiver.received}
    data = payloads["1"]["data"]
    assert payloads["1"]["type"] == "review.request"
    assert data["kind"] == "request" and data["store"] == "shop" and data["locale"] == "fr"
    assert data["recipient"] == {"email": "hook@example.com", "name": "Léa"}
    assert [item["product_id"] for item in data["items"]] == ["p1", "p2"]
    link = read_form_token(vault, data["form_url"].rsplit("/", 1)[1])
    assert link.request_id == request_id
    assert read_unsubscribe_token(vault, data["unsubscribe_url"].rsplit("/", 1)[1]).store_id \
        == shop
    assert payloads["2"]["data"]["recipient"]["email"] is None
    assert payloads["2"]["data"]["unsubscribe_url"] is None
    assert {row.status for row in messages(db).values() if row.kind == "request"} == {"sent"}

    receiver.statuses = [410]
    order(db, shop, "3", "gone@example.com")
    assert run(db, vault, config, FROZEN).failed == 1
    assert "410" in messages(db)[("3", "request")].reason


# -- the job and the look -----------------------------------------------------------------------

def test_the_periodic_job_sends(database_url: str, shop: int, db: Database,
                                smtp_server: SmtpServer, config: dict[str, Any],
                                tmp_path: Path) -> None:
    from parcours.app import create_app

    set_settings(db, shop, quiet_start=None, quiet_end=None)
    order(db, shop, "1", "job@example.com", fulfilled=datetime.now(UTC) - timedelta(minutes=1))
    app = create_app({**config, "DATABASE_URL": database_url, "SECRET_KEYS": KEY,
                      "JOBS_IMMEDIATE": True}, instance_path=str(tmp_path / "instance"))
    app.extensions["parcours.jobs"].review_send()
    assert smtp_server.recipients() == ["job@example.com"]
    app.extensions["parcours.db"].engine.dispose()


def test_the_email_renders_in_a_browser(db: Database, vault: Vault, shop: int,
                                        config: dict[str, Any], smtp_server: SmtpServer,
                                        browser: Any) -> None:
    set_settings(db, shop, logo_url="https://shop.example/logo.svg",
                 incentive="a 10% voucher for your next order")
    order(db, shop, "1001", "alice@example.com", items=(
        ReviewItem("p1", "Brass desk lamp", "https://shop.example/p1.svg"),
        ReviewItem("p2", "Linen lampshade, natural", "https://shop.example/p2.svg")))
    run(db, vault, config, FROZEN)
    html = html_of(smtp_server.received[0].message)

    page = browser.new_page(viewport={"width": 640, "height": 480})
    try:
        page.route("https://shop.example/**", lambda route: route.fulfill(
            content_type="image/svg+xml", body=_picture(route.request.url)))
        page.set_content(html, wait_until="load")
        button = page.get_by_role("link", name="Review your order")
        assert button.is_visible()
        assert page.get_by_role("img", name="Brass desk lamp").is_visible()
        assert page.get_by_role("link", name="Unsubscribe from review requests").is_visible()
        if SCREENSHOTS and db.engine.dialect.name == "sqlite":
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SCREENSHOTS, "review-email-en.png")), full_page=True)
    finally:
        page.close()


def _picture(url: str) -> str:
    """Stand-ins for the shop's logo and product photos (the shop is not reachable here)."""
    if url.endswith("logo.svg"):
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="48">'
                '<text x="0" y="34" font-family="Georgia,serif" font-size="30" '
                'fill="#7c2d12">Atelier Lumière</text></svg>')
    hue = 35 if "p1" in url else 200
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="112" height="112">'
            f'<rect width="112" height="112" fill="hsl({hue},40%,88%)"/>'
            f'<circle cx="56" cy="60" r="30" fill="hsl({hue},45%,55%)"/></svg>')
