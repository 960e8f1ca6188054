"""Tenant isolation, enumerated (SQLite and PostgreSQL): every /api/v1 operation of the OpenAPI
document tried with another account's key and with a key scoped to another store, and every
dashboard route of the url_map with another account's session. The answer is 404 or 403, and
never the store's data; a route added tomorrow is in the lists by itself.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.dashboard_support import PASSWORD, Site, form_token, site
from tests.security_support import Hostile, fill_route, hostile

__all__ = ["hostile", "site"]  # the fixtures, used by name


def _api_operations(hostile: Hostile) -> list[tuple[str, str]]:
    document = hostile.app.test_client().get("/api/v1/openapi.json").get_json()
    return [(method.upper(), path) for path, item in document["paths"].items()
            for method in item if "{store}" in path]


def test_no_key_reaches_a_store_outside_its_scope(hostile: Hostile) -> None:
    operations = _api_operations(hostile)
    assert len(operations) >= 15  # the document was read whole
    client = hostile.app.test_client()
    for method, path in operations:
        for key, store in (("evil", "own"), ("own-only", "walled"), ("acme", "evil-shop")):
            answer = client.open("/api/v1" + fill_route(path, store), method=method,
                                 headers={"Authorization": f"Bearer {hostile.keys[key]}"},
                                 json={} if method != "GET" else None)
            assert answer.status_code in (403, 404), (key, method, path, answer.status_code,
                                                      answer.get_data(as_text=True)[:300])
            body = answer.get_json()
            assert set(body) == {"error"}, body
    # The account-wide routes answer within the key's scope only.
    for path in ("/api/v1/kpis", "/api/v1/audit"):
        answer = client.get(path, headers={"Authorization": f"Bearer {hostile.keys['evil']}"})
        assert answer.status_code == 200 and "own" not in answer.get_data(as_text=True), path
    scoped = client.get("/api/v1/kpis?stores=walled",
                        headers={"Authorization": f"Bearer {hostile.keys['own-only']}"})
    assert scoped.status_code in (403, 404, 422) and "walled" in scoped.get_data(as_text=True)


def _dashboard_routes(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/dashboard/stores/<"):
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                found.append((method, rule.rule))
    return found


def test_no_dashboard_page_shows_another_accounts_store(site: Site) -> None:
    routes = _dashboard_routes(site.app)
    assert len(routes) >= 15
    client = site.app.test_client()  # eve, of the account "evil"
    page = client.get("/dashboard/login")
    assert client.post("/dashboard/login", data={
        "csrf": form_token(page.get_data(as_text=True)), "email": "eve@evil.example",
        "password": PASSWORD}).status_code == 303
    token = form_token(client.get(f"/dashboard/stores/{site.other}/").get_data(as_text=True))
    for method, rule in routes:
        for store in (site.custom, site.shopify):
            data: Any = {"csrf": token} if method == "POST" else None
            answer = client.open(fill_route(rule, store), method=method, data=data)
            assert answer.status_code in (403, 404), (method, rule, answer.status_code)
            text = answer.get_data(as_text=True)
            assert "Acme Coffee" not in text and "Dawn FR" not in text
