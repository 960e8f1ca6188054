"""The `parcours` command, run as a user runs it (a subprocess with the environment)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.processes import parcours

DAY = "2026-11-03"


def _line(name: str, minute: int, **extra: object) -> str:
    record = {"name": name, "occurred_at": f"{DAY}T09:{minute:02d}:00Z",
              "identities": {"anonymous_id": "a"}, **extra}
    return json.dumps(record)


def test_import_then_kpis(env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join([
        _line("page_viewed", 0), _line("product_added_to_cart", 1),
        _line("order_paid", 5, properties={"total": "12.5", "currency": "EUR"},
              resource={"type": "order", "id": "7"}),
    ]) + "\n")
    done = parcours(env, "events", "import", str(file), "--store", "shop")
    assert done.returncode == 0, done.stderr
    assert "3 events recorded" in done.stdout
    again = parcours(env, "events", "import", str(file), "--store", "shop")
    assert "0 events recorded, 3 already known" in again.stdout
    shown = parcours(env, "kpis", "shop", "--from", DAY, "--to", DAY, "--json")
    data = json.loads(shown.stdout)
    assert data["kpis"]["average_order_value"] == {"EUR": "12.50"}
    assert [s["journeys"] for s in data["funnel"]["steps"]] == [1, 0, 1, 0, 1, 0, 0, 0]
    table = parcours(env, "kpis", "shop", "--from", DAY, "--to", DAY)
    assert "purchase" in table.stdout and table.returncode == 0
    # Nothing recorded before the insights rollups: nothing to refold; --all rebuilds the one
    # profile and the figures stay.
    assert "0 profiles refolded" in parcours(env, "events", "refold", "shop").stdout
    assert "1 profiles refolded" in parcours(env, "events", "refold", "shop", "--all").stdout
    assert json.loads(parcours(env, "kpis", "shop", "--from", DAY, "--to", DAY, "--json"
                               ).stdout) == data


def test_import_rejects_whole_file_naming_line_and_field(env: dict[str, str],
                                                         tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text("\n".join([_line("page_viewed", 0), '{"name": "page_viewed"',
                               _line("order_paid", 2)]) + "\n")
    done = parcours(env, "events", "import", str(file), "--store", "shop")
    assert done.returncode == 1
    assert "line 2" in done.stderr and "line 3" in done.stderr
    assert "properties.total" in done.stderr and "nothing imported" in done.stderr
    shown = json.loads(parcours(env, "kpis", "shop", "--from", DAY, "--to", DAY,
                                "--json").stdout)
    assert shown["funnel"]["journeys"] == 0


def test_stores_and_keys(env: dict[str, str]) -> None:
    duplicate = parcours(env, "stores", "add", "shop", "--account", "acme")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad = parcours(env, "stores", "add", "Bad Key!", "--account", "acme")
    assert bad.returncode == 1 and "key:" in bad.stderr
    listed = json.loads(parcours(env, "stores", "list", "--json").stdout)
    assert [s["key"] for s in listed] == ["shop"]
    key = parcours(env, "keys", "create", "--account", "acme").stdout.strip()
    assert key.startswith("prc_")
    assert parcours(env, "keys", "revoke", key).returncode == 0
    assert parcours(env, "keys", "revoke", key).returncode == 1
    unknown = parcours(env, "kpis", "nowhere")
    assert unknown.returncode == 1 and "no store 'nowhere'" in unknown.stderr
    assert parcours(env, "stores", "remove", "shop", "--yes").returncode == 0
    assert json.loads(parcours(env, "stores", "list", "--json").stdout) == []


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PARCOURS_INSTANCE_PATH": str(tmp_path),
           "PARCOURS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = parcours(env, "kpis", "shop")
    assert done.returncode == 1
    assert "Error: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/none" \
        in done.stderr
    assert "Traceback" not in done.stderr


def test_unmigrated_database_says_what_to_run(tmp_path: Path) -> None:
    env = {**os.environ, "PARCOURS_INSTANCE_PATH": str(tmp_path),
           "PARCOURS_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = parcours(env, "stores", "list")
    assert done.returncode == 1 and "run `parcours db upgrade`" in done.stderr
