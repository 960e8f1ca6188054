"""The Flask extension for custom shops: `from parcours.flask import Parcours`.

    app = Flask(__name__)
    app.config["PARCOURS_STORE_KEY"] = "my-shop"
    app.config["PARCOURS_URL"] = "https://parcours.example.com"
    parcours = Parcours(app)            # or Parcours() then parcours.init_app(app)

    {{ parcours_loader(page="product", product=product.id, price=product.price) }}

What it adds to the shop:

- `parcours_loader(...)`, a Jinja global: the widget loader's tag with the page's facts (page
  type, product, price, language, currency, the signed-in customer), as the WordPress plugin
  prints it;
- `POST <PARCOURS_PREFIX>/collect` (default `/parcours/collect`): the storefront beacon on the
  shop's own origin. With a Parcours server it forwards each batch to the server's `/collect`;
  with an embedded `JourneyEngine` it records it in this process. `PARCOURS_FIRST_PARTY`
  points the loader's beacon at it (no third-party request for blockers to drop);
- `parcours.track(...)`: server-side events (an order paid), sent by a `parcours.Client` signed
  with `PARCOURS_SECRET`, or recorded by the embedded engine.

With an embedded engine (`Parcours(app, engine=JourneyEngine(...))`, or
`PARCOURS_ENGINE_URL`), there is no Parcours server at all: the shop also serves the widget
scripts, its widget config and the widgets' routes (estimates, reviews) under the prefix,
and limits each address's beacons as `/collect` does (`PARCOURS_COLLECT_RATE_PER_IP`,
`PARCOURS_COLLECT_BURST_PER_IP`).

Settings come from `app.config`, else from the environment, all prefixed `PARCOURS_`; the
secret belongs in the environment, never in code. Importing this module imports Flask; the
`parcours` package itself does not.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from parcours.embedded import JourneyEngine
from parcours.errors import ConfigError, ValidationError
from parcours.recorder import RecordResult
from parcours.sdk import Client
from parcours.segments import BOTS
from parcours.webhooks.collect import MAX_BODY, MAX_USER_AGENT, Limits, parse_batch
from parcours.widgets.routes import config_for, widgets_blueprint

if TYPE_CHECKING:
    import requests

__all__ = ["FORWARD_TIMEOUT", "Parcours", "ShopState", "loader_tag", "page_facts",
           "parcours_loader", "shop_state"]

EXTENSION = "parcours"
DEFAULT_PREFIX = "/parcours"
# (connect, read) seconds when forwarding a beacon: a slow Parcours server must not hold the
# shop's worker (the browser does not wait for the answer of a beacon anyway).
FORWARD_TIMEOUT = (3.05, 5.0)


def loader_tag(inline: Mapping[str, Any], script: str) -> Markup:
    """The config the loader reads (`window.ParcoursConfig`, JSON made safe inside a script
    element) and the deferred loader script, as the WordPress plugin prints them."""
    return Markup(
        "<script>window.ParcoursConfig = window.ParcoursConfig || {config};</script>\n"
        '<script defer src="{src}" data-store="{store}" data-parcours="loader"></script>'
    ).format(config=htmlsafe_json_dumps(dict(inline)), src=script,
             store=inline.get("store", ""))


def page_facts(page: str | None = None, product: str | None = None,
               price: Decimal | float | str | None = None, lang: str | None = None,
               currency: str | None = None, country: str | None = None,
               customer_id: str | int | None = None) -> dict[str, Any]:
    """A page's part of the widget config (docs/widgets.md): what only the shop knows."""
    facts: dict[str, Any] = {}
    for name, value in (("page", page), ("lang", lang), ("currency", currency),
                        ("country", country)):
        if value is not None:
            facts[name] = str(value)
    if product is not None:
        facts["product"] = {"id": str(product), **({} if price is None else {"price": str(price)})}
    if customer_id is not None:  # the loader adds it to every event: the profiles stitch
        facts["shopper"] = {"customer_id": str(customer_id)}
    return facts


@dataclass
class ShopState:
    """What `init_app` resolved for one app: `app.extensions["parcours"]`."""

    store_key: str
    prefix: str
    url: str | None = None  # the Parcours server; None with an embedded engine
    engine: JourneyEngine | None = None
    client: Client | None = None
    first_party: bool = False
    limits: Limits | None = None
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def loader(self, base: str, **facts: Any) -> Markup:
        """The loader tag for a page of the shop whose Parcours routes live at `base` (the
        shop's root URL and the prefix). `facts`: `page_facts`' arguments."""
        inline: dict[str, Any]
        if self.engine is not None:  # the whole config inline: nothing to fetch first
            with self.engine.database.read() as conn:
                inline = config_for(conn, self.store_key, base)
            origin = base
        else:
            assert self.url is not None
            inline, origin = {"origin": self.url, "store": self.store_key}, self.url
            if self.first_party:
                inline["collect"] = f"{base}/collect"
        inline.update(page_facts(**facts))
        return loader_tag(inline, f"{origin}/widgets/loader.js")

    def track(self, name: str, *, identities: Mapping[str, str] | None = None,
              anonymous_id: str | None = None, customer_id: str | None = None,
              email: str | None = None, properties: Mapping[str, Any] | None = None,
              occurred_at: datetime | None = None, key: str | None = None) -> None:
        """A server-side event (`Client.track`'s arguments): recorded now by the embedded
        engine, or queued for the Parcours server (PARCOURS_SECRET)."""
        target: JourneyEngine | Client
        if self.engine is not None:
            target = self.engine
        elif self.client is not None:
            target = self.client
        else:
            raise ConfigError("PARCOURS_SECRET: the store's whsec_ secret (`parcours secrets "
                              "webhook <store>`) is needed to send server-side events")
        target.track(name, identities=identities, anonymous_id=anonymous_id,
                     customer_id=customer_id, email=email, properties=properties,
                     occurred_at=occurred_at, key=key)

    def forward(self, body: bytes) -> Response:
        """The beacon's batch to the Parcours server's `/collect`, as the browser sent it: its
        Origin and User-Agent (the server checks the one and derives the device from the
        other); the server's answer back, or 502 when it cannot be reached."""
        import requests

        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:  # one per thread: pooled connections, no sharing between threads
            session = self._local.session = requests.Session()
        headers = {"Content-Type": request.content_type or "text/plain",
                   "User-Agent": request.headers.get("User-Agent", "")[:MAX_USER_AGENT]}
        if request.headers.get("Origin"):
            headers["Origin"] = request.headers["Origin"]
        try:
            answer = session.post(f"{self.url}/collect", data=body, headers=headers,
                                  timeout=FORWARD_TIMEOUT, allow_redirects=False)
        except requests.RequestException:
            return _refusal(502, "the Parcours server cannot be reached")
        response = Response(answer.content, status=answer.status_code,
                            content_type=answer.headers.get("Content-Type"))
        if "Retry-After" in answer.headers:
            response.headers["Retry-After"] = answer.headers["Retry-After"]
        return response

    def record(self, body: bytes) -> Response:
        """The beacon's batch into the embedded engine, with `/collect`'s checks: crawlers
        ignored, a foreign Origin refused, a rate limit per address, the whole batch valid."""
        assert self.engine is not None and self.limits is not None
        agent = request.headers.get("User-Agent", "")[:MAX_USER_AGENT]
        if BOTS.search(agent):
            return _accepted(0, duplicate=False)
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            return _refusal(403, f"origin {origin!r} is not this shop's")
        wait = self.limits.per_ip.wait_for(request.remote_addr or "")
        if wait:
            response = _refusal(429, "too many requests from this address")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        key, records = parse_batch(body)
        if key != self.store_key:
            return _refusal(404, f"no store {key!r}")
        result: RecordResult = self.engine.process(records, user_agent=agent)
        return _accepted(len(records), duplicate=not result.recorded and bool(result.duplicates))


def _refusal(status: int, message: str, fields: Mapping[str, Any] | None = None) -> Response:
    """`/collect`'s error body: `{"error": {"message", "fields"?}}`."""
    body: dict[str, Any] = {"message": message}
    if fields:
        body["fields"] = dict(fields)
    response = jsonify(error=body)
    response.status_code = status
    return response


def _accepted(count: int, *, duplicate: bool) -> Response:
    response = jsonify(accepted=count, duplicate=duplicate)
    response.status_code = 202
    return response


def shop_state(app: Flask | None = None) -> ShopState:
    """The extension's state of `app` (default: the current app)."""
    state = (app or current_app).extensions.get(EXTENSION)
    if not isinstance(state, ShopState):
        raise ConfigError("Parcours is not set up on this app: Parcours(app) first")
    return state


collect_blueprint = Blueprint("parcours", __name__)


@collect_blueprint.post("/collect")
def collect() -> Response:
    """The storefront beacon's batch (`{"key", "events"}`, any content type, as `/collect`)."""
    state = shop_state()
    request.max_content_length = MAX_BODY
    try:
        body = request.get_data(cache=False)
        if state.engine is None:
            return state.forward(body)
        return state.record(body)
    except RequestEntityTooLarge:
        return _refusal(413, f"a batch is at most {MAX_BODY} bytes")
    except ValidationError as exc:
        return _refusal(400, str(exc.args[0]), exc.errors)


def parcours_loader(**facts: Any) -> Markup:
    """The loader tag for the current page (the `parcours_loader` Jinja global); `facts` are
    `page_facts`' arguments: page, product, price, lang, currency, country, customer_id."""
    state = shop_state()
    return state.loader(request.url_root.rstrip("/") + state.prefix, **facts)


def _setting(app: Flask, name: str, default: Any = None) -> Any:
    """`PARCOURS_<name>` from the app's config, else from the environment."""
    key = f"PARCOURS_{name}"
    if app.config.get(key) is not None:
        return app.config[key]
    return os.environ.get(key, default)


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


class Parcours:
    """Parcours in a Flask shop; one instance may serve several apps (`init_app`).

    `engine`: an embedded `JourneyEngine` (no Parcours server); `client`: a `parcours.Client`
    of your own making (its options), instead of the one built from `PARCOURS_SECRET`.
    """

    def __init__(self, app: Flask | None = None, *, engine: JourneyEngine | None = None,
                 client: Client | None = None) -> None:
        self._engine = engine
        self._client = client
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        engine = self._engine
        if engine is None and _setting(app, "ENGINE_URL"):
            engine = JourneyEngine(str(_setting(app, "ENGINE_URL")),
                                   str(_setting(app, "STORE_KEY") or "shop"))
        key = _setting(app, "STORE_KEY") or (engine.store_key if engine else None)
        if not key:
            raise ConfigError("PARCOURS_STORE_KEY: the store's key (`parcours stores add`)")
        if engine is not None and engine.store_key != key:
            raise ConfigError(f"PARCOURS_STORE_KEY is {key!r} but the engine records the "
                              f"store {engine.store_key!r}")
        prefix = "/" + str(_setting(app, "PREFIX", DEFAULT_PREFIX)).strip("/")
        prefix = "" if prefix == "/" else prefix
        state = ShopState(store_key=str(key), prefix=prefix, engine=engine,
                          first_party=_flag(_setting(app, "FIRST_PARTY", False)))
        if engine is not None:
            # The widgets' own routes, served from the engine's database (Parcours' blueprint,
            # under the shop's prefix and a name of its own).
            app.extensions["parcours.db"] = engine.database
            app.register_blueprint(widgets_blueprint, url_prefix=prefix or None,
                                   name="parcours_widgets")
            prefixed = {k.removeprefix("PARCOURS_"): v for k, v in app.config.items()
                        if k.startswith("PARCOURS_COLLECT_")}
            state.limits = Limits.from_config(prefixed)
        else:
            url = str(_setting(app, "URL") or "").rstrip("/")
            if not url.startswith(("http://", "https://")):
                raise ConfigError("PARCOURS_URL: the Parcours server, such as "
                                  "https://parcours.example.com (or give an embedded engine)")
            state.url = url
            secret = _setting(app, "SECRET")
            state.client = self._client or (
                Client(state.store_key, str(secret), url=url, debug=app.debug)
                if secret else None)
        app.register_blueprint(collect_blueprint, url_prefix=prefix or None)
        app.extensions[EXTENSION] = state
        app.jinja_env.globals["parcours_loader"] = parcours_loader

    # -- the current app's, for views ----------------------------------------------------------
    def track(self, name: str, **event: Any) -> None:
        """`ShopState.track` on the current app: a server-side event (an order paid)."""
        shop_state().track(name, **event)

    @property
    def engine(self) -> JourneyEngine | None:
        """The current app's embedded engine (read its KPIs), or None."""
        return shop_state().engine

    def __repr__(self) -> str:
        return "<parcours.flask.Parcours>" if self._engine is None else (
            f"<parcours.flask.Parcours {self._engine!r}>")
