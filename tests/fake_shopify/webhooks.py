"""The fake's webhook sender: deliveries as Shopify makes them, to the subscriptions it holds.

shopify.dev, "Webhooks delivery structure" and "Verify webhooks": an HTTP POST of the JSON body
to the subscription's `uri` with `X-Shopify-Topic`, `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256
of the raw body, keyed with the app's client secret), `X-Shopify-Shop-Domain`,
`X-Shopify-API-Version`, `X-Shopify-Webhook-Id` (kept across the retries of one delivery),
`X-Shopify-Triggered-At` and `X-Shopify-Event-Id`. The app must answer 2xx within 5 seconds.

A topic goes only where a subscription asks for it: the shop-specific subscriptions the app
created with webhookSubscriptionCreate (`FakeShop.webhook_subscriptions`), and the compliance
topics to `FakeShopify.compliance_uri` (the app config's `compliance_topics`). Uninstalling
revokes the app's tokens and deletes its shop-specific subscriptions, then sends app/uninstalled
to the subscription that existed (Shopify's order: the notice still arrives).

The app's public URL is https; here it is served over plain HTTP on loopback. `FakeShopify.
app_network` maps the public origin to the local one, as the TLS-terminating proxy in front of
a real deployment does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from tests.fake_shopify import API_VERSION, FakeShopify

__all__ = ["COMPLIANCE_TOPICS", "Sent", "local_url", "send", "uninstall"]

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
TIMEOUT = 5.0  # seconds: Shopify's limit for an answer


@dataclass(frozen=True)
class Sent:
    """One delivery attempt: what was sent and what the app answered."""

    webhook_id: str
    uri: str
    status: int
    answer: Any  # the JSON answer, or the text


def local_url(state: FakeShopify, url: str) -> str:
    """`url` as reachable from here: its public origin swapped for the local one."""
    for public, local in state.app_network.items():
        if url == public or url.startswith(public.rstrip("/") + "/"):
            return local.rstrip("/") + url[len(public.rstrip("/")):]
    return url


def _uris(state: FakeShopify, shop: str, topic: str) -> list[str]:
    if topic in COMPLIANCE_TOPICS:
        return [state.compliance_uri] if state.compliance_uri else []
    enum = topic.upper().replace("/", "_")
    fake = state.shop(shop)
    with state.lock:
        subscriptions = list(fake.webhook_subscriptions.values())
    return [sub["uri"] for sub in subscriptions if sub["topic"] == enum]


def send(state: FakeShopify, shop: str, topic: str, payload: Any, *, webhook_id: str = "",
         secret: str | None = None, body: bytes | None = None,
         uris: list[str] | None = None) -> list[Sent]:
    """Deliver `payload` on `topic` to every subscription for it (none: nothing is sent).

    `webhook_id` repeats an earlier delivery (a retry); `secret` signs with another key (a
    forgery); `body` replaces the serialized payload.
    """
    raw = body if body is not None else json.dumps(payload).encode()
    signature = base64.b64encode(hmac.new((secret or state.api_secret).encode(), raw,
                                          hashlib.sha256).digest()).decode()
    sent = []
    for uri in _uris(state, shop, topic) if uris is None else uris:
        delivery = webhook_id or f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-" \
                                 f"{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
                   "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": shop,
                   "X-Shopify-API-Version": API_VERSION, "X-Shopify-Webhook-Id": delivery,
                   "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
                   "X-Shopify-Event-Id": secrets.token_hex(8)}
        answer = requests.post(local_url(state, uri), data=raw, headers=headers, timeout=TIMEOUT)
        try:
            content: Any = answer.json()
        except ValueError:
            content = answer.text
        sent.append(Sent(delivery, uri, answer.status_code, content))
    return sent


def uninstall(state: FakeShopify, shop: str) -> list[Sent]:
    """The merchant removes the app: tokens revoked, subscriptions deleted, app/uninstalled sent."""
    uris = _uris(state, shop, "app/uninstalled")
    fake = state.shop(shop)
    with state.lock:
        fake.access_tokens.clear()
        fake.refresh_tokens.clear()
        fake.webhook_subscriptions.clear()
        fake.web_pixels.clear()
    payload = {"id": 548380009, "name": shop.split(".")[0], "domain": shop,
               "myshopify_domain": shop}
    return send(state, shop, "app/uninstalled", payload, uris=uris)
