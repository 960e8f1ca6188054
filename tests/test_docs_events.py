"""docs/events.md's event reference agrees with the code: every canonical name once, no other,
each with its source and the stage the default rules give it. The reference is what integrators
map GA4 and Segment events from, so a name added in code without a row (or a row left behind
by a rename) must fail here rather than mislead them."""

from __future__ import annotations

from pathlib import Path

from parcours.events import EVENT_NAMES, SERVER_EVENTS, STOREFRONT_EVENTS, WIDGET_EVENTS
from parcours.rules import DEFAULT_RULES

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"
HEADING = "## Event reference"
COLUMNS = ["event", "source", "default stage", "meaning", "properties", "GA4",
           "Segment e-commerce v2"]


def _reference() -> dict[str, dict[str, str]]:
    """The reference table's rows by event name (a name listed twice is kept twice apart)."""
    text = DOC.read_text(encoding="utf-8")
    assert HEADING in text, f"docs/events.md has no '{HEADING}' section"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == COLUMNS, header
    rows: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(COLUMNS), f"a row of {len(cells)} cells: {line}"
        name = cells[0].strip("`")
        assert name not in rows, f"{name} is listed twice"
        rows[name] = dict(zip(COLUMNS, cells, strict=True))
    return rows


def test_the_reference_names_every_event_and_no_other() -> None:
    documented = set(_reference())
    missing = sorted(set(EVENT_NAMES) - documented)
    unknown = sorted(documented - set(EVENT_NAMES))
    assert not missing, f"events missing from docs/events.md's reference: {missing}"
    assert not unknown, f"docs/events.md names events the code does not know: {unknown}"


def test_each_row_gives_the_codes_source_and_default_stage() -> None:
    sources = {**{n: "storefront" for n in STOREFRONT_EVENTS},
               **{n: "widget" for n in WIDGET_EVENTS}, **{n: "server" for n in SERVER_EVENTS}}
    for name, row in _reference().items():
        assert sources[name] in row["source"], f"{name}: source {row['source']!r}"
        stage = DEFAULT_RULES.stage_of(name)
        expected = "none" if stage is None else stage.label
        assert row["default stage"].split()[0] == expected, (
            f"{name}: docs say {row['default stage']!r}, the default rules {expected!r}")
        for column in ("meaning", "GA4", "Segment e-commerce v2"):
            assert row[column], f"{name}: empty {column} (write 'none' when there is none)"
