"""Parcours for any WSGI shop (Django, Pyramid, Bottle...): `parcours.wsgi.ParcoursMiddleware`.

    # Django, wsgi.py
    application = ParcoursMiddleware(get_wsgi_application(), store_key="my-shop",
                                     url="https://parcours.example.com", inject=True)

It serves what the Flask extension serves, under the same prefix (default `/parcours`): the
beacon's `collect` route, and with an embedded engine the widget scripts and routes. It does
so with the extension itself, on a small Flask app of its own mounted at the prefix, so both
behave alike to the byte. Around it, the shop's app is untouched, except that `inject=True`
adds the loader tag before `</body>` of its HTML pages (the page's facts then come from the
page: `<body data-parcours-page="product">`, mounts' `data-product-id` and `data-price`).
`loader_tag(environ, **facts)` renders the tag for a template instead (Django: `request.META`
is the environ).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Flask
from markupsafe import Markup
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wsgi import get_current_url

from parcours.embedded import JourneyEngine
from parcours.errors import ConfigError
from parcours.flask import DEFAULT_PREFIX, Parcours, ShopState, shop_state
from parcours.sdk import Client

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["ParcoursMiddleware"]

_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HEADERS = list[tuple[str, str]]


class ParcoursMiddleware:
    """Wraps a WSGI app: Parcours' routes under `prefix`, everything else to the app.

    The settings are the Flask extension's (`PARCOURS_*` names, from the environment when not
    given here): `store_key`, `url` (the Parcours server) and `secret` (server-side events
    through `track`), or an embedded `engine`; `first_party` sends the loader's beacon through
    this middleware's `collect` route.
    """

    def __init__(self, app: WSGIApplication, *, store_key: str | None = None,
                 url: str | None = None, secret: str | None = None,
                 engine: JourneyEngine | None = None, client: Client | None = None,
                 prefix: str = DEFAULT_PREFIX, first_party: bool | None = None,
                 inject: bool = False) -> None:
        self.prefix = "/" + prefix.strip("/")
        if self.prefix == "/":
            raise ConfigError("prefix: a path of its own, such as /parcours")
        inner = Flask("parcours.wsgi")
        given = {"STORE_KEY": store_key, "URL": url, "SECRET": secret,
                 "FIRST_PARTY": first_party}
        inner.config.update({f"PARCOURS_{k}": v for k, v in given.items() if v is not None})
        inner.config["PARCOURS_PREFIX"] = ""  # mounted at the prefix: its routes start there
        self.extension = Parcours(inner, engine=engine, client=client)
        self.state: ShopState = shop_state(inner)
        self.app = app
        self.inject = inject
        self._dispatch = DispatcherMiddleware(app, {self.prefix: inner})

    def loader_tag(self, environ: WSGIEnvironment, **facts: Any) -> Markup:
        """The loader tag for the page of this request (`page_facts`' arguments)."""
        root = get_current_url(environ, root_only=True).rstrip("/")
        return self.state.loader(root + self.prefix, **facts)

    def track(self, name: str, **event: Any) -> None:
        """A server-side event (`Client.track`'s arguments), as `Parcours.track`."""
        self.state.track(name, **event)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not self.inject or path == self.prefix or path.startswith(self.prefix + "/"):
            return self._dispatch(environ, start_response)
        return self._injected(environ, start_response)

    def _injected(self, environ: WSGIEnvironment, start_response: StartResponse
                  ) -> Iterator[bytes]:
        """The app's answer, with the loader tag in its HTML pages.

        Other answers (JSON, files, compressed or streamed bodies) pass through untouched, as
        they come; an HTML page is held whole (pages are small) to insert the tag and set its
        Content-Length again. A generator, so that an app calling start_response late, on its
        first chunk, is served as well as one calling it at once.
        """
        held: dict[str, Any] = {}

        def capture(status: str, headers: _HEADERS, exc_info: Any = None) -> Any:
            if _is_page(status, headers):
                held.update(status=status, headers=headers)
                return lambda data: held.setdefault("written", []).append(data)
            held.clear()
            return start_response(status, headers, exc_info)

        body = self._dispatch(environ, capture)
        try:
            chunks: list[bytes] = []
            for chunk in body:
                if "status" in held:
                    chunks.append(chunk)
                else:
                    yield chunk
            if "status" not in held:
                return
            page = b"".join([*held.get("written", []), *chunks])
            page = _with_tag(page, str(self.loader_tag(environ)).encode())
            headers = [(k, v) for k, v in held["headers"] if k.lower() != "content-length"]
            start_response(held["status"], [*headers, ("Content-Length", str(len(page)))])
            yield page
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def _is_page(status: str, headers: _HEADERS) -> bool:
    """A whole, uncompressed HTML page: what a tag may be inserted into."""
    names = {k.lower(): v for k, v in headers}
    return (status.startswith("200") and "content-encoding" not in names
            and names.get("content-type", "").split(";")[0].strip().lower() == "text/html")


def _with_tag(page: bytes, tag: bytes) -> bytes:
    """The tag before the page's last `</body>`, else at its end (browsers accept both)."""
    ends = list(_BODY_END.finditer(page))
    if not ends:
        return page + tag
    at = ends[-1].start()
    return page[:at] + tag + page[at:]
