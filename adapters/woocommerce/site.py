"""Which store URLs Parcours calls: https, public, nothing else.

A store URL comes from whoever starts a connection (`/woocommerce/connect?store_url=…`) or from an
agency's CLI, and Parcours' server then sends requests there with the store's keys. So in
production mode it must be https (WooCommerce's own Basic-auth rule, and the keys travel in every
request) and resolve only to public addresses: a URL pointing at loopback, a private network,
link-local (cloud metadata) or any reserved range would let anyone make Parcours probe its own
network (SSRF). `PARCOURS_WOOCOMMERCE_LOCAL_STORES=true` lifts both rules for a store on the
developer's machine or LAN (plain http then uses OAuth 1.0a, as WooCommerce requires).

The address check runs when the URL is accepted and again whenever a client is built for it, so
a name later re-pointed at a private address is refused then too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from parcours.adapters.woocommerce.errors import StoreURLError
from parcours.netcheck import address_problem

__all__ = ["allow_local", "normalise_store_url"]


def allow_local(config: Mapping[str, Any]) -> bool:
    value = config.get("WOOCOMMERCE_LOCAL_STORES", False)
    return value is True or str(value).lower() in ("1", "true", "yes")


def _refuse(why: str) -> StoreURLError:
    return StoreURLError("this store URL cannot be connected", {"store_url": [why]})


def _check_addresses(host: str, port: int) -> None:
    problem = address_problem(host, port)
    if problem:
        raise _refuse(problem)


def normalise_store_url(url: str | None, *, local: bool = False) -> str:
    """The store's base URL (scheme, host, port, path; no trailing slash), or StoreURLError
    naming the problem. `local` allows http and non-public addresses."""
    text = (url or "").strip()
    if not text:
        raise _refuse("required")
    if len(text) > 2000 or any(ord(c) < 33 for c in text):
        raise _refuse("not a URL")
    parts = urlsplit(text)
    if parts.scheme not in (("https", "http") if local else ("https",)):
        raise _refuse("must start with https://" if not local else "must be an http(s) URL")
    if not parts.hostname or parts.username or parts.password:
        raise _refuse("must be a plain https://host/path URL (no user or password)")
    if parts.query or parts.fragment:
        raise _refuse("must not have a query or a fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse("has an invalid port") from None
    if not local:
        _check_addresses(parts.hostname, port)
    netloc = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
    if ":" in parts.hostname:  # an IPv6 literal keeps its brackets
        netloc = f"[{parts.hostname.lower()}]" + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
