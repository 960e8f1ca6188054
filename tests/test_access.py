"""Roles and scopes over the real API and dashboard, on SQLite and PostgreSQL: an analyst
changes nothing (403), a key or a user never reaches a store out of its scope (404, the words of
a store that does not exist), tags scope keys to the stores tagged (later ones too), a revoked
key is refused (401); and store selectors, with their errors."""

from __future__ import annotations

import pytest

from parcours.access import Grant, select_stores, tag_stores
from parcours.accounts import account_id_of, create_api_key, revoke_api_key
from parcours.errors import ValidationError
from tests.agency_support import Agency, agency, dashboard_login, form_token

__all__ = ["agency"]  # the fixture

SETTINGS = {"delay_days": 5}


def _kpi_stores(agency: Agency, key: str, selector: str = "") -> list[str]:
    answer = agency.api("GET", "/kpis", key, query_string={"stores": selector} if selector
                        else {})
    assert answer.status_code == 200, answer.get_json()
    return [row["store"] for row in answer.get_json()["stores"]]


def test_an_analyst_key_reads_everything_and_changes_nothing(agency: Agency) -> None:
    assert agency.api("GET", "/stores/north-fr/kpis", "analyst").status_code == 200
    assert _kpi_stores(agency, "analyst") == ["north-de", "north-fr", "north-us"]
    review = agency.reviews["north-fr"]
    for method, path, body in (
            ("PUT", "/stores/north-fr/reviews/settings", SETTINGS),
            ("POST", f"/stores/north-fr/reviews/{review}/moderation",
             {"status": "published", "reason": None}),
            ("POST", "/stores/north-fr/events", {"events": []}),
            ("POST", "/stores/north-fr/privacy/redactions", {"email": "x@example.com"}),
            ("POST", "/stores/north-fr/uninstall", {})):
        refused = agency.api(method, path, "analyst", json=body)
        assert refused.status_code == 403, (method, path)
        assert "may read but not change" in refused.get_json()["error"]["message"]
    assert agency.api("GET", "/audit", "analyst").status_code == 403
    settings = agency.api("GET", "/stores/north-fr/reviews/settings", "analyst").get_json()
    assert settings["settings"]["delay_days"] != 5  # nothing changed


def test_an_admin_changes_but_only_an_owner_uninstalls(agency: Agency) -> None:
    assert agency.api("PUT", "/stores/north-us/reviews/settings", "admin",
                      json=SETTINGS).status_code == 200
    refused = agency.api("POST", "/stores/north-us/uninstall", "admin", json={})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == "only an owner may uninstall a store"
    assert agency.api("POST", "/stores/north-us/uninstall", "owner", json={}).status_code == 202


def test_a_key_for_one_store_finds_no_other(agency: Agency) -> None:
    assert agency.api("GET", "/stores/north-fr/funnel", "fr-only").status_code == 200
    sibling = agency.api("GET", "/stores/north-de/funnel", "fr-only")
    missing = agency.api("GET", "/stores/nowhere/funnel", "fr-only")
    foreign = agency.api("GET", "/stores/south-shop/funnel", "fr-only")
    assert sibling.status_code == missing.status_code == foreign.status_code == 404
    assert sibling.get_json()["error"]["message"] == "no store 'north-de' for this API key"
    assert missing.get_json()["error"]["message"] == "no store 'nowhere' for this API key"
    # writing out of scope is the same 404, not a 403 that would tell the store exists
    assert agency.api("PUT", "/stores/north-de/reviews/settings", "fr-only",
                      json=SETTINGS).status_code == 404
    assert _kpi_stores(agency, "fr-only") == ["north-fr"]
    unknown = agency.api("GET", "/kpis", "fr-only", query_string={"stores": "north-de"})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"] == {"stores": ["unknown store 'north-de'"]}


def test_a_tag_scoped_key_sees_exactly_the_tagged_stores(agency: Agency) -> None:
    assert _kpi_stores(agency, "eu") == ["north-de", "north-fr"]  # not the other account's
    assert agency.api("GET", "/stores/north-us/kpis", "eu").status_code == 404
    with agency.db.write() as conn:
        tag_stores(conn, ["north-us"], add=["EU"])  # a store tagged later joins the scope
    assert _kpi_stores(agency, "eu") == ["north-de", "north-fr", "north-us"]
    assert agency.api("GET", "/stores/north-us/kpis", "eu").status_code == 200
    with agency.db.write() as conn:
        tag_stores(conn, ["north-fr"], remove=["eu"])
    assert _kpi_stores(agency, "eu", "tag:eu") == ["north-de", "north-us"]
    assert agency.api("GET", "/stores/north-fr/kpis", "eu").status_code == 404


def test_a_revoked_key_is_refused(agency: Agency) -> None:
    assert agency.api("GET", "/stores/north-fr/kpis", "admin").status_code == 200
    with agency.db.write() as conn:
        revoke_api_key(conn, agency.keys["admin"])
    refused = agency.api("GET", "/stores/north-fr/kpis", "admin")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["message"] == "this API key was revoked"


def test_key_scopes_are_checked_when_made(agency: Agency) -> None:
    with agency.db.write() as conn, pytest.raises(ValidationError) as caught:
        create_api_key(conn, "north", role="viewer", stores=["south-shop"],
                       tags=["Bad Tag!"])
    assert set(caught.value.errors) == {"role", "stores", "tags"}
    assert caught.value.errors["stores"] == ["no store 'south-shop' in this account"]


# -- the dashboard ---------------------------------------------------------------------------

def test_a_dashboard_analyst_sees_pages_without_forms_and_cannot_post(agency: Agency) -> None:
    client = dashboard_login(agency.app, "analyst@north.example")
    base = "/dashboard/stores/north-fr"
    page = client.get(f"{base}/reviews").get_data(as_text=True)
    assert "Good" in page and "moderate" not in page and "/reply" not in page
    settings = client.get(f"{base}/settings").get_data(as_text=True)
    assert "read-only" in settings and " disabled>" in settings
    token = form_token(settings)  # the page's token: the post is valid but for the role
    review = agency.reviews["north-fr"]
    for path, data in ((f"/reviews/{review}/moderate", {"status": "published"}),
                       (f"/reviews/{review}/reply", {"reply": "Thanks"}),
                       ("/settings", {"delay_days": "3"}),
                       ("/friction/fix", {"kind": "widget", "target": "review_stars"}),
                       ("/privacy", {"kind": "export", "email": "x@example.com"})):
        refused = client.post(base + path, data={"csrf": token, **data})
        assert refused.status_code == 403, path
    reviews = client.get(f"{base}/reviews?status=pending").get_data(as_text=True)
    assert "Good" in reviews  # still pending
    owner = dashboard_login(agency.app, "owner@north.example")
    page = owner.get(f"{base}/reviews").get_data(as_text=True)
    assert "moderate" in page
    done = owner.post(f"{base}/reviews/{review}/moderate",
                      data={"csrf": form_token(page), "status": "published"})
    assert done.status_code == 303


def test_a_dashboard_user_sees_only_the_stores_of_their_scope(agency: Agency) -> None:
    client = dashboard_login(agency.app, "eu@north.example")
    home = client.get("/dashboard/").get_data(as_text=True)
    assert "north-fr" in home and "north-de" in home
    assert "north-us" not in home and "south-shop" not in home
    assert client.get("/dashboard/stores/north-us/").status_code == 404
    assert client.get("/dashboard/stores/south-shop/").status_code == 404
    assert client.get("/dashboard/stores/north-de/").status_code == 200


# -- selectors -------------------------------------------------------------------------------

def _keys(agency: Agency, selector: str | None, grant: Grant | None = None) -> list[str]:
    with agency.db.read() as conn:
        return [store.key for store in select_stores(conn, selector, grant)]


def test_selectors_name_the_union_of_their_terms(agency: Agency) -> None:
    everything = ["north-de", "north-fr", "north-us", "south-shop"]
    assert _keys(agency, None) == _keys(agency, "all") == everything
    assert _keys(agency, "tag:eu") == ["north-de", "north-fr", "south-shop"]
    assert _keys(agency, "tag:FR, north-us") == ["north-fr", "north-us"]
    assert _keys(agency, "platform:shopify,platform:woocommerce") == ["north-de", "north-fr"]
    assert _keys(agency, "account:south,north-fr,north-fr") == ["north-fr", "south-shop"]
    assert _keys(agency, "platform:shopify,all") == everything
    with agency.db.read() as conn:
        [fr] = select_stores(conn, "north-fr")
    assert fr.tags == ("eu", "fr") and fr.platform == "shopify" and fr.account == "north"


def test_selectors_stay_within_a_grant(agency: Agency) -> None:
    with agency.db.read() as conn:
        north = account_id_of(conn, "north")
    eu = Grant(north, "analyst", frozenset(), frozenset({"eu"}))
    assert _keys(agency, None, eu) == ["north-de", "north-fr"]
    assert _keys(agency, "account:north", eu) == ["north-de", "north-fr"]
    with pytest.raises(ValidationError) as caught:
        _keys(agency, "account:south,north-us", eu)
    assert caught.value.errors == {"stores": ["unknown account 'south'",
                                              "unknown store 'north-us'"]}


def test_an_unknown_store_or_tag_is_an_error_naming_it(agency: Agency) -> None:
    with pytest.raises(ValidationError) as caught:
        _keys(agency, "north-fr,nowhere,tag:asia,platform:magento,colour:red")
    assert caught.value.errors == {"stores": [
        "unknown store 'nowhere'", "unknown tag 'asia'", "unknown platform 'magento'",
        "unknown term 'colour:red': a store key, all, tag:, platform: or account:"]}
    assert _keys(agency, "platform:custom,account:south") == ["north-us", "south-shop"]


def test_tags_are_checked_and_lower_cased(agency: Agency) -> None:
    with agency.db.write() as conn:
        with pytest.raises(ValidationError) as caught:
            tag_stores(conn, ["north-us", "nowhere"], add=["ok", "not ok!"])
        assert set(caught.value.errors) == {"stores", "tags"}
        assert tag_stores(conn, ["north-us"], add=["Retail", "retail"]) == {
            "north-us": ("retail",)}
