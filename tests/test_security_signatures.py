"""Signature bypass attempts on every signed way in (SQLite and PostgreSQL): the three webhook
receivers with an empty, truncated, padded or other-algorithm signature, a signature by an empty
or unknown secret, and replays (after the window where a timestamp is signed; the same delivery
again where none is, which the inbox stores once and the events' ids make harmless); and the
Shopify session token with another algorithm or none. Each is 401 and stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import jwt
import pytest
from sqlalchemy import func, select

from parcours import tables as t
from parcours.standard_webhooks import sign as sw_sign
from tests.dashboard_support import API_KEY, API_SECRET, SHOP, Site, shopify_token, site
from tests.security_support import Hostile, assert_handled, hostile, settle
from tests.test_webhooks import (
    APP_SECRET,
    CUSTOM_SECRET,
    ORDER,
    WC_SECRET,
    custom_headers,
    envelope,
    fixture,
    shopify_headers,
)

__all__ = ["hostile", "site"]  # the fixtures, used by name

WC_ORDER = "webhook_order_created_delivery_envelope__local-wc11.0.1.json"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _forgeries(secret: str, body: bytes) -> dict[str, str]:
    """Signature values an attacker may try in place of the real one."""
    good = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"empty": "", "blank": "   ", "truncated": _b64(good)[:20],
            "one byte short": _b64(good[:-1]), "padded": _b64(good + b"\0"),
            "hex": good.hex(), "sha1": _b64(hmac.new(secret.encode(), body, "sha1").digest()),
            "sha512": _b64(hmac.new(secret.encode(), body, "sha512").digest()),
            "md5": _b64(hmac.new(secret.encode(), body, "md5").digest()),
            "plain sha256": _b64(hashlib.sha256(body).digest()),
            "empty secret": _b64(hmac.new(b"", body, hashlib.sha256).digest()),
            "non-ascii": "é" + _b64(good)[1:]}


def _inbox(hostile: Hostile) -> int:
    with hostile.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.inbox)).scalar_one())


def _refused(hostile: Hostile, path: str, headers: dict[str, str], body: bytes) -> None:
    before = _inbox(hostile)
    answer = hostile.app.test_client().post(path, data=body, headers=headers)
    assert_handled(answer, 401)
    assert _inbox(hostile) == before


def test_shopify_refuses_every_forged_hmac(hostile: Hostile) -> None:
    body = fixture(ORDER)
    for value in _forgeries(APP_SECRET, body).values():
        headers = {**shopify_headers(body), "X-Shopify-Hmac-Sha256": value}
        _refused(hostile, "/webhooks/shopify", headers, body)
    _refused(hostile, "/webhooks/shopify", shopify_headers(body, secret="shpss_guess"), body)
    missing = {k: v for k, v in shopify_headers(body).items() if k != "X-Shopify-Hmac-Sha256"}
    _refused(hostile, "/webhooks/shopify", missing, body)


def test_woocommerce_refuses_every_forged_signature(hostile: Hostile) -> None:
    headers, body = envelope(WC_ORDER)
    for value in _forgeries(WC_SECRET, body).values():
        _refused(hostile, "/webhooks/woocommerce/woo",
                 {**headers, "X-WC-Webhook-Signature": value}, body)
    _refused(hostile, "/webhooks/woocommerce/woo",
             {k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}, body)


def test_standard_webhooks_refuse_forged_signatures_and_stale_timestamps(
        hostile: Hostile) -> None:
    body = b'{"events": []}'
    good = custom_headers(body)
    signed = f"{good['webhook-id']}.{good['webhook-timestamp']}.".encode() + body
    key = base64.b64decode(CUSTOM_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    forged = {"v0": "v0," + _b64(digest), "v1a": "v1a," + _b64(digest),
              "no version": _b64(digest), "empty": "v1,", "truncated": "v1," + _b64(digest)[:30],
              "sha512": "v1," + _b64(hmac.new(key, signed, "sha512").digest()),
              "over the body only": "v1," + _b64(hmac.new(key, body, hashlib.sha256).digest()),
              "secret as text": "v1," + _b64(hmac.new(CUSTOM_SECRET.encode(), signed,
                                                      hashlib.sha256).digest()),
              "ed25519 label": "v1a," + _b64(b"\0" * 64)}
    for value in forged.values():
        _refused(hostile, "/webhooks/custom/own", {**good, "webhook-signature": value}, body)
    now = int(time.time())
    for at in (now - 301, now + 301, 0, 10**12):  # replayed later, or signed for the future
        _refused(hostile, "/webhooks/custom/own", custom_headers(body, at=at), body)
    # The id and the timestamp are signed: changing either breaks the signature.
    _refused(hostile, "/webhooks/custom/own", {**good, "webhook-id": "msg_other"}, body)
    _refused(hostile, "/webhooks/custom/own", {**good, "webhook-timestamp": str(now - 1)}, body)


Send = Callable[[], int]


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "custom"])
def test_a_replayed_delivery_is_stored_once_and_counts_once(hostile: Hostile,
                                                            platform: str) -> None:
    """Where no timestamp is signed (Shopify, WooCommerce) a captured delivery verifies again:
    the inbox keeps one row per delivery, and a replay under a new delivery id records no event
    twice (event ids are deterministic)."""
    client = hostile.app.test_client()
    if platform == "shopify":
        body = fixture(ORDER)
        headers = shopify_headers(body, webhook_id="replayed")
        path = "/webhooks/shopify"
        renamed = {**headers, "X-Shopify-Webhook-Id": "new-id"}
    elif platform == "woocommerce":
        headers, body = envelope(WC_ORDER)
        path = "/webhooks/woocommerce/woo"
        renamed = {**headers, "X-WC-Webhook-Delivery-ID": "new-id"}
    else:
        body = (b'{"events": [{"name": "order_paid", "occurred_at": "2026-11-20T10:00:00Z", '
                b'"identities": {"customer_id": "7"}, "resource": {"type": "order", "id": "9"},'
                b' "properties": {"total": "10.00", "currency": "EUR"}}]}')
        headers, path = custom_headers(body, msg_id="msg_replayed"), "/webhooks/custom/own"
        stamp = int(headers["webhook-timestamp"])
        renamed = {**headers, "webhook-id": "msg_new",
                   "webhook-signature": sw_sign(CUSTOM_SECRET, "msg_new", stamp, body)}
    first = client.post(path, data=body, headers=headers)
    again = client.post(path, data=body, headers=headers)
    assert first.get_json()["duplicate"] is False and again.get_json()["duplicate"] is True
    settle(hostile.db)
    with hostile.db.read() as conn:
        events = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
    assert client.post(path, data=body, headers=renamed).status_code == 200
    settle(hostile.db)
    with hostile.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.events)).scalar_one() == events


@pytest.mark.filterwarnings("ignore:The HMAC key")  # short keys on purpose: forgeries
def test_shopify_session_tokens_of_another_algorithm_are_refused(site: Site) -> None:
    claims = jwt.decode(shopify_token(), API_SECRET, algorithms=["HS256"], audience=API_KEY)
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    payload = shopify_token().split(".")[1]
    unsigned = segment(b'{"alg":"none","typ":"JWT"}') + "." + payload + "."
    signed_part = segment(b'{"alg":"HS256","typ":"JWT"}') + "." + payload
    empty_key = signed_part + "." + segment(
        hmac.new(b"", signed_part.encode(), hashlib.sha256).digest())
    for token in (unsigned, unsigned + "x",
                  jwt.encode(claims, API_SECRET, algorithm="HS512"),
                  jwt.encode(claims, API_SECRET, algorithm="HS384"),
                  empty_key,
                  shopify_token()[:-5], shopify_token(shop="evil.myshopify.com", secret="x"),
                  shopify_token(expires_in=-120)):
        answer = site.app.test_client().get(f"/dashboard/shopify?id_token={token}&shop={SHOP}")
        assert answer.status_code == 401, token
