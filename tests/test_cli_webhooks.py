"""`parcours normalize`, `parcours webhooks verify`, `parcours inbox`, `parcours privacy` and
`parcours secrets`, as support and merchants use them."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from parcours.cli import main
from parcours.credentials import generate_key
from parcours.standard_webhooks import sign
from tests.processes import parcours

FIXTURES = Path(__file__).parent / "fixtures"
WC_SECRET = 's3cr3t-&-"quote"-test'

# Every webhook-shaped fixture, with the topic it is delivered under (envelopes name their own).
WEBHOOK_FIXTURES: dict[str, tuple[str, str | None]] = {
    "shopify/app_uninstalled__shopifydev-webhooks-ref.json": ("shopify", "app/uninstalled"),
    "shopify/carts_create__shopifydev-webhooks-ref.json": ("shopify", "carts/create"),
    "shopify/carts_update__shopifydev-webhooks-ref.json": ("shopify", "carts/update"),
    "shopify/checkouts_create__shopifydev-webhooks-ref.json": ("shopify", "checkouts/create"),
    "shopify/checkouts_update__shopifydev-webhooks-ref.json": ("shopify", "checkouts/update"),
    "shopify/customer_account_settings_update__shopifydev-webhooks-ref.json":
        ("shopify", "customer_account_settings/update"),
    "shopify/customers_create__shopifydev-webhooks-ref.json": ("shopify", "customers/create"),
    "shopify/customers_data_request__shopifydev-privacy-compliance.json":
        ("shopify", "customers/data_request"),
    "shopify/customers_data_request__shopifydev-webhooks-ref.json":
        ("shopify", "customers/data_request"),
    "shopify/customers_redact__shopifydev-privacy-compliance.json":
        ("shopify", "customers/redact"),
    "shopify/customers_redact__shopifydev-webhooks-ref.json": ("shopify", "customers/redact"),
    "shopify/fulfillments_create__shopifydev-webhooks-ref.json": ("shopify", "fulfillments/create"),
    "shopify/orders_create__shopifydev-webhooks-ref.json": ("shopify", "orders/create"),
    "shopify/refunds_create__shopifydev-webhooks-ref.json": ("shopify", "refunds/create"),
    "shopify/shop_redact__shopifydev-privacy-compliance.json": ("shopify", "shop/redact"),
    "woocommerce/webhook_order_created_delivery_envelope__local-wc11.0.1.json":
        ("woocommerce", None),
    "woocommerce/webhook_order_updated_delivery_envelope__local-wc11.0.1.json":
        ("woocommerce", None),
    "woocommerce/webhook_customer_created_delivery_envelope__local-wc11.0.1.json":
        ("woocommerce", None),
    "woocommerce/webhook_product_created_delivery_envelope__local-wc11.0.1.json":
        ("woocommerce", None),
    "woocommerce/webhook_product_updated_delivery_envelope__local-wc11.0.1.json":
        ("woocommerce", None),
    "woocommerce/webhook_action_woocommerce_order_status_completed_delivery_envelope__local-wc11.0.1.json":
        ("woocommerce", None),
    "woocommerce/webhook_order_created_payload__local-wc11.0.1.json":
        ("woocommerce", "order.created"),
    "woocommerce/webhook_order_updated_payload__local-wc11.0.1.json":
        ("woocommerce", "order.updated"),
    "woocommerce/webhook_customer_created_payload__local-wc11.0.1.json":
        ("woocommerce", "customer.created"),
    "woocommerce/webhook_product_created_payload__local-wc11.0.1.json":
        ("woocommerce", "product.created"),
    "woocommerce/webhook_product_updated_payload__local-wc11.0.1.json":
        ("woocommerce", "product.updated"),
    "woocommerce/webhook_action_woocommerce_order_status_completed_payload__local-wc11.0.1.json":
        ("woocommerce", "action.woocommerce_order_status_completed"),
    # REST objects have the shape of the webhook bodies of their resource.
    "woocommerce/order__restdocs-v3.json": ("woocommerce", "order.updated"),
    "woocommerce/order_rest__local-wc11.0.1.json": ("woocommerce", "order.updated"),
    "woocommerce/customer__restdocs-v3.json": ("woocommerce", "customer.updated"),
    "woocommerce/customer_rest__local-wc11.0.1.json": ("woocommerce", "customer.updated"),
    "woocommerce/product__restdocs-v3.json": ("woocommerce", "product.updated"),
    "woocommerce/product_rest__local-wc11.0.1.json": ("woocommerce", "product.updated"),
}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", sorted(WEBHOOK_FIXTURES))
def test_normalize_every_fixture(name: str) -> None:
    platform, topic = WEBHOOK_FIXTURES[name]
    args = ["normalize", "--platform", platform, str(FIXTURES / name)]
    code, out, err = run(*args, *(["--topic", topic] if topic else []))
    assert code == 0, err
    for line in out.splitlines():
        event = json.loads(line)
        assert event["source"] == platform and event["name"] and event["occurred_at"]
    assert out or err  # events, or a line saying what the delivery asked / that it had none


def test_normalize_prints_the_order_facts() -> None:
    code, out, _ = run("normalize", "--platform", "woocommerce", str(
        FIXTURES / "woocommerce/webhook_order_created_delivery_envelope__local-wc11.0.1.json"))
    assert code == 0
    names = sorted(json.loads(line)["name"] for line in out.splitlines())
    assert names == ["order_fulfilled", "order_paid", "order_placed"]


def test_normalize_malformed_files_exit_non_zero(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": ')
    code, _, err = run("normalize", "--platform", "shopify", "--topic", "orders/paid",
                       str(broken))
    assert code == 1 and "not valid JSON" in err
    no_id = tmp_path / "no-id.json"
    no_id.write_text('{"email": "a@example.com"}')
    code, _, err = run("normalize", "--platform", "shopify", "--topic", "orders/paid",
                       str(no_id))
    assert code == 1 and "id" in err
    code, _, err = run("normalize", "--platform", "shopify", str(no_id))
    assert code == 2 and "--topic" in err


@pytest.mark.parametrize("name", [n for n in WEBHOOK_FIXTURES if "envelope" in n])
def test_verify_recorded_woocommerce_deliveries(name: str) -> None:
    path = str(FIXTURES / name)
    code, out, _ = run("webhooks", "verify", "--platform", "woocommerce", "--secret", WC_SECRET,
                       "--store", "woo", path)
    assert code == 0 and "signature: ok" in out
    headers = json.loads((FIXTURES / name).read_text())["headers"]
    delivery = headers["X-WC-Webhook-Delivery-ID"]
    assert f"dedupe key: woocommerce:woo:{headers['X-WC-Webhook-ID']}:{delivery}:" in out
    code, out, _ = run("webhooks", "verify", "--platform", "woocommerce", "--secret", "wrong",
                       path)
    assert code == 1 and "REJECTED" in out
    code, out, _ = run("webhooks", "verify", "--platform", "woocommerce", "--secret", "wrong",
                       "--secret", WC_SECRET, path)
    assert code == 0


def test_verify_a_ping_and_a_standard_webhook(tmp_path: Path) -> None:
    code, out, _ = run("webhooks", "verify", "--platform", "woocommerce", "--secret", "x", str(
        FIXTURES / "woocommerce/webhook_ping_delivery_envelope__local-wc11.0.1.json"))
    assert code == 1 and "ping" in out
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    body = '{"events": []}'
    stamp = 1_790_000_000
    envelope = tmp_path / "custom.json"
    envelope.write_text(json.dumps({"headers": {
        "Webhook-Id": "msg_1", "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": sign(secret, "msg_1", stamp, body.encode())}, "body": body}))
    code, out, _ = run("webhooks", "verify", "--platform", "custom", "--secret", secret,
                       str(envelope))
    assert code == 1 and "5 minutes" in out  # a capture from the past, checked as of now
    code, out, _ = run("webhooks", "verify", "--platform", "custom", "--secret", secret,
                       "--at", str(stamp + 10), str(envelope))
    assert code == 0 and "dedupe key: custom:store:msg_1" in out


def test_secrets_inbox_and_privacy_as_a_user_runs_them(database_url: str, tmp_path: Path
                                                       ) -> None:
    env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
           "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance"),
           "PARCOURS_SECRET_KEYS": generate_key()}
    env.pop("PARCOURS_REDIS_URL", None)
    assert parcours(env, "stores", "add", "own", "--account", "a").returncode == 0
    made = parcours(env, "secrets", "webhook", "own")
    assert made.returncode == 0 and made.stdout.startswith("whsec_"), made.stderr
    secret = made.stdout.strip()

    from parcours.app import create_app  # the app the server runs, on the same environment

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": env["PARCOURS_SECRET_KEYS"]},
                     instance_path=env["PARCOURS_INSTANCE_PATH"])
    body = json.dumps({"events": [{"name": "page_viewed", "occurred_at": "2026-11-20T10:00:00Z",
                                   "identities": {"email": "ana@example.com"}}]}).encode()
    bad = b"not json"
    client = app.test_client()
    for number, payload in enumerate((body, bad)):
        stamp = int(time.time())
        headers = {"webhook-id": f"m{number}", "webhook-timestamp": str(stamp),
                   "webhook-signature": sign(secret, f"m{number}", stamp, payload)}
        assert client.post("/webhooks/custom/own", data=payload, headers=headers
                           ).status_code == 200
    app.extensions["parcours.db"].engine.dispose()

    from parcours.db import Database
    from parcours.inbox import process_pending

    process_pending(Database(database_url))
    listed = parcours(env, "inbox", "list", "--failed", "--json")
    [failed] = json.loads(listed.stdout)
    assert failed["status"] == "failed" and "not valid JSON" in failed["error"]
    replayed = parcours(env, "inbox", "replay", str(failed["id"]))
    assert replayed.returncode == 0 and "1 deliveries queued again" in replayed.stdout
    missing = parcours(env, "inbox", "replay", "999999")
    assert missing.returncode == 1 and "no inbox row 999999" in missing.stderr

    exported = parcours(env, "privacy", "export", "own", "--email", "Ana@Example.com")
    assert exported.returncode == 0, exported.stderr
    export = json.loads(exported.stdout)["export"]
    assert "page_viewed" in json.dumps(export)
    redacted = parcours(env, "privacy", "redact", "own", "--email", "ana@example.com", "--yes")
    assert redacted.returncode == 0, redacted.stderr
    nobody = parcours(env, "privacy", "export", "own")
    assert nobody.returncode == 2 and "--email" in nobody.stderr
    gone = parcours(env, "privacy", "uninstall", "own")
    assert gone.returncode == 0 and "credentials dropped" in gone.stdout
