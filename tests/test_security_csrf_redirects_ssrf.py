"""Requests a page of another site makes the browser send (CSRF), links that would carry the
browser off to another site (open redirects), and addresses that would make Parcours' server call
its own network (SSRF). SQLite and PostgreSQL where a database is involved.

The dashboard's POST routes are read from the app's url_map, so that a new form is tested the
day it is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from parcours import tables as t
from parcours.adapters.woocommerce.site import StoreURLError, normalise_store_url
from parcours.dashboard_auth import safe_next
from parcours.netcheck import address_problem
from tests.dashboard_support import EMAIL, PASSWORD, Site, config_of, form_token, site
from tests.security_support import Hostile, fill_route, hostile

__all__ = ["hostile", "site"]  # the fixtures, used by name

# Addresses that all mean this machine, its private network or the cloud metadata service,
# written the ways a URL parser and the resolver accept besides the dotted quad.
INTERNAL_HOSTS = ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.0.1.",
                  "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:a9fe:a9fe]", "[fe80::1]",
                  "[fc00::1]", "100.64.0.1", "169.254.169.254", "[::]", "0", "localhost.",
                  "LOCALHOST", "224.0.0.1", "255.255.255.255"]


def _dashboard_posts(app: Flask) -> list[str]:
    """Every POST route of the dashboard, its variables filled in (the store is acme's)."""
    return sorted(fill_route(rule.rule, "acme-shop") for rule in app.url_map.iter_rules()
                  if "POST" in (rule.methods or ()) and rule.rule.startswith("/dashboard"))


def _logged_in(site: Site) -> FlaskClient:
    client = site.app.test_client()
    page = client.get("/dashboard/login")
    assert client.post("/dashboard/login", data={
        "csrf": form_token(page.get_data(as_text=True)), "email": EMAIL,
        "password": PASSWORD}).status_code == 303
    return client


def _changes(site: Site) -> int:
    with site.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.audit_log)).scalar_one())


def test_every_dashboard_post_needs_its_csrf_token(site: Site) -> None:
    paths = _dashboard_posts(site.app)
    assert len(paths) >= 8 and "/dashboard/login" in paths  # the map was read whole
    client = _logged_in(site)
    before, config = _changes(site), config_of(site.app, site.custom)
    other = site.app.test_client()  # another session's valid token is no token for this one
    other_token = form_token(other.get("/dashboard/login").get_data(as_text=True))
    for path in paths:
        for token in (None, "", "0" * 64, other_token):
            data = {"delay_days": "3", "enabled": "on", "status": "rejected", "body": "x",
                    "email": "a@b.example", "lang": "fr", "next": "/dashboard/"}
            if token is not None:
                data["csrf"] = token
            answer = client.post(path, data=data)
            # Refused, or (logout, language) sent back where it came from with nothing done.
            assert answer.status_code in (303, 400, 403, 404, 405), (path, token,
                                                                     answer.status_code)
    assert _changes(site) == before
    assert config_of(site.app, site.custom) == config
    page = client.get(f"/dashboard/stores/{site.custom}/")  # still logged in, still English
    assert page.status_code == 200 and page.headers["Content-Language"] == "en"
    fresh = site.app.test_client()  # and the login itself: no login CSRF
    assert fresh.post("/dashboard/login", data={"email": EMAIL, "password": PASSWORD,
                                                "csrf": other_token}).status_code == 403


OFFSITE = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
           "/dashboard/\\..\\\\evil.example", "https:/evil.example", "javascript:alert(1)",
           "/dashboard//evil.example", "\t//evil.example", "/%2F%2Fevil.example",
           "https://evil.example/dashboard/", "/dashboard/@evil.example", "data:text/html,x"]


def _offsite(location: str) -> bool:
    """Whether a browser following `location` from our origin would leave it: a scheme, a
    host, or what a browser reads as one (a leading // or \\, after the tabs it drops)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    parts = urlsplit(cleaned)
    return bool(parts.scheme or parts.netloc) or cleaned.startswith("//")


@pytest.mark.parametrize("target", OFFSITE)
def test_the_login_never_sends_the_browser_elsewhere(site: Site, target: str) -> None:
    assert not _offsite(safe_next(target))
    client = site.app.test_client()
    page = client.get(f"/dashboard/login?{urlencode({'next': target})}")
    answer = client.post("/dashboard/login", data={
        "csrf": form_token(page.get_data(as_text=True)), "email": EMAIL, "password": PASSWORD,
        "next": target})
    assert answer.status_code == 303 and not _offsite(answer.headers["Location"])
    again = client.get(f"/dashboard/login?{urlencode({'next': target})}")  # logged in already
    assert not _offsite(again.headers.get("Location", "/dashboard/"))
    language = client.post("/dashboard/language", data={
        "csrf": form_token(client.get("/dashboard/").get_data(as_text=True)
                           if client.get("/dashboard/").status_code == 200 else page.get_data(
                               as_text=True)), "language": "fr", "next": target})
    assert not _offsite(language.headers.get("Location", "/dashboard/"))


@pytest.fixture
def woo_connect(hostile: Hostile) -> Iterator[FlaskClient]:
    """The WooCommerce Connect flow on an app that allows a local store (the developer mode),
    so that the return address is all that is checked."""
    hostile.app.config.update(PUBLIC_URL="https://parcours.example", WOOCOMMERCE_LOCAL_STORES=True)
    yield hostile.app.test_client()


@pytest.mark.parametrize("back", [
    "https://evil.example/wp-admin/", "https://evil.example\\@127.0.0.1:8443/wp-admin/",
    "https://127.0.0.1:8443@evil.example/", "https://user@127.0.0.1:8443/wp-admin/",
    "//evil.example/", "https://127.0.0.1:8443\t@evil.example/"])
def test_woocommerce_connect_returns_only_to_the_stores_own_site(
        woo_connect: FlaskClient, back: str) -> None:
    answer = woo_connect.get("/woocommerce/connect?" + urlencode({
        "store_url": "https://127.0.0.1:8443", "return_url": back, "state": "abc"}))
    assert answer.status_code == 422, (back, answer.status_code, answer.headers.get("Location"))
    assert "return_url" in answer.get_json()["error"]["fields"]


def test_woocommerce_connect_goes_to_the_store_it_names(woo_connect: FlaskClient) -> None:
    """The positive control of the refusals above: the store's own plugin page is fine."""
    answer = woo_connect.get("/woocommerce/connect?" + urlencode({
        "store_url": "https://127.0.0.1:8443",
        "return_url": "https://127.0.0.1:8443/wp-admin/admin.php?page=parcours",
        "state": "abc"}))
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert (location.hostname, location.port) == ("127.0.0.1", 8443)
    assert parse_qs(location.query)["return_url"] == [
        "https://parcours.example/woocommerce/return"]


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_store_urls_and_review_webhooks_never_reach_internal_addresses(host: str) -> None:
    with pytest.raises(StoreURLError):
        normalise_store_url(f"https://{host}/shop")
    bare = host.strip("[]")
    assert address_problem(bare, 443) is not None


def test_shopify_oauth_only_ever_redirects_to_the_shop_of_the_signed_request(
        hostile: Hostile) -> None:
    """The install link's shop is checked against Shopify's domain pattern before any
    redirect: an attacker's host, or a path smuggled in the shop, is refused."""
    client = hostile.app.test_client()
    for shop in ("evil.example", "evil.example/.myshopify.com", "x.myshopify.com.evil.example",
                 "x.myshopify.com@evil.example", "x.myshopify.com\\@evil.example",
                 "//evil.example", "x.myshopify.com#@evil.example"):
        answer = client.get("/shopify/install?" + urlencode({"shop": shop, "hmac": "0" * 64,
                                                            "timestamp": "1"}))
        assert answer.status_code in (400, 401, 422), (shop, answer.status_code)
        assert "Location" not in answer.headers
