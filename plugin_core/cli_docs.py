"""`parcours api-docs`: docs/api-reference.md, rendered from the API's own OpenAPI document.

The document (`parcours.openapi.document`, served at GET /api/v1/openapi.json) is built from the
routes and the schemas that load their input, and the tests check every answer against it. A
reference written by hand would drift from it; one rendered from it cannot, as long as it is
regenerated, which tests/test_api_reference.py enforces. The rendering only reads the document:
what a route says comes from its docstring and its schemas (api.py, api_schemas.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from parcours.cli_support import load_app

__all__ = ["api_docs", "render"]

REFERENCE = "docs/api-reference.md"
COMMAND = f"parcours api-docs --output {REFERENCE}"
_METHODS = ("get", "post", "put", "patch", "delete")
_REF = "#/components/"

Json = Mapping[str, Any]


def _line(text: object) -> str:
    """Docstring text on one line, `<` and `>` escaped outside code spans (Markdown would
    take `<ISO code>` for an HTML tag and hide it)."""
    parts = re.sub(r"\s+", " ", str(text)).strip().split("`")
    for index in range(0, len(parts), 2):  # the even parts are outside backticks
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _cell(text: object) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return _line(text).replace("|", "\\|")


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


class _Renderer:
    """Walks one document; remembers the component schemas that fields point to, so that
    each is listed once at the end instead of inline at every use."""

    def __init__(self, document: Json) -> None:
        self.doc = document
        self.schemas: Json = document.get("components", {}).get("schemas", {})
        self.linked: set[str] = set()

    def _resolve(self, node: Json) -> Json:
        """A `$ref` followed (components only: the document has no other kind)."""
        while "$ref" in node:
            kind, name = node["$ref"].removeprefix(_REF).split("/", 1)
            node = self.doc["components"][kind][name]
        return node

    def type_of(self, schema: Json) -> str:
        """A schema as a short type: `string (date-time)`, `array of [Review](#...)`."""
        if "$ref" in schema:
            name = _ref_name(schema["$ref"])
            self.linked.add(name)
            return f"[{name}](#{_anchor(name)})"
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                return " or ".join(self.type_of(part) for part in schema[key])
        kind = schema.get("type", "any")
        kinds = kind if isinstance(kind, list) else [kind]
        words = []
        for one in kinds:
            if one == "array":
                words.append("array of " + self.type_of(schema.get("items", {})))
            elif one == "string" and "format" in schema:
                words.append(f"string ({schema['format']})")
            else:
                words.append(str(one))
        return " or ".join(words)

    @staticmethod
    def notes(schema: Json, description: str = "") -> str:
        """The description, then the constraints a client must meet."""
        parts = [description or schema.get("description", "")]
        if "enum" in schema:
            parts.append("one of " + ", ".join(f"`{value}`" for value in schema["enum"]))
        for key, label in (("minimum", "min"), ("maximum", "max"), ("minLength", "min length"),
                           ("maxLength", "max length"), ("minItems", "min items"),
                           ("maxItems", "max items"), ("pattern", "pattern")):
            if key in schema:
                value = schema[key]
                parts.append(f"{label} `{value}`" if key == "pattern" else f"{label} {value}")
        if "default" in schema:
            parts.append(f"default `{schema['default']}`")
        return _cell("; ".join(part for part in parts if part))

    def fields(self, schema: Json) -> list[str]:
        """An object schema's fields as a table (nothing for other shapes)."""
        schema = self._resolve(schema)
        properties: Json = schema.get("properties", {})
        if not properties:
            return []
        required = set(schema.get("required", ()))
        rows = ["| field | type | required | notes |", "|---|---|---|---|"]
        for name, field in properties.items():
            rows.append(f"| `{name}` | {_cell(self.type_of(field))} | "
                        f"{'yes' if name in required else 'no'} | {self.notes(field)} |")
        return rows

    def content(self, content: Json) -> Iterator[str]:
        """Each media type of a body or an answer: its type, then its fields (inline, so the
        schema is named without a link to the list at the end)."""
        for media, entry in content.items():
            schema = entry.get("schema", {})
            kind = (f"`{_ref_name(schema['$ref'])}`" if "$ref" in schema
                    else self.type_of(schema))
            yield f"`{media}`: {kind}"
            table = self.fields(schema)
            if table:
                yield ""
                yield from table

    def operation(self, path: str, method: str, op: Json, shared: list[Json]) -> Iterator[str]:
        yield f"### `{method.upper()} {path}`"
        yield ""
        yield op.get("summary", op.get("operationId", "")) + "."
        if op.get("description"):
            yield ""
            yield _line(op["description"])
        if op.get("security") == []:
            yield ""
            yield "No API key needed."
        parameters = [self._resolve(p) for p in (*shared, *op.get("parameters", ()))]
        if parameters:
            yield ""
            yield "Parameters:"
            yield ""
            yield "| name | in | type | required | notes |"
            yield "|---|---|---|---|---|"
            for parameter in parameters:
                schema = parameter.get("schema", {})
                yield (f"| `{parameter['name']}` | {parameter['in']} | "
                       f"{_cell(self.type_of(schema))} | "
                       f"{'yes' if parameter.get('required') else 'no'} | "
                       f"{self.notes(schema, parameter.get('description', ''))} |")
        body = op.get("requestBody")
        if body is not None:
            lines = list(self.content(body["content"]))
            yield ""
            yield f"Request body ({'required' if body.get('required') else 'optional'}): " \
                  f"{lines[0]}"
            yield from lines[1:]
        yield ""
        yield "Answers:"
        for status, answer in op.get("responses", {}).items():
            if "$ref" in answer:
                name = _ref_name(answer["$ref"])
                yield f"- `{status}` {name}: see [errors](#errors)."
                continue
            lines = list(self.content(answer.get("content", {})))
            head = f"- `{status}` {answer.get('description', '')}"
            yield head + (f", {lines[0]}" if lines else "")
            if len(lines) > 1:  # a blank line, then the table, indented under its item
                yield from ("  " + line if line else "" for line in lines[1:])
                yield ""
        yield ""

    def render(self) -> str:
        info = self.doc.get("info", {})
        out = [
            f"# {info.get('title', 'API')} reference",
            "",
            "<!-- Generated from the OpenAPI document by `parcours api-docs`: do not edit. -->",
            "",
            "Every route of JSON API v1, rendered from its OpenAPI document "
            "(`GET /api/v1/openapi.json`). [api.md](api.md) explains authentication, filters, "
            f"pagination and errors. After changing a route, run `{COMMAND}`.",
            "",
            "Routes need an API key as a bearer token (`Authorization: Bearer prc_...`) unless "
            "they say otherwise.",
            "",
        ]
        out += self._errors()
        paths: Json = self.doc.get("paths", {})
        for tag in self.doc.get("tags", ()):
            operations = [(path, method, item[method], item.get("parameters", []))
                          for path, item in paths.items() for method in _METHODS
                          if method in item and tag["name"] in item[method].get("tags", ())]
            if not operations:
                continue
            out += [f"## {tag['name']}", "", _cell(tag.get("description", "")) + ".", ""]
            for path, method, op, shared in operations:
                out += list(self.operation(path, method, op, shared))
        out += self._schemas()
        return "\n".join(out).rstrip() + "\n"

    def _errors(self) -> list[str]:
        responses: Json = self.doc.get("components", {}).get("responses", {})
        out = ["## Errors", "", "Every error answer has the same body, "
               "`{\"error\": {\"message\": ..., \"fields\": ...}}`:", ""]
        out += self.fields(self.schemas.get("ErrorDetail", {}))
        out += ["", "| answer | meaning |", "|---|---|"]
        out += [f"| {name} | {_cell(response.get('description', ''))} |"
                for name, response in responses.items()]
        return [*out, ""]

    def _schemas(self) -> list[str]:
        """Every schema a field points to, and the ones those point to, by name."""
        sections: dict[str, list[str]] = {}
        while pending := self.linked - set(sections):
            for name in pending:
                schema = self.schemas[name]
                table = self.fields(schema)  # may link more schemas: the loop goes on
                sections[name] = [
                    f'<a id="{_anchor(name)}"></a>', "", f"### {name}", "",
                    *(table or [f"{self.type_of(schema)}. {self.notes(schema)}".strip()]), ""]
        if not sections:
            return []
        return ["## Schemas", "", *(line for name in sorted(sections)
                                    for line in sections[name])]


def render(document: Json) -> str:
    """The Markdown reference of an OpenAPI document (as `parcours.openapi.document` builds)."""
    return _Renderer(document).render()


@click.command("api-docs")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help=f"write the reference to this file (the repository's is {REFERENCE}); "
                   "default: standard output")
def api_docs(output: Path | None) -> None:
    """Render the JSON API reference (Markdown) from the API's OpenAPI document."""
    from parcours.openapi import document

    text = render(document(load_app(check=False)))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
