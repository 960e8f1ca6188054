"""The Flask extension (`parcours.flask.Parcours`) and the WSGI middleware
(`parcours.wsgi.ParcoursMiddleware`): settings, the loader tag, the shop's collect route
forwarding to a real Parcours server over loopback or recording into an embedded engine,
server-side events, and a real browser on a tiny shop whose loader reports to the shop itself.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, render_template_string
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import Client as WsgiClient

from parcours import JourneyEngine, ValidationError
from parcours import tables as t
from parcours.db import Database
from parcours.errors import ConfigError
from parcours.flask import Parcours
from parcours.inbox import pending_count
from parcours.wsgi import ParcoursMiddleware
from tests.conftest import SHOPPER_AGENT
from tests.processes import custom_store_env, free_port, parcours_running, until

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
STORE = "my-shop"
NOW = datetime.now(UTC).isoformat()
PAGE = """<!doctype html><html lang="en"><head><title>Mug</title></head>
<body data-parcours-page="product"><h1>Mug</h1>
<div data-parcours-widget="review_stars" style="min-height:24px"></div>
{{ parcours_loader(page="product", product=product, price="18.00", currency="EUR") }}
</body></html>"""


def _batch(*names: str, key: str = STORE, visitor: str = "v-1") -> bytes:
    return json.dumps({"key": key, "events": [
        {"name": name, "occurred_at": NOW, "identities": {"anonymous_id": visitor},
         "source": "widgets"} for name in names]}).encode()


def _shop(**config: Any) -> Flask:
    app = Flask("test_shop")
    app.config.update(config)

    @app.get("/products/<product>")
    def product(product: str) -> str:
        return render_template_string(PAGE, product=product)

    return app


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """A WSGI app on loopback, in a thread: real HTTP."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _events(db: Database) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(select(t.events.c.name, t.events.c.properties,
                                        t.events.c.source).order_by(t.events.c.name)))


# -- settings and the tag ----------------------------------------------------------------------

def test_settings_are_checked_and_read_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PARCOURS_STORE_KEY", "PARCOURS_URL", "PARCOURS_SECRET", "PARCOURS_PREFIX",
                 "PARCOURS_FIRST_PARTY", "PARCOURS_ENGINE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="PARCOURS_STORE_KEY"):
        Parcours(_shop())
    with pytest.raises(ConfigError, match="PARCOURS_URL"):
        Parcours(_shop(PARCOURS_STORE_KEY=STORE))
    with pytest.raises(ConfigError, match="PARCOURS_URL"):
        Parcours(_shop(PARCOURS_STORE_KEY=STORE, PARCOURS_URL="parcours.example.com"))
    with JourneyEngine(f"sqlite:///{tmp_path / 'shop.db'}", store="other") as engine, \
            pytest.raises(ConfigError, match="'other'"):
        Parcours(_shop(PARCOURS_STORE_KEY=STORE), engine=engine)

    monkeypatch.setenv("PARCOURS_STORE_KEY", STORE)
    monkeypatch.setenv("PARCOURS_URL", "https://parcours.example.com/")
    monkeypatch.setenv("PARCOURS_FIRST_PARTY", "true")
    app = _shop()
    ext = Parcours()
    ext.init_app(app)
    assert app.extensions["parcours"].client is None  # no secret: no server-side client
    with app.test_request_context("/products/x"), \
            pytest.raises(ConfigError, match="PARCOURS_SECRET"):
        ext.track("order_paid", customer_id="c")
    with app.test_request_context("/products/x"):
        html = render_template_string(PAGE, product="</script><script>alert(1)")
    assert '<script defer src="https://parcours.example.com/widgets/loader.js" ' \
           'data-store="my-shop" data-parcours="loader"></script>' in html
    config = json.loads(html.split("window.ParcoursConfig || ", 1)[1].split(";</script>")[0])
    assert config == {"origin": "https://parcours.example.com", "store": STORE,
                      "collect": "http://localhost/parcours/collect", "page": "product",
                      "currency": "EUR", "product": {"id": "</script><script>alert(1)",
                                                     "price": "18.00"}}
    assert "<script>alert(1)" not in html  # the id is JSON-escaped inside the script

    monkeypatch.setenv("PARCOURS_SECRET", SECRET)
    monkeypatch.setenv("PARCOURS_PREFIX", "/tracking/")
    app = _shop(PARCOURS_FIRST_PARTY=False)
    Parcours(app)
    assert app.extensions["parcours"].client.store_key == STORE
    assert "SECRET" not in repr(app.extensions["parcours"]) and SECRET not in repr(
        app.extensions["parcours"])
    html = app.test_client().get("/products/p").get_data(as_text=True)
    assert '"collect"' not in html  # the beacon goes straight to the server
    assert {rule.rule for rule in app.url_map.iter_rules()} >= {"/tracking/collect"}


# -- with a Parcours server ----------------------------------------------------------------------

@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """A real Parcours server and worker, with the custom store `my-shop` and its secret."""
    env, db = custom_store_env(database_url, tmp_path, STORE, SECRET)
    try:
        with parcours_running(env, free_port()) as url:
            yield url, db
    finally:
        db.engine.dispose()


def test_the_shop_forwards_beacons_and_sends_server_events_to_a_real_server(
        server: tuple[str, Database]) -> None:
    url, db = server
    app = _shop(PARCOURS_STORE_KEY=STORE, PARCOURS_URL=url, PARCOURS_SECRET=SECRET,
                PARCOURS_FIRST_PARTY=True)
    ext = Parcours(app)
    with serving(app) as shop:
        html = requests.get(f"{shop}/products/p-1", timeout=10).text
        assert f'"collect": "{shop}/parcours/collect"' in html
        assert f'src="{url}/widgets/loader.js"' in html
        beacon = {"User-Agent": SHOPPER_AGENT, "Origin": shop, "Content-Type": "text/plain"}
        answer = requests.post(f"{shop}/parcours/collect", headers=beacon, timeout=10,
                               data=_batch("page_viewed", "product_viewed"))
        assert (answer.status_code, answer.json()) == (202, {"accepted": 2,
                                                             "duplicate": False})
        # The server's refusals come back as they are.
        bad = requests.post(f"{shop}/parcours/collect", headers=beacon, timeout=10,
                            data=_batch("page_view"))
        assert bad.status_code == 400 and "record 0" in bad.json()["error"]["fields"]
        unknown = requests.post(f"{shop}/parcours/collect", headers=beacon, timeout=10,
                                data=_batch("page_viewed", key="nobody"))
        assert unknown.status_code == 404
    with app.app_context():
        ext.track("order_paid", customer_id="c-7", anonymous_id="v-1", key="order:1:paid",
                  properties={"total": "18.00", "currency": "EUR"})
        assert app.extensions["parcours"].client.flush(timeout=30)
    until("the worker to record the events",
          lambda: len(_events(db)) == 3 and pending_count(db) == 0)
    events = {name: (properties, source) for name, properties, source in _events(db)}
    assert events["page_viewed"][0]["device"] == "desktop"  # the browser's agent, forwarded
    assert events["product_viewed"][1] == "widgets"
    assert events["order_paid"][1] == "sdk"


def test_an_unreachable_server_is_a_502_after_the_timeout() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    app = _shop(PARCOURS_STORE_KEY=STORE, PARCOURS_URL=closed)
    Parcours(app)
    answer = app.test_client().post("/parcours/collect", data=_batch("page_viewed"))
    assert answer.status_code == 502
    assert answer.get_json() == {"error": {"message": "the Parcours server cannot be reached"}}


# -- embedded --------------------------------------------------------------------------------------

def test_embedded_the_shop_records_beacons_and_serves_the_widgets(database_url: str) -> None:
    with JourneyEngine(database_url, store=STORE) as engine:
        app = _shop(PARCOURS_COLLECT_RATE_PER_IP=0.001, PARCOURS_COLLECT_BURST_PER_IP=4)
        ext = Parcours(app, engine=engine)
        client = app.test_client()
        browser = {"User-Agent": SHOPPER_AGENT, "Origin": "http://localhost"}

        answer = client.post("/parcours/collect", data=_batch("page_viewed"), headers=browser)
        assert (answer.status_code, answer.get_json()) == (202, {"accepted": 1,
                                                                 "duplicate": False})
        again = client.post("/parcours/collect", data=_batch("page_viewed"), headers=browser)
        assert again.get_json() == {"accepted": 1, "duplicate": True}
        bot = client.post("/parcours/collect", data=_batch("cart_viewed"),
                          headers={"User-Agent": "Googlebot/2.1"})
        assert bot.status_code == 202  # answered like any batch, and nothing kept
        foreign = client.post("/parcours/collect", data=_batch("cart_viewed"),
                              headers={**browser, "Origin": "https://evil.example"})
        assert foreign.status_code == 403
        wrong = client.post("/parcours/collect", data=_batch("cart_viewed", key="other"),
                            headers=browser)
        assert wrong.status_code == 404
        bad = client.post("/parcours/collect", data=_batch("cart_view"), headers=browser)
        assert bad.status_code == 400
        assert bad.get_json()["error"]["fields"] == {
            "record 0": {"name": ["unknown event name 'cart_view'"]}}
        # A burst of four batches, refilled one per 1000 s: the fifth waits.
        limited = client.post("/parcours/collect", data=_batch("cart_viewed"), headers=browser)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 100
        huge = client.post("/parcours/collect", data=b"x" * (70 * 1024), headers=browser)
        assert huge.status_code == 413

        events = _events(engine.database)
        assert [(name, source) for name, _, source in events] == [("page_viewed", "widgets")]
        assert events[0][1]["device"] == "desktop"

        # No server: the scripts, the config and the widgets' routes come from the shop.
        assert client.get("/parcours/widgets/loader.js").status_code == 200
        assert client.get("/parcours/widgets/review_stars.js").status_code == 200
        config = client.get(f"/parcours/w/{STORE}/config.json").get_json()
        assert config["widgets"]["review_stars"]["enabled"] is True
        assert client.get(f"/parcours/w/{STORE}/reviews/p-1.json").status_code == 200
        html = client.get("/products/p-1").get_data(as_text=True)
        inline = json.loads(html.split("window.ParcoursConfig || ", 1)[1].split(";</script>")[0])
        assert inline["origin"] == "http://localhost/parcours" and "widgets" in inline
        assert inline["product"] == {"id": "p-1", "price": "18.00"}

        with app.app_context():  # server-side events: recorded at once
            ext.track("order_paid", anonymous_id="v-1", key="order:9:paid",
                      properties={"total": "18.00", "currency": "EUR"})
            with pytest.raises(ValidationError, match="total"):
                ext.track("order_paid", anonymous_id="v-1")
            assert ext.engine is engine
        assert engine.kpis()["orders"] == {"EUR": 1}


def test_a_browser_on_an_embedded_shop_reports_to_the_shop(shopper_browser: Any,
                                                          tmp_path: Path) -> None:
    with JourneyEngine(f"sqlite:///{tmp_path / 'shop.db'}", store=STORE) as engine:
        app = _shop()
        Parcours(app, engine=engine)
        with serving(app) as shop:
            page = shopper_browser.new_page()
            fetched: list[str] = []
            page.on("request", lambda r: fetched.append(r.url))
            page.goto(f"{shop}/products/p-1")
            page.wait_for_function("window.Parcours && window.Parcours.config()")
            page.evaluate("Parcours.flush()")
            until("the page view to be recorded",
                  lambda: [e for e in _events(engine.database) if e[0] == "page_viewed"], 20)
            page.close()
        recorded = _events(engine.database)
        assert recorded[0][2] == "widgets" and recorded[0][1]["path"] == "/products/p-1"
        assert f"{shop}/parcours/widgets/review_stars.js" in fetched
        assert all(url.startswith(shop) for url in fetched)  # nothing third-party


# -- the WSGI middleware ---------------------------------------------------------------------------

def _plain_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI shop without any framework: a page, a lazy page, JSON, and a gzipped page."""
    path = environ["PATH_INFO"]
    if path == "/json":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"body": "</body>"}']
    if path == "/gzip":
        body = gzip.compress(b"<html><body>zip</body></html>")
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/lazy":
        def late() -> Iterator[bytes]:  # start_response only on the first chunk
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            yield b"<html><body data-parcours-page=cart>"
            yield b"<p>cart</p></BODY></html>"
        return late()
    body = b"<html><body data-parcours-page=product><p>hi</p></body></html>"
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def test_the_wsgi_middleware_serves_the_routes_and_injects_the_tag(database_url: str) -> None:
    with JourneyEngine(database_url, store=STORE) as engine:
        app = ParcoursMiddleware(_plain_app, engine=engine, inject=True)
        client = WsgiClient(app)
        page = client.get("/")
        html = page.get_data(as_text=True)
        assert html.endswith('data-parcours="loader"></script></body></html>')
        assert int(page.headers["Content-Length"]) == len(page.get_data())
        assert '"origin": "http://localhost/parcours"' in html
        lazy = client.get("/lazy").get_data(as_text=True)
        assert lazy.index("/parcours/widgets/loader.js") < lazy.index("</BODY>")
        assert client.get("/json").get_data() == b'{"body": "</body>"}'
        zipped = client.get("/gzip")
        assert gzip.decompress(zipped.get_data()) == b"<html><body>zip</body></html>"
        assert client.get("/parcours/widgets/loader.js").status_code == 200
        tag = app.loader_tag({"wsgi.url_scheme": "https", "HTTP_HOST": "shop.example",
                              "SERVER_NAME": "shop.example", "SERVER_PORT": "443",
                              "SCRIPT_NAME": "/store"}, page="cart")
        assert 'src="https://shop.example/store/parcours/widgets/loader.js"' in tag

        with serving(app) as shop:  # and over real HTTP
            assert "loader.js" in requests.get(f"{shop}/", timeout=10).text
            answer = requests.post(f"{shop}/parcours/collect", data=_batch("cart_viewed"),
                                   headers={"User-Agent": SHOPPER_AGENT, "Origin": shop},
                                   timeout=10)
            assert answer.status_code == 202
        app.track("order_paid", customer_id="c-1", key="order:2:paid",
                  properties={"total": "5", "currency": "EUR"})
        assert {name for name, _, _ in _events(engine.database)} == {"cart_viewed",
                                                                     "order_paid"}
    plain = ParcoursMiddleware(_plain_app, store_key=STORE, url="https://p.example")
    assert "loader.js" not in WsgiClient(plain).get("/").get_data(as_text=True)
    with pytest.raises(ConfigError, match="prefix"):
        ParcoursMiddleware(_plain_app, store_key=STORE, url="https://p.example", prefix="/")
