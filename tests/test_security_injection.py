"""SQL injection and XSS in every kind of text that reaches a page, an email or the storefront
(SQLite and PostgreSQL): hostile reviews, names and product titles go in through the real paths
(a signed webhook and its worker, the review form) and must come out of the dashboard, the review
email (a real SMTP server) and the storefront's JSON as inert text, and out of the database
exactly as typed. Text no database can hold (NUL) is refused at the door, not left to fail a
worker's batch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import save_store_facts
from parcours.dashboard_users import add_user
from parcours.review_sender import send_due
from tests.dashboard_support import form_token
from tests.review_form_support import Shop, Shopper, make_shop, shop
from tests.security_support import (
    LIVE_MARKUP,
    SQL_PAYLOADS,
    XSS_PAYLOADS,
    Hostile,
    hostile,
    settle,
    store_id,
)
from tests.smtp_support import SmtpServer
from tests.test_webhooks import custom_headers

__all__ = ["hostile", "make_shop", "shop"]  # the fixtures, used by name

HOSTILE_TEXT = " ".join((*SQL_PAYLOADS, *XSS_PAYLOADS))
FROZEN = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday morning: outside quiet hours


def _inert(html: str) -> None:
    for markup in LIVE_MARKUP:
        assert markup not in html, markup


def test_a_hostile_review_is_stored_as_typed_and_shown_as_text(shop: Shop,
                                                               tmp_path: Path) -> None:
    _, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    sent = shopper.send(**{"rating-0": "1", "title-0": SQL_PAYLOADS[0],
                           "body-0": HOSTILE_TEXT, "author": XSS_PAYLOADS[1]})
    assert sent.status_code == 200
    _inert(sent.get_data(as_text=True))
    [review] = shop.rows(t.reviews)
    assert (review.title, review.body, review.author) == (SQL_PAYLOADS[0], HOSTILE_TEXT,
                                                          XSS_PAYLOADS[1])
    with shop.db.write() as conn:
        conn.execute(t.reviews.update().values(status="published"))
        add_user(conn, "ops@acme.example", "correct horse battery", account="acme",
                 now=datetime.now(UTC))
    client = shop.app.test_client()
    page = client.get("/dashboard/login")
    assert client.post("/dashboard/login", data={
        "csrf": form_token(page.get_data(as_text=True)), "email": "ops@acme.example",
        "password": "correct horse battery"}).status_code == 303
    reviews = client.get(f"/dashboard/stores/{shop.key}/reviews")
    assert reviews.status_code == 200
    html = reviews.get_data(as_text=True)
    _inert(html)
    assert XSS_PAYLOADS[0] in unescape(html)  # shown, as text
    widget = shop.app.test_client().get(f"/w/{shop.key}/reviews/{review.product_id}.json")
    # Data, not markup: JSON that a browser never renders as a page (the widget writes it
    # with textContent, tests/test_review_storefront_browser.py), holding the text as typed.
    assert widget.status_code == 200 and widget.mimetype == "application/json"
    [shown] = [r for r in widget.get_json()["reviews"] if r["id"] == review.id]
    assert (shown["title"], shown["body"]) == (SQL_PAYLOADS[0], HOSTILE_TEXT)


def test_hostile_names_and_titles_reach_the_review_email_as_text(
        hostile: Hostile, smtp_server: SmtpServer) -> None:
    """Through a custom shop's signed delivery (contacts and fulfilment), the worker, and the
    sender: the buyer's name cannot add a header, the title cannot add markup."""
    own = store_id(hostile.db, "own")
    with hostile.db.write() as conn:
        save_store_facts(conn, own, {"review_settings": {"delay_days": 0, "transit_days": 0}},
                         FROZEN - timedelta(days=1))
    body = json.dumps({"events": [{
        "name": "order_fulfilled", "occurred_at": (FROZEN - timedelta(hours=1)).isoformat(),
        "identities": {"order_id": "o-1"}, "resource": {"type": "order", "id": "o-1"}}],
        "contacts": [{"order_id": "o-1", "email": "ann@example.com", "locale": "en",
                      "name": "Ann\r\nBcc: victim@evil.example " + XSS_PAYLOADS[1],
                      "items": [{"product_id": "p1", "title": HOSTILE_TEXT,
                                 "image": "javascript:alert(1)"}]}]}).encode()
    answer = hostile.app.test_client().post("/webhooks/custom/own", data=body,
                                            headers=custom_headers(body))
    assert answer.status_code == 200
    settle(hostile.db)
    send_due(hostile.db, hostile.app.extensions["parcours.vault"],
             {"SMTP_URL": smtp_server.url, "MAIL_FROM": "Reviews <reviews@parcours.example>",
              "PUBLIC_URL": "https://parcours.example"}, now=FROZEN)
    assert smtp_server.recipients() == ["ann@example.com"]
    [received] = smtp_server.received
    message = received.message
    # The line break is gone: the rest is the display name's text, not a header.
    assert message["Bcc"] is None and [a.addr_spec for a in message["To"].addresses] == [
        "ann@example.com"]
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())  # type: ignore[attr-defined]
    _inert(html)
    assert 'src="javascript:' not in html
    with hostile.db.read() as conn:
        items = conn.execute(select(t.review_requests.c["items"])).scalar_one()
    title = items[0]["title"]  # as typed, up to the title's length limit
    assert len(title) >= 150 and HOSTILE_TEXT.startswith(title)


def test_sql_in_events_is_data_and_nul_is_refused_at_the_door(hostile: Hostile) -> None:
    client = hostile.app.test_client()
    auth = {"Authorization": f"Bearer {hostile.keys['acme']}"}
    event = {"name": "page_viewed", "occurred_at": "2026-11-20T10:00:00Z",
             "identities": {"anonymous_id": SQL_PAYLOADS[1]},
             "properties": {"title": HOSTILE_TEXT}}
    assert client.post("/api/v1/stores/own/events", json={"events": [event]},
                       headers=auth).status_code == 202
    settle(hostile.db)
    with hostile.db.read() as conn:
        stored = conn.execute(select(t.events.c.properties)).scalars().all()
    assert [p["title"] for p in stored] == [HOSTILE_TEXT]
    nul = {**event, "properties": {"title": "a\x00b"}}
    refused = client.post("/api/v1/stores/own/events", json={"events": [nul]}, headers=auth)
    assert refused.status_code == 422
    assert "properties.title" in json.dumps(refused.get_json())
    beacon = client.post("/collect", data=json.dumps({"key": "own", "events": [nul]}),
                         headers={"User-Agent": "Mozilla/5.0 Chrome/120"})
    assert beacon.status_code == 400 and "properties.title" in beacon.get_data(as_text=True)
    # A signed delivery holding one is kept, then failed with the field named, and the good
    # delivery claimed in the same batch is recorded all the same.
    for records in ([nul], [{**event, "identities": {"anonymous_id": "fine"}}]):
        signed = json.dumps({"events": records}).encode()
        assert client.post("/webhooks/custom/own", data=signed,
                           headers=custom_headers(signed)).status_code == 200
    settle(hostile.db)
    with hostile.db.read() as conn:
        rows = conn.execute(select(t.inbox.c.status, t.inbox.c.error)
                            .order_by(t.inbox.c.id)).all()
    assert [r.status for r in rows[-2:]] == ["failed", "done"]
    assert "events.0.properties.title" in rows[-2].error
