"""The OpenAPI 3.1 document of JSON API v1, built from the app's own routes.

Every route of the `api_v1` blueprint is declared with `parcours.api.route`, which attaches an
`Operation` to its view: tag, query and body schemas (api_schemas.py), answer schema and status,
whether it is public. The same schemas load the route's input, so the document describes what
is enforced. `document(app)` walks the app's URL rules under /api/v1 (once per app, on first
use), and renders each operation with apispec's MarshmallowPlugin: summary and description come
from the view's docstring, path parameters from the rule, and the error answers (401, 404, 422,
429, one error body) from what the operation can meet. A rule without an Operation stops the
build: an undocumented route fails the tests (tests/test_openapi.py) instead of going unseen.

To add a route: declare it with `route(...)` in api.py (whose docstring shows how); nothing
here changes, unless the route needs a new tag (TAGS) or a new path parameter's description
(PATH_PARAMETERS).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema
from werkzeug.routing import Rule

from parcours import __version__
from parcours.api_schemas import ErrorAnswer

__all__ = ["TAGS", "Operation", "document"]

PREFIX = "/api/v1"
_EXTENSION = "parcours.openapi"
# An answer: a schema (JSON), or per media type a schema or a raw JSON Schema (a file).
Answer = type[Schema] | Mapping[str, type[Schema] | Mapping[str, Any]]

TAGS = {
    "reports": "Funnel, stages, KPIs, segments, experiments, friction and drop-offs of a "
               "store, read from rollups",
    "profiles": "One shopper's journeys and events",
    "events": "Event intake from any stack",
    "privacy": "Customer data requests and redactions (GDPR)",
    "stores": "A store's lifecycle",
    "reviews": "Reviews, moderation, replies, review KPIs, settings and exports",
    "account": "Every store of the key's scope side by side, and the account's audit log",
    "meta": "This document",
}
PATH_PARAMETERS = {
    "store": "the store's key, as created (`parcours stores add`)",
    "profile_id": "a profile's id (from events or exports)",
    "request_id": "the data request's id, as its creation answered",
    "review_id": "a review's id",
    "order_id": "the platform's order id",
    "dimension": "a segment dimension: returning, device, channel or country",
}
ERRORS = {
    401: ("Unauthorized", "no API key, or a malformed, unknown or revoked one"),
    403: ("Forbidden", "the key's role may not do this: an analyst key changes nothing, only "
                       "an owner key uninstalls a store"),
    404: ("NotFound", "no such store for this key (another account's store, or one out of the "
                      "key's scope, is not found either), or no such record in it"),
    413: ("ContentTooLarge", "the body is over the server's limit "
                             "(`PARCOURS_MAX_CONTENT_LENGTH`, 5 MiB by default)"),
    422: ("Unprocessable", "invalid input: `error.fields` names each bad field"),
    429: ("TooManyRequests", "the account's request rate was exceeded: retry after "
                             "`Retry-After` seconds"),
}


@dataclass(frozen=True)
class Operation:
    """What the document says about one route (and what `api.route` loads for it)."""

    tag: str
    answer: Answer | None = None
    status: int = 200
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    load_body: bool = True  # False: the route reads the raw body itself (events, settings)
    body_required: bool = True
    public: bool = False
    notes: str = ""  # appended to the docstring's description
    errors: tuple[int, ...] = field(default=())  # beyond those the operation implies

    def __post_init__(self) -> None:
        if self.tag not in TAGS:
            raise ValueError(f"unknown tag {self.tag!r}: add it to openapi.TAGS")

    def render(self, endpoint: str, doc: str | None, path_parameters: bool) -> dict[str, Any]:
        summary, _, description = inspect.cleandoc(doc or endpoint).partition("\n")
        description = " ".join((description.strip(), self.notes)).strip()
        out: dict[str, Any] = {"operationId": endpoint, "tags": [self.tag],
                               "summary": summary.strip().rstrip("."),
                               "responses": {str(self.status): self._answer()}}
        if description:
            out["description"] = description
        if self.query is not None:
            out["parameters"] = [{"in": "query", "schema": self.query}]
        if self.body is not None:
            out["requestBody"] = {"required": self.body_required,
                                  "content": {"application/json": {"schema": self.body}}}
        if self.public:
            out["security"] = []
        statuses = set(self.errors)
        statuses |= set() if self.public else {401, 429}
        statuses |= {404} if path_parameters else set()
        statuses |= {422} if self.query is not None or self.body is not None else set()
        statuses |= {413} if self.body is not None else set()
        for status in sorted(statuses):
            out["responses"][str(status)] = ERRORS[status][0]
        return out

    def _answer(self) -> dict[str, Any]:
        description = {200: "OK", 201: "Created", 202: "Accepted"}.get(self.status, "Done")
        if self.answer is None:
            return {"description": description}
        media = (self.answer if isinstance(self.answer, Mapping)
                 else {"application/json": self.answer})
        return {"description": description,
                "content": {kind: {"schema": schema} for kind, schema in media.items()}}


_PARAMETER = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """The rule as an OpenAPI path template, and its path parameters."""
    parameters = []
    for match in _PARAMETER.finditer(rule.rule):
        name, converter = match["name"], match["converter"] or "string"
        schema: dict[str, Any] = ({"type": "integer", "minimum": 0} if converter == "int"
                                  else {"type": "string"})
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema,
                           "description": PATH_PARAMETERS.get(name, name)})
    return _PARAMETER.sub(r"{\g<name>}", rule.rule), parameters


def _never_null(parameters: list[dict[str, Any]]) -> None:
    """An optional query parameter is loaded with `load_default=None`, which apispec renders
    as a nullable type with a null default; in a query string a parameter is absent, never
    null, so say just that."""
    for parameter in parameters:
        schema = parameter.get("schema", {})
        if schema.get("default", 0) is None:
            del schema["default"]
        if isinstance(schema.get("type"), list):
            types = [kind for kind in schema["type"] if kind != "null"]
            schema["type"] = types[0] if len(types) == 1 else types
        if "enum" in schema:
            schema["enum"] = [value for value in schema["enum"] if value is not None]


def build(app: Flask) -> dict[str, Any]:
    """The document of the app's /api/v1 routes; TypeError naming a route without Operation."""
    public_url = app.config.get("PUBLIC_URL")
    spec = APISpec(
        title="Parcours API", version=__version__, openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Customer-journey reports, event intake, privacy requests and "
                             "reviews of the stores an API key's account owns. docs/api.md "
                             "describes authentication, filters, pagination and errors.",
              "license": {"name": "MIT", "identifier": "MIT"}},
        servers=[{"url": str(public_url).rstrip("/") if public_url else "/"}],
        tags=[{"name": name, "description": text} for name, text in TAGS.items()],
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "an API key, `prc_<prefix>_<secret>` (`parcours keys create`)"})
    spec.components.schema("Error", schema=ErrorAnswer)
    for name, text in ERRORS.values():
        response: dict[str, Any] = {"description": text, "content": {
            "application/json": {"schema": "Error"}}}
        if name == "TooManyRequests":
            response["headers"] = {"Retry-After": {
                "description": "seconds to wait", "schema": {"type": "integer"}}}
        spec.components.response(name, response)
    paths: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        operation = getattr(view, "operation", None)
        if not isinstance(operation, Operation):
            raise TypeError(f"route {rule.rule} ({rule.endpoint}) has no Operation: declare it "
                            "with parcours.api.route so that the API document describes it")
        path, parameters = _path(rule)
        operations = paths.setdefault(path, (parameters, {}))[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = operation.render(
                rule.endpoint.removeprefix("api_v1."), view.__doc__, bool(parameters))
    for path, (parameters, operations) in paths.items():
        spec.path(path=path, parameters=parameters, operations=operations)
    built = spec.to_dict()
    for operations in built["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                _never_null(operation.get("parameters", []))
    return built


def document(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use (every blueprint is registered by then)."""
    built: dict[str, Any] | None = app.extensions.get(_EXTENSION)
    if built is None:
        built = app.extensions[_EXTENSION] = build(app)
    return built
