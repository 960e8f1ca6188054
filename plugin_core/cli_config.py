"""`parcours config`: many stores configured from one YAML file (docs/config.md).

`plan` prints what would change and touches nothing; `apply` applies store by store and ends
with a summary (exit code 1 when a store failed: the others are applied, the failed one left as
it was); `export` writes the stores' current configuration as such a file. A file with any
problem is refused before any store is touched, naming the file, the line and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from parcours import audit
from parcours.adapters.base import StoreAccess
from parcours.cli_support import ParcoursGroup, database, echo_json, load_app
from parcours.config_apply import (
    Change,
    Outcome,
    StorePlan,
    apply_plans,
    export_config,
    plan_config,
)
from parcours.config_file import load_config

__all__ = ["config"]

_FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_STORES = click.option("--stores", "selector", default=None, metavar="SELECTOR",
                       help="store keys, tag:T, platform:P, account:A, comma-separated "
                            "(default: every store)")
_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON")


@click.group(cls=ParcoursGroup)
def config() -> None:
    """Configuration as code: plan, apply and export many stores' settings."""


def _value(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value, ensure_ascii=False)


def _change_line(change: Change) -> str:
    return f"  {change.key}: {_value(change.old)} -> {_value(change.new)}   [{change.origin}]"


def _change_dict(change: Change) -> dict[str, Any]:
    return {"key": change.key, "old": change.old, "new": change.new, "from": change.origin}


def _header(plan: StorePlan) -> str:
    tags = f", tags: {', '.join(plan.store.tags)}" if plan.store.tags else ""
    return f"{plan.store.key} ({plan.store.platform}{tags})"


@config.command("plan")
@_FILE
@_STORES
@_JSON
def plan(file: Path, selector: str | None, as_json: bool) -> None:
    """Print, store by store, what applying FILE would change (current -> new). Changes
    nothing, on Parcours or on any platform."""
    document = load_config(file)
    with database(load_app()).read() as conn:
        plans = plan_config(conn, document, selector)
    if as_json:
        echo_json([{"store": p.store.key, "changes": [_change_dict(c) for c in p.changes]}
                   for p in plans])
        return
    for store_plan in plans:
        if not store_plan.changes:
            click.echo(f"{_header(store_plan)}: no change")
            continue
        click.echo(f"{_header(store_plan)}: {len(store_plan.changes)} change(s)")
        for change in store_plan.changes:
            click.echo(_change_line(change))
    changing = sum(1 for p in plans if p.changes)
    click.echo(f"Plan: {changing} store(s) to change, {len(plans) - changing} unchanged.")


@config.command("apply")
@_FILE
@_STORES
@_JSON
def apply(file: Path, selector: str | None, as_json: bool) -> None:
    """Apply FILE store by store. A store either gets all its changes or, when its platform
    fails, none (what was done is undone) and is reported; the others go on. Applying the same
    file again changes nothing."""
    document = load_config(file)
    app = load_app()
    db = database(app)
    with db.read() as conn:
        plans = plan_config(conn, document, selector)

    def access(key: str) -> StoreAccess:
        return StoreAccess(key, db, app.extensions["parcours.vault"], app.config)

    def progress(outcome: Outcome) -> None:
        if as_json:
            return
        if outcome.status == "failed":
            click.echo(f"{outcome.store}: FAILED, left as it was: {outcome.notes[0]}")
        elif outcome.status == "changed":
            click.echo(f"{outcome.store}: {len(outcome.changes)} change(s) applied")
            for note in outcome.notes:
                click.echo(f"  {note}")
        else:
            click.echo(f"{outcome.store}: no change")

    outcomes = apply_plans(db, access, plans, actor=audit.cli_actor(), source=file.name,
                           progress=progress)
    failed = [o.store for o in outcomes if o.status == "failed"]
    changed = sum(1 for o in outcomes if o.status == "changed")
    if as_json:
        echo_json([{"store": o.store, "status": o.status, "notes": o.notes,
                    "changes": [_change_dict(c) for c in o.changes]} for o in outcomes])
    else:
        click.echo(f"Applied: {changed} store(s) changed, "
                   f"{len(outcomes) - changed - len(failed)} unchanged, {len(failed)} failed"
                   + (f" ({', '.join(failed)})" if failed else "") + ".")
    if failed:
        raise SystemExit(1)


@config.command("export")
@_STORES
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file (default: standard output)")
def export(selector: str | None, output: Path | None) -> None:
    """Write the selected stores' current configuration as a config file."""
    with database(load_app()).read() as conn:
        text = export_config(conn, selector)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
