"""The Shopify app files: `parcours shopify check-extensions`, and their scripts run in Chromium.

Each defect test copies the real files to a temporary folder and breaks one thing, so the check is
shown to catch it on otherwise good files. The browser tests run the real boot script and the real
pixel (through a `register` harness standing in for Shopify's sandbox) against a local server.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
import tomllib
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from parcours.adapters.shopify.extensions_check import (
    DEFAULT_ROOT,
    check_extensions,
    render_app_config,
)
from parcours.adapters.shopify.install import webhook_topics
from parcours.cli import main
from parcours.events import STOREFRONT_EVENTS, load_events

THEME = "extensions/theme"
PIXEL = "extensions/pixel"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the real extensions and app config, to break one thing in."""
    for name in ("extensions", "app_config"):
        shutil.copytree(DEFAULT_ROOT / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def incompressible(size: int) -> str:
    """Text that gzip cannot shrink much (base64 of random bytes), `size` characters long."""
    return b64encode(random.Random(size).randbytes(size))[:size].decode()


def run_check(root: Path | None = None) -> tuple[int, str]:
    args = ["shopify", "check-extensions"] + ([] if root is None else ["--root", str(root)])
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


# -- the check on the real files and on broken copies -------------------------------------------

def test_the_real_files_pass() -> None:
    assert run_check() == (0, "extensions ok\n")


def test_a_copy_passes(tree: Path) -> None:
    assert check_extensions(tree) == []


def test_invalid_schema_json_is_caught(tree: Path) -> None:
    edit(tree / THEME / "blocks/review-list.liquid", '"target": "section",', '"target": "section"')
    code, output = run_check(tree)
    assert code == 1
    assert f"{THEME}/blocks/review-list.liquid: schema is not valid JSON" in output


def test_a_missing_translation_is_caught(tree: Path) -> None:
    edit(tree / THEME / "locales/fr.schema.json", '"per_page": "Avis par page"', '"x": "y"')
    edit(tree / THEME / "locales/en.default.json", '"heading": "Customer reviews"', '"h": "x"')
    problems = check_extensions(tree)
    assert f"{THEME}/locales/fr.schema.json: missing translation 'blocks.review_list.per_page'" \
        in problems
    assert f"{THEME}/locales/fr.schema.json: 'blocks.review_list.x' is not in the default " \
           "locale" in problems
    assert f"{THEME}/blocks/review-list.liquid: storefront text " \
           "'parcours.review_list.heading' missing in en.default.json" in problems


def test_a_schema_label_without_translation_is_caught(tree: Path) -> None:
    edit(tree / THEME / "blocks/guest-checkout.liquid", "t:blocks.guest_checkout.name",
         "t:blocks.guest_checkout.title")
    assert check_extensions(tree) == [
        f"{THEME}/blocks/guest-checkout.liquid: 't:blocks.guest_checkout.title' missing in "
        "locales/en.default.schema.json"]


def test_liquid_over_budget_is_caught(tree: Path) -> None:
    (tree / THEME / "snippets").mkdir()
    (tree / THEME / "snippets/filler.liquid").write_text("x" * 100 * 1024)
    problems = check_extensions(tree)
    assert len(problems) == 1 and "of Liquid in blocks and snippets, over 100 KB" in problems[0]


def test_a_js_asset_over_budget_is_caught(tree: Path) -> None:
    (tree / THEME / "assets/extra.js").write_text(f"var x = '{incompressible(16_000)}';")
    with (tree / THEME / "assets/parcours-boot.js").open("a") as boot:
        boot.write(f"// {incompressible(3000)}\n")
    problems = check_extensions(tree)
    assert [p.split(": ")[0] for p in problems] == [
        f"{THEME}/assets/extra.js", f"{THEME}/assets/parcours-boot.js"]
    assert "bytes gzip, over the 10000 bytes allowed (Shopify's limit)" in problems[0]
    assert "over the 2048 bytes allowed (every storefront page loads it)" in problems[1]


def test_a_pixel_missing_an_event_is_caught(tree: Path) -> None:
    edit(tree / PIXEL / "src/index.js", 'analytics.subscribe("payment_info_submitted", track);',
         "")
    assert check_extensions(tree) == [
        f"{PIXEL}/src/index.js: does not subscribe to 'payment_info_submitted'"]


def test_a_wrong_api_version_is_caught(tree: Path) -> None:
    edit(tree / "app_config/shopify.app.toml.template", 'api_version = "2026-07"',
         'api_version = "2026-04"')
    code, output = run_check(tree)
    assert code == 1
    assert "app_config/shopify.app.toml.template: webhooks api_version '2026-04' is not the " \
           "pinned Admin API version '2026-07'" in output


def test_topics_and_scopes_are_checked_against_the_code(tree: Path) -> None:
    template = tree / "app_config/shopify.app.toml.template"
    edit(template, '"customers/redact", ', "")
    edit(template, ",read_themes", "")
    edit(template, 'compliance_topics = [', 'topics = ["orders/create"]\ncompliance_topics = [')
    problems = check_extensions(tree)
    assert any("[access_scopes] scopes differ from oauth.SHOPIFY_SCOPES (only here: [], only "
               "there: ['read_themes'])" in p for p in problems)
    assert any("compliance_topics must be exactly" in p for p in problems)
    # Shop-specific subscriptions come from the post-install job; one here would deliver twice.
    assert any("'orders/create' is subscribed here; only compliance_topics belong" in p
               for p in problems)


def test_the_post_install_job_subscribes_every_normalized_topic() -> None:
    # The 17 topics the normalizer reads (checkouts/delete says nothing a shopper did); the
    # compliance topics are in the app config instead.
    assert webhook_topics() == [
        "APP_UNINSTALLED", "CARTS_CREATE", "CARTS_UPDATE", "CHECKOUTS_CREATE", "CHECKOUTS_UPDATE",
        "CUSTOMERS_CREATE", "CUSTOMERS_UPDATE", "CUSTOMER_ACCOUNT_SETTINGS_UPDATE",
        "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE", "ORDERS_CANCELLED", "ORDERS_CREATE",
        "ORDERS_FULFILLED", "ORDERS_PAID", "ORDERS_PARTIALLY_FULFILLED", "ORDERS_UPDATED",
        "REFUNDS_CREATE"]


def test_app_export_writes_what_shopify_app_deploy_reads(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCOURS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("PARCOURS_SHOPIFY_API_KEY", raising=False)
    monkeypatch.setenv("PARCOURS_PUBLIC_URL", "https://parcours.example.org/")
    folder = tmp_path / "app"
    missing = CliRunner().invoke(main, ["shopify", "app-export", str(folder)])
    assert (missing.exit_code, missing.output) == (
        1, "Error: PARCOURS_SHOPIFY_API_KEY is not set\n")
    assert not folder.exists()  # nothing written

    monkeypatch.setenv("PARCOURS_SHOPIFY_API_KEY", "0123456789abcdef")
    (folder / "extensions/theme/dist").mkdir(parents=True)  # a stale build is replaced
    done = CliRunner().invoke(main, ["shopify", "app-export", str(folder)])
    assert done.exit_code == 0, done.output
    config = tomllib.loads((folder / "shopify.app.toml").read_text(encoding="utf-8"))
    assert config["client_id"] == "0123456789abcdef"
    assert config["auth"]["redirect_urls"] == ["https://parcours.example.org/shopify/callback"]
    assert config["app_proxy"]["url"] == "https://parcours.example.org/apps/parcours"
    assert "{{" not in (folder / "shopify.app.toml").read_text(encoding="utf-8")
    assert not (folder / "extensions/theme/dist").exists()
    assert extension_files(folder) == extension_files(DEFAULT_ROOT)


def extension_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root / "extensions")) for p in
                  (root / "extensions").rglob("*") if p.is_file())


def test_block_schema_rules_are_enforced(tree: Path) -> None:
    embed = tree / THEME / "blocks/app-embed.liquid"
    edit(embed, '"target": "body"', '"target": "section"')
    block = tree / THEME / "blocks/review-list.liquid"
    edit(block, '"id": "per_page"', '"id": "show_heading"')
    edit(block, '"type": "range",\n      "id": "min_height"', '"type": "slider",\n      "id": "m"')
    problems = check_extensions(tree)
    assert f"{THEME}/blocks/app-embed.liquid: target 'section' is not body or head (app embed)" \
        in problems
    assert f"{THEME}/blocks/review-list.liquid: setting id 'show_heading' is used twice" \
        in problems
    assert f"{THEME}/blocks/review-list.liquid: setting type 'slider' is not a Shopify input " \
           "setting type" in problems


def test_script_tags_are_refused(tree: Path) -> None:
    (tree / THEME / "assets/legacy.js").write_text("// installed with scriptTagCreate\n")
    assert check_extensions(tree) == [
        f"{THEME}/assets/legacy.js: mentions ScriptTag; Shopify no longer lets apps create "
        "script tags (theme app extensions replace them)"]


def test_the_app_config_renders_with_the_public_url() -> None:
    template = (DEFAULT_ROOT / "app_config/shopify.app.toml.template").read_text()
    text = render_app_config(template, "abc123", "https://parcours.shop.example/")
    assert 'client_id = "abc123"' in text
    assert 'uri = "https://parcours.shop.example/webhooks/shopify"' in text
    assert 'redirect_urls = ["https://parcours.shop.example/shopify/callback"]' in text
    assert "{{" not in text


# -- the scripts in a real browser --------------------------------------------------------------

class Site:
    """A local server for the browser tests: the extension files, a stub loader, /collect."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.pages: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        files = {
            "/assets/parcours-boot.js": DEFAULT_ROOT / THEME / "assets/parcours-boot.js",
            "/pixel/index.js": DEFAULT_ROOT / PIXEL / "src/index.js",
        }
        js = "text/javascript"
        if request.path == "/collect" and request.method == "POST":
            with self._lock:
                self.posts.append(json.loads(request.get_data()))
            response = Response('{"accepted": true}', 202, content_type="application/json")
        elif request.path in files:
            response = Response(files[request.path].read_bytes(), content_type=js)
        elif request.path == "/widgets/loader.js":
            response = Response("window.__parcoursLoaderRan = true;", content_type=js)
        elif request.path == "/harness/web-pixels-extension.js":  # what the import resolves to
            response = Response("export const register = (extend) => globalThis.register(extend);",
                                content_type=js)
        elif request.path in self.pages:
            response = Response(self.pages[request.path], content_type="text/html")
        else:
            response = Response("not found", 404)
        return response(environ, start_response)

    def wait_for_posts(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} POST /collect, got {len(self.posts)}")

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


def boot_page(config_json: str | None, facts: str = "") -> str:
    """The markup the app embed renders: the inlined metafield (`| json`) with the page's facts
    as data attributes, then the boot script."""
    inline = "" if config_json is None else (
        f'<script type="application/json" id="parcours-config" data-lang="fr"{facts}>'
        f"{config_json}</script>")
    return (f'<!doctype html><html lang="en"><head><title>shop</title></head><body>{inline}'
            '<script src="/assets/parcours-boot.js" defer></script></body></html>')


def test_boot_injects_the_loader_with_the_inlined_config(browser: Any, site: Site) -> None:
    config = {"origin": site.origin + "/", "store": "pk_live_1",
              "widgets": {"review_stars": {"enabled": True}}}
    site.pages["/product"] = boot_page(json.dumps(config))
    page = browser.new_page()
    page.goto(site.origin + "/product")
    page.wait_for_function("window.__parcoursLoaderRan === true")
    loaders = page.eval_on_selector_all('script[data-parcours="loader"]',
                                        "nodes => nodes.map(n => [n.src, n.async])")
    assert loaders == [[site.origin + "/widgets/loader.js", True]]
    assert page.evaluate("window.ParcoursConfig") == {
        **config, "origin": site.origin, "lang": "fr"}
    page.close()


def test_boot_adds_the_page_facts_and_the_store_language_wins(browser: Any, site: Site) -> None:
    config = {"origin": site.origin, "store": "pk_live_1", "lang": "en", "currency": "EUR",
              "widgets": {}}
    site.pages["/product"] = boot_page(json.dumps(config), (
        ' data-page="product" data-currency="CHF" data-country="CH" data-product="632910392"'
        ' data-price="54.0"'))
    page = browser.new_page()
    page.goto(site.origin + "/product")
    page.wait_for_function("window.__parcoursLoaderRan === true")
    assert page.evaluate("window.ParcoursConfig") == {
        **config, "page": "product", "currency": "CHF", "country": "CH",
        "product": {"id": "632910392", "price": "54.0"}}
    page.close()


@pytest.mark.parametrize("config_json", [None, "{not json", '{"store": "pk_live_1"}'])
def test_boot_does_nothing_without_a_usable_config(browser: Any, site: Site,
                                                   config_json: str | None) -> None:
    site.pages["/product"] = boot_page(config_json)
    page = browser.new_page()
    page.goto(site.origin + "/product")
    page.wait_for_load_state("load")
    assert page.evaluate("[typeof window.ParcoursConfig, document.scripts.length]") == [
        "undefined", 1 if config_json is None else 2]
    page.close()


def pixel_page(origin: str, beacon_works: bool) -> str:
    """Shopify's sandbox stood in for: a global `register` handing the pixel a fake analytics
    (subscriptions kept, `emit` calls them), a browser whose sendBeacon is the page's, settings and
    init; an import map resolves the pixel's `@shopify/web-pixels-extension` import to it."""
    beacon = "navigator.sendBeacon(url, body)" if beacon_works else "false"
    settings = json.dumps({"endpoint": origin + "/", "store_key": "pk_live_1"})
    return f"""<!doctype html><html><head>
<script>
  window.subscriptions = {{}};
  window.register = (extend) => extend({{
    analytics: {{ subscribe: (name, callback) => {{ window.subscriptions[name] = callback; }} }},
    browser: {{ sendBeacon: (url, body) => Promise.resolve({beacon}) }},
    settings: {settings},
    init: {{ data: {{ cart: {{ id: "gid://shopify/Cart/c1-7a2abe82?key=3f9e1c" }} }} }},
  }});
  window.emit = (event) => window.subscriptions[event.name](event);
</script>
<script type="importmap">
  {{"imports": {{"@shopify/web-pixels-extension": "/harness/web-pixels-extension.js"}}}}
</script>
<script type="module" src="/pixel/index.js"></script>
</head><body></body></html>"""


def shopify_event(name: str, number: int, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A standard event as Shopify delivers it (web-pixels-api/standard-events)."""
    event: dict[str, Any] = {
        "id": f"sh-{number}", "name": name, "clientId": "client-42", "seq": number,
        "timestamp": f"2026-11-02T10:0{number}:00.000Z", "type": "standard",
        "context": {"document": {
            "location": {"pathname": "/products/tea",
                         "search": "?utm_source=ig&utm_medium=social&email=ana@example.com"},
            "referrer": "https://l.instagram.com/?u=ana@example.com"}},
    }
    if data is not None:
        event["data"] = data
    return event


VARIANT = {"id": "gid://shopify/ProductVariant/801", "title": "100 g", "sku": "GT-1",
           "price": {"amount": 12.5, "currencyCode": "EUR"},
           "product": {"id": "701", "title": "Green tea", "vendor": "Leaf"}}
CHECKOUT = {"token": "c-42", "currencyCode": "EUR", "email": "ana@example.com",
            "phone": "+33600000000", "totalPrice": {"amount": 29.9, "currencyCode": "EUR"},
            "lineItems": [{"id": "1", "quantity": 2, "title": "Green tea", "variant": VARIANT}],
            "shippingAddress": {"city": "Lyon", "countryCode": "FR"}, "order": None}


def test_the_pixel_posts_canonical_events_to_collect(browser: Any, site: Site) -> None:
    site.pages["/pixel"] = pixel_page(site.origin, beacon_works=True)
    page = browser.new_page()
    page.goto(site.origin + "/pixel")
    page.wait_for_function("Object.keys(window.subscriptions).length === 13")
    assert sorted(page.evaluate("Object.keys(window.subscriptions)")) == sorted(STOREFRONT_EVENTS)
    completed = {**CHECKOUT, "order": {"id": "gid://shopify/Order/9001"}}
    for event in [
        shopify_event("page_viewed", 1),
        shopify_event("product_viewed", 2, {"productVariant": VARIANT}),
        shopify_event("product_added_to_cart", 3, {"cartLine": {
            "quantity": 2, "merchandise": VARIANT,
            "cost": {"totalAmount": {"amount": 25, "currencyCode": "EUR"}}}}),
        shopify_event("checkout_started", 4, {"checkout": CHECKOUT}),
        shopify_event("checkout_completed", 5, {"checkout": completed}),
    ]:
        page.evaluate("window.emit", event)
    [payload] = site.wait_for_posts(1)  # checkout_completed flushes at once: one batch
    ids = {"anonymous_id": "client-42", "cart_token": "c1-7a2abe82"}
    item = {"product_id": "701", "variant_id": "801", "price": "12.5", "currency": "EUR"}
    checkout = {"total": "29.9", "currency": "EUR", "item_count": 2}

    def canonical(number: int, name: str, identities: dict[str, str],
                  properties: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "occurred_at": f"2026-11-02T10:0{number}:00.000Z",
                "identities": identities, "properties": properties, "source": "shopify_pixel",
                "key": f"pixel:sh-{number}"}

    assert payload == {"key": "pk_live_1", "events": [
        canonical(1, "page_viewed", ids, {"path": "/products/tea",
                                          "referrer": "https://l.instagram.com/",
                                          "utm_source": "ig", "utm_medium": "social"}),
        canonical(2, "product_viewed", ids, item),
        canonical(3, "product_added_to_cart", ids, {**item, "quantity": 2}),
        canonical(4, "checkout_started", {**ids, "checkout_token": "c-42"}, checkout),
        canonical(5, "checkout_completed", {**ids, "checkout_token": "c-42", "order_id": "9001"},
                  {**checkout, "order_id": "9001"}),
    ]}
    assert "ana@example.com" not in json.dumps(payload)  # no PII leaves the browser
    assert len(load_events("store-1", payload["events"])) == 5  # what /collect validates
    page.close()


def test_the_pixel_falls_back_to_fetch_and_flushes_on_a_timer(browser: Any, site: Site) -> None:
    site.pages["/pixel"] = pixel_page(site.origin, beacon_works=False)
    page = browser.new_page()
    page.goto(site.origin + "/pixel")
    page.wait_for_function("Object.keys(window.subscriptions).length === 13")
    page.evaluate("window.emit", shopify_event("search_submitted", 6, {
        "searchResult": {"query": "green tea", "productVariants": [VARIANT]}}))
    [payload] = site.wait_for_posts(1)
    assert payload["events"] == [{
        "name": "search_submitted", "occurred_at": "2026-11-02T10:06:00.000Z",
        "identities": {"anonymous_id": "client-42", "cart_token": "c1-7a2abe82"},
        "properties": {"query": "green tea"}, "source": "shopify_pixel", "key": "pixel:sh-6"}]
    page.close()
