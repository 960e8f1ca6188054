"""docs/api-reference.md is what `parcours api-docs` renders from the API's OpenAPI document
today: a route added, removed or changed without regenerating it fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from parcours.cli import main
from parcours.cli_docs import COMMAND, REFERENCE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The command's output, with a throwaway instance folder and database."""
    monkeypatch.setenv("PARCOURS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PARCOURS_DATABASE_URL", f"sqlite:///{tmp_path / 'parcours.db'}")
    monkeypatch.delenv("PARCOURS_REDIS_URL", raising=False)
    output = tmp_path / "api-reference.md"
    result = CliRunner().invoke(main, ["api-docs", "--output", str(output)])
    assert result.exit_code == 0, result.output
    return output.read_text(encoding="utf-8")


def test_the_api_reference_is_up_to_date(rendered: str) -> None:
    committed = (ROOT / REFERENCE).read_text(encoding="utf-8")
    assert committed == rendered, (
        f"{REFERENCE} is stale: the API changed since it was generated. Run `{COMMAND}` "
        "and commit the result.")


def test_the_reference_lists_every_route_with_its_answers(rendered: str) -> None:
    from parcours.app import create_app
    from parcours.openapi import document

    paths = document(create_app({"DATABASE_URL": "sqlite://"}))["paths"]
    for path, item in paths.items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                section = rendered.split(f"### `{method.upper()} {path}`\n", 1)
                assert len(section) == 2, f"{method.upper()} {path} is missing"
                body = section[1].split("\n### ", 1)[0]
                for status in item[method]["responses"]:
                    assert f"- `{status}` " in body, f"{method.upper()} {path}: no {status}"


def test_stdout_by_default(rendered: str) -> None:
    result = CliRunner().invoke(main, ["api-docs"])
    assert result.exit_code == 0, result.output
    assert result.output == rendered
