"""The production layout on real engines: two app servers and three workers on PostgreSQL and
Redis process every acknowledged delivery exactly once, and end in the state one process
reaches (bench/scaleout.py); and the deployment examples name only commands, options and
settings that exist, so that they cannot rot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from parcours.app import DEFAULTS
from parcours.bench.scaleout import ok, run
from parcours.cli import main
from tests.conftest import PG_URL, REDIS_URL, fresh_postgres, service_missing

ROOT = Path(__file__).parent.parent
PACKAGE_DIRS = ("plugin_core", "adapters", "webhooks", "widgets", "bench")
DEPLOYMENT_DOCS = [ROOT / "docs" / "deployment.md", *sorted((ROOT / "docs" / "deploy").iterdir())]


@pytest.mark.postgres
@pytest.mark.redis
def test_two_servers_and_three_workers_process_each_delivery_once_like_one_process() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    fresh_postgres()  # skips (or fails under CI=true) without PostgreSQL
    report = run(deliveries=5_000, database_url=PG_URL, single_database_url=f"{PG_URL}_single",
                 redis_url=REDIS_URL, threads=8)
    summary = json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=1)
    assert report["deliveries"]["acked"] == 5_000, summary
    assert report["deliveries"]["answered_duplicate"] == report["deliveries"]["duplicates"]
    assert report["lost"] == report["duplicates_created"] == report["not_done"] == 0, summary
    assert report["processed"] == report["deliveries"]["unique"], summary
    assert report["equal"], summary
    assert ok(report)


def _commands() -> set[tuple[str, ...]]:
    """Every command path of the CLI, e.g. ("db", "upgrade")."""
    found: set[tuple[str, ...]] = set()

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found.add(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    walk(main, ())
    return found


def _options(path: tuple[str, ...]) -> set[str]:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return {opt for param in command.params for opt in getattr(param, "opts", ())}


def _settings() -> set[str]:
    """Every PARCOURS_ variable Parcours reads: its defaults, the config keys its code reads,
    and the variables it names itself."""
    source = "\n".join(path.read_text() for folder in PACKAGE_DIRS
                       for path in (ROOT / folder).rglob("*.py"))
    keys = set(DEFAULTS) | set(re.findall(r'config(?:\.get\(|\[)"([A-Z0-9_]+)"', source))
    return {f"PARCOURS_{key}" for key in keys} | set(re.findall(r"PARCOURS_[A-Z0-9_]+", source))


def _examples(doc: Path) -> str:
    """What a reader runs: an example file whole, a guide's code blocks."""
    text = doc.read_text()
    return "\n".join(text.split("```")[1::2]) if doc.suffix == ".md" else text


def test_the_deployment_examples_name_only_real_commands_options_and_settings() -> None:
    commands, settings = _commands(), _settings()
    for doc in DEPLOYMENT_DOCS:
        for name in re.findall(r"\bPARCOURS_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text()):
            assert name in settings, f"{doc.name} names {name}, which Parcours does not read"
        for line in re.findall(r"(?:^|(?<=[\s`/\"'\[]))parcours[ \t]+([^\n`\"'#]*)",
                               _examples(doc), re.MULTILINE):
            path: tuple[str, ...] = ()
            for word in line.split():
                if (*path, word) not in commands:
                    break
                path = (*path, word)
            assert path, f"{doc.name}: `parcours {line.strip()}` is no command"
            for option in re.findall(r"(?<!\S)(--[a-z][\w-]*)", line):
                assert option in _options(path), (
                    f"{doc.name}: `parcours {' '.join(path)}` has no option {option}")
