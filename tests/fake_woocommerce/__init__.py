"""A local fake of the parts of WooCommerce that Parcours uses, faithful to WooCommerce 11.0.1.

WooCommerce cannot be run here. This fake serves, on a real loopback port (plain HTTP, or HTTPS
with a self-signed certificate for 127.0.0.1), what the adapter calls, each part copying the
behaviour documented in its module:

- `auth.py`: REST authentication (Basic over HTTPS only, OAuth 1.0a one-legged otherwise, the
  key's read/write permission), as WC_REST_Authentication does it;
- `rest.py`, `rest_settings.py`: wc/v3 webhooks, orders, customers, products, system status,
  settings, payment gateways, shipping zones, product reviews, with WordPress' validation,
  errors and pagination headers;
- `webhooks.py`: signed deliveries (headers and bodies as recorded from 11.0.1), the creation
  ping, the failure counter that disables a webhook at its 7th consecutive failure;
- `resources.py`: orders, customers and products changing in the store, and the hooks that
  makes WooCommerce run (`place_order`, `update_order`, ...);
- `store_api.py`: the Store API cart (Cart-Token, add-item, update-customer and its
  invalid-state trap, shipping rates from the zones);
- `wc_auth.py`: the /wc-auth/v1/authorize key-approval flow.

One store per running server: `running()` yields (store, base URL, CA file or None). The app's
public origin maps to its local one through `store.app_network` (held by the store, which
`FakeWooCommerce.app_network` also returns).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from tests.fake_woocommerce.auth import oauth_signature
from tests.fake_woocommerce.receiver import Receiver, receiving
from tests.fake_woocommerce.resources import (
    add_customer,
    add_key,
    add_product,
    bought,
    delete_key,
    place_order,
    update_order,
    update_product,
)
from tests.fake_woocommerce.state import (
    ApiKey,
    Cart,
    FakeWooStore,
    WebhookMeta,
    fixture,
    germany_zone,
    local_fixture,
    php_json,
    seed,
    shipping_method,
    shipping_zone,
    stripe_gateway,
    woopayments_gateway,
)
from tests.fake_woocommerce.webhooks import (
    failure_count,
    fire,
    replay_envelope,
    signature,
    valid_topic,
)

__all__ = [
    "ApiKey", "Cart", "FakeWooCommerce", "FakeWooStore", "Receiver", "WebhookMeta",
    "add_customer", "add_key", "add_product", "bought", "create_fake_app", "delete_key",
    "failure_count", "fire", "fixture", "germany_zone", "local_fixture", "oauth_signature",
    "php_json", "place_order", "receiving", "replay_envelope", "running", "seed", "self_signed",
    "shipping_method", "shipping_zone", "signature", "stripe_gateway", "update_order",
    "update_product", "valid_topic", "woopayments_gateway",
]


@dataclass
class FakeWooCommerce:
    """The fake platform around one store (one store per running server)."""

    store: FakeWooStore = field(default_factory=FakeWooStore)

    @property
    def stores(self) -> dict[str, FakeWooStore]:
        return {self.store.base_url: self.store}

    @property
    def app_network(self) -> dict[str, str]:
        return self.store.app_network


def create_fake_app(store: FakeWooStore) -> Flask:
    from tests.fake_woocommerce.rest import no_route, rest_blueprint
    from tests.fake_woocommerce.rest_settings import settings_blueprint
    from tests.fake_woocommerce.store_api import store_api_blueprint
    from tests.fake_woocommerce.wc_auth import wc_auth_blueprint

    app = Flask("fake_woocommerce")
    app.config["STORE"] = store
    app.register_blueprint(rest_blueprint, url_prefix="/wp-json/wc/v3")
    app.register_blueprint(settings_blueprint, url_prefix="/wp-json/wc/v3")
    app.register_blueprint(store_api_blueprint, url_prefix="/wp-json/wc/store/v1")
    app.register_blueprint(wc_auth_blueprint)

    @app.before_request
    def injected_fault() -> Any:
        """`store.fail_next`: the next REST calls answer these statuses (a host's 429 with
        Retry-After: 1, or a 5xx page), as a busy or broken host does before WordPress runs;
        `store.fail_on`: the next calls to one endpoint answer these WP_Errors."""
        if not request.path.startswith("/wp-json/wc/v3/"):
            return None
        endpoint = f"{request.method} {request.path.removeprefix('/wp-json/wc/v3/')}"
        with store.lock:
            store.calls.append(endpoint)
            status = store.fail_next.pop(0) if store.fail_next else None
            refusal = store.fail_on[endpoint].pop(0) if store.fail_on.get(endpoint) else None
        if refusal is not None:
            return refusal.response()
        if status is None:
            return None
        headers = {"Retry-After": "1"} if status == 429 else {}
        return Response("<html><body>Service unavailable</body></html>", status, headers)

    @app.after_request
    def injected_delay(response: Response) -> Response:
        """`store.delay_next`: the next REST calls are answered this many seconds late, once
        their work is done (past the client's read timeout: the change made, its answer lost)."""
        if request.path.startswith("/wp-json/wc/v3/"):
            with store.lock:
                delay = store.delay_next.pop(0) if store.delay_next else 0.0
            time.sleep(delay)
        return response

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(error: HTTPException) -> Any:
        if request.path.startswith("/wp-json/"):
            return no_route()
        return error

    return app


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (IP SAN), usable as its own CA bundle;
    returns (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fake-woocommerce.pem", directory / "fake-woocommerce.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def running(*, https: bool = False, version: str = "11.0.1"
            ) -> Iterator[tuple[FakeWooStore, str, str | None]]:
    """Serve a freshly seeded store on a free loopback port; yields (store, base URL such as
    "http://127.0.0.1:PORT", CA file or None). With `https=True` the server speaks TLS with a
    self-signed certificate for 127.0.0.1 whose PEM path is yielded: clients verify with
    REQUESTS_CA_BUNDLE=<ca_file> (or verify=<ca_file>)."""
    store = FakeWooStore(version=version)
    directory = Path(tempfile.mkdtemp(prefix="fake-woocommerce-")) if https else None
    context: ssl.SSLContext | None = None
    ca_file: str | None = None
    if directory is not None:
        cert_path, key_path = self_signed(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        ca_file = str(cert_path)
    server = make_server("127.0.0.1", 0, create_fake_app(store), threaded=True,
                         ssl_context=context)
    store.base_url = f"{'https' if https else 'http'}://127.0.0.1:{server.server_port}"
    seed(store)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield store, store.base_url, ca_file
    finally:
        server.shutdown()
        server.server_close()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
