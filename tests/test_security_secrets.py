"""Secrets stay secret (SQLite and PostgreSQL): flows that handle them, good and bad requests
alike, are run with every log record and the process's output captured, and no API key secret,
webhook secret, app secret, consumer secret, access token nor PARCOURS_SECRET_KEYS value appears
there or in an answer. At rest, credentials are unreadable without the key, and readable after
`parcours secrets rotate` with the new key alone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import get_store
from parcours.credentials import Vault, generate_key, read_secrets, set_secret
from parcours.errors import ConfigError
from tests.processes import parcours
from tests.security_support import Hostile, make_hostile
from tests.test_webhooks import APP_SECRET, CUSTOM_SECRET, OLD_APP_SECRET, WC_SECRET, envelope

CONSUMER_SECRET = "cs_" + "9f" * 20
ACCESS_TOKEN = "shpat_" + "a1" * 16


def _flows(hostile: Hostile) -> list[str]:
    """Requests that handle every kind of secret, right and wrong; the answers' bodies."""
    client = hostile.app.test_client()
    headers, body = envelope("webhook_order_created_delivery_envelope__local-wc11.0.1.json")
    answers = [
        client.post("/webhooks/woocommerce/woo", data=body, headers=headers),
        client.post("/webhooks/woocommerce/woo", data=body + b" ", headers=headers),
        client.post("/webhooks/custom/own", data=b"{}", headers={
            "webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": CUSTOM_SECRET}),
        client.post("/webhooks/shopify", data=b"{}", headers={
            "X-Shopify-Hmac-Sha256": APP_SECRET, "X-Shopify-Shop-Domain": OLD_APP_SECRET}),
        client.get("/api/v1/stores/own/kpis",
                   headers={"Authorization": f"Bearer {hostile.keys['acme']}x"}),
        client.get("/api/v1/stores/own/kpis",
                   headers={"Authorization": f"Bearer {hostile.keys['acme']}"}),
        client.get("/api/v1/stores/walled/kpis",
                   headers={"Authorization": f"Bearer {hostile.keys['own-only']}"}),
        client.post("/woocommerce/callback", json={
            "user_id": "forged", "consumer_key": "ck_" + "1" * 40,
            "consumer_secret": CONSUMER_SECRET, "key_permissions": "read_write"}),
        client.get(f"/shopify/callback?shop=x.myshopify.com&code={ACCESS_TOKEN}&hmac=0"),
    ]
    return [answer.get_data(as_text=True) for answer in answers]


def test_no_secret_reaches_a_log_an_answer_or_the_output(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    key = generate_key()
    hostile = make_hostile(database_url, tmp_path, SECRET_KEYS=key, PUBLIC_URL="https://p.example")
    try:
        bodies = _flows(hostile)
    finally:
        hostile.db.engine.dispose()
    out, err = capfd.readouterr()
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    api_secrets = [k.split("_", 2)[2] for k in hostile.keys.values()]  # prc_<prefix>_<secret>
    for secret in (*api_secrets, WC_SECRET, CUSTOM_SECRET, CUSTOM_SECRET[6:], APP_SECRET,
                   OLD_APP_SECRET, CONSUMER_SECRET, ACCESS_TOKEN, key):
        for where, text in (("logs", logged), ("stdout", out), ("stderr", err),
                            *((f"answer {n}", b) for n, b in enumerate(bodies))):
            assert secret not in text, f"a secret is in the {where}"
    assert caplog.records  # the flows did log (the rejections): the check had something to read


def test_credentials_are_ciphertext_and_survive_a_key_rotation(
        env: dict[str, str], database_url: str) -> None:
    old, new = generate_key(), generate_key()
    from parcours.db import Database

    db = Database(database_url)
    try:
        with db.write() as conn:
            set_secret(conn, Vault(old), get_store(conn, "shop").id, WC_SECRET)
        with db.read() as conn:
            stored = [row.ciphertext for row in conn.execute(select(t.credentials))]
            assert stored and all(WC_SECRET not in value for value in stored)
            shop = get_store(conn, "shop").id
            with pytest.raises(ConfigError):  # another key reads nothing
                read_secrets(conn, Vault(new), shop)
        rotated = parcours({**env, "PARCOURS_SECRET_KEYS": f"{new},{old}"}, "secrets", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert WC_SECRET not in rotated.stdout + rotated.stderr
        assert old not in rotated.stdout + rotated.stderr
        with db.read() as conn:
            assert read_secrets(conn, Vault(new), shop) == [WC_SECRET]  # the new key alone
            with pytest.raises(ConfigError):  # the retired key no longer opens it
                read_secrets(conn, Vault(old), shop)
            assert json.dumps([r.ciphertext for r in conn.execute(select(t.credentials))]) \
                != json.dumps(stored)
    finally:
        db.engine.dispose()
