"""The audit log, on SQLite and PostgreSQL: every change made through the CLI, the API and the
dashboard is an entry naming who made it and through which interface; a refused or read-only
request is none; no entry holds a secret or a shopper's email; the API lists an account's
entries within the key's scope."""

from __future__ import annotations

import json

from parcours import audit
from parcours.access import tag_stores
from parcours.accounts import key_prefix
from tests.agency_support import Agency, agency, dashboard_login, form_token
from tests.processes import parcours

__all__ = ["agency"]  # the fixture

SHOPPER = "shopper@example.com"


def _entries(agency: Agency, **filters: object) -> list[dict[str, object]]:
    with agency.db.read() as conn:
        return audit.entries(conn, **filters)["items"]  # type: ignore[arg-type]


def test_cli_changes_are_audited_with_the_operator(env: dict[str, str]) -> None:
    env = {**env, "PARCOURS_ACTOR": "ci-bot"}
    assert parcours(env, "accounts", "add", "acme", "--kind", "agency").returncode == 0
    assert parcours(env, "stores", "tag", "shop", "EU", "fr").stdout.strip() == "shop: eu, fr"
    key = parcours(env, "keys", "create", "acme", "--role", "analyst", "--tags", "eu"
                   ).stdout.strip()
    listed = parcours(env, "keys", "list", "acme").stdout
    assert f"prc_{key_prefix(key)}" in listed and "analyst" in listed and "tag:eu" in listed
    assert key not in listed
    assert parcours(env, "keys", "revoke", key).returncode == 0
    assert parcours(env, "users", "add", "zoe@agency.example", "--account", "acme", "--role",
                    "admin", "--stores", "shop", "--password-stdin",
                    stdin="a long enough password\n").returncode == 0
    assert parcours(env, "stores", "remove", "shop", "--yes").returncode == 0
    assert parcours(env, "stores", "list").stdout == ""  # reads are not audited
    shown = parcours(env, "audit", "--json")
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)
    assert [e["action"] for e in entries] == [
        "stores remove", "users add", "keys revoke", "keys create", "stores tag",
        "accounts add", "stores add"]  # newest first; `stores add` by the env fixture
    assert {e["interface"] for e in entries} == {"cli"}
    assert {e["actor"] for e in entries[:-1]} == {"cli:ci-bot"}
    assert entries[0]["store"] == "shop" and entries[0]["account"] == "acme"  # removed, named
    assert entries[2]["detail"] == {"key_or_prefix": f"prc_{key_prefix(key)}"}
    assert entries[3]["detail"] == {"account": "acme", "name": "default", "role": "analyst",
                                    "tags": "eu"}
    assert entries[4]["detail"] == {"store": "shop", "tags": ["EU", "fr"]}
    assert key.split("_", 2)[2] not in shown.stdout and "password" not in shown.stdout
    table = parcours(env, "audit", "--store", "shop", "--limit", "2").stdout.splitlines()
    assert len(table) == 2 and "stores remove" in table[0] and "cli:ci-bot" in table[0]


def test_api_changes_are_audited_with_the_key(agency: Agency) -> None:
    review = agency.reviews["north-fr"]
    assert agency.api("POST", f"/stores/north-fr/reviews/{review}/moderation", "owner",
                      json={"status": "rejected", "reason": "spam"}).status_code == 200
    assert agency.api("PUT", "/stores/north-de/reviews/settings", "eu",
                      json={"delay_days": 4}).status_code == 200
    assert agency.api("POST", "/stores/north-fr/privacy/redactions", "owner",
                      json={"email": SHOPPER}).status_code == 200
    assert agency.api("POST", "/stores/north-fr/events", "owner", json={"events": [
        {"name": "page_viewed", "occurred_at": "2026-11-02T10:00:00+00:00",
         "identities": {"anonymous_id": "a"}}]}).status_code == 202  # data, not a change
    assert agency.api("PUT", "/stores/north-fr/reviews/settings", "analyst",
                      json={"delay_days": 4}).status_code == 403  # refused: no entry
    prefix = key_prefix(agency.keys["owner"])
    entries = _entries(agency, interface="api")
    assert [(e["action"], e["actor"], e["store"]) for e in entries] == [
        ("POST /stores/north-fr/privacy/redactions", f"key:prc_{prefix} (ci)", "north-fr"),
        ("PUT /stores/north-de/reviews/settings",
         f"key:prc_{key_prefix(agency.keys['eu'])} (eu)", "north-de"),
        (f"POST /stores/north-fr/reviews/{review}/moderation", f"key:prc_{prefix} (ci)",
         "north-fr")]
    assert entries[2]["detail"] == {"endpoint": "api_v1.reviews_moderate", "status": 200,
                                    "review_id": review}
    assert SHOPPER not in json.dumps(entries)

    listed = agency.api("GET", "/audit", "owner", query_string={"limit": 2}).get_json()
    assert [e["action"] for e in listed["items"]] == [entries[0]["action"],
                                                     entries[1]["action"]]
    rest = agency.api("GET", "/audit", "owner", query_string={
        "limit": 2, "cursor": listed["next_cursor"]}).get_json()
    assert [e["id"] for e in rest["items"]] == [entries[2]["id"]]
    assert rest["next_cursor"] is None
    scoped = agency.api("GET", "/audit", "eu").get_json()  # an admin of the eu stores
    assert [e["store"] for e in scoped["items"]] == ["north-fr", "north-de", "north-fr"]
    with agency.db.write() as conn:
        tag_stores(conn, ["north-fr"], remove=["eu"])
    scoped = agency.api("GET", "/audit", "eu").get_json()
    assert [e["store"] for e in scoped["items"]] == ["north-de"]
    south = agency.api("GET", "/audit", "south").get_json()
    assert south["items"] == []  # another account's log is not theirs


def test_dashboard_changes_are_audited_with_the_user(agency: Agency) -> None:
    client = dashboard_login(agency.app, "owner@north.example")
    base = "/dashboard/stores/north-us"
    token = form_token(client.get(f"{base}/reviews").get_data(as_text=True))
    review = agency.reviews["north-us"]
    refused = client.post(f"{base}/reviews/{review}/moderate",
                          data={"csrf": token, "status": "rejected"})  # no reason: refused
    assert refused.status_code == 303 and _entries(agency, interface="dashboard") == []
    done = client.post(f"{base}/reviews/{review}/moderate",
                       data={"csrf": token, "status": "rejected", "reason": "abuse"})
    assert done.status_code == 303
    exported = client.post(f"{base}/privacy", data={"csrf": token, "kind": "export",
                                                    "email": SHOPPER})
    assert exported.status_code == 303
    entries = _entries(agency, interface="dashboard")
    assert [(e["action"], e["actor"], e["store"]) for e in entries] == [
        ("POST /stores/north-us/privacy", "user:owner@north.example", "north-us"),
        (f"POST /stores/north-us/reviews/{review}/moderate", "user:owner@north.example",
         "north-us")]
    assert entries[1]["detail"] == {"page": "dashboard.moderate_review", "notice": "rejected",
                                    "status": "rejected", "reason": "abuse"}
    assert entries[0]["detail"]["kind"] == "export"  # type: ignore[index]
    assert SHOPPER not in json.dumps(entries)


def test_record_masks_secrets_a_careless_caller_passes(agency: Agency) -> None:
    key = agency.keys["owner"]
    with agency.db.write() as conn:
        audit.record(conn, actor="config:test", interface="config", action="apply",
                     detail={"consumer_secret": "cs_1", "nested": [{"access_token": "x"}],
                             "note": f"made with {key}"})
    [entry] = _entries(agency, interface="config")
    assert entry["detail"] == {"consumer_secret": "[masked]",
                               "nested": [{"access_token": "[masked]"}],
                               "note": f"made with prc_{key_prefix(key)}"}
    assert entry["store"] is None and entry["account"] is None
