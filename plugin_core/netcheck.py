"""Whether Parcours may call an address that someone else chose (SSRF).

A store URL (WooCommerce) or a store's review webhook URL is typed by a merchant, an agency or
whoever starts a connection, and Parcours' server then sends requests there. Pointing it at
loopback, a private network, link-local (cloud metadata) or any reserved range would let them
make Parcours probe its own network. The check resolves the name each time a call is about to be
made, so a name later re-pointed at a private address is refused then too.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["address_problem"]


def address_problem(host: str, port: int) -> str | None:
    """Why `host` must not be called (it does not resolve, or one of its addresses is not a
    public one), or None when every address it resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"{host} does not resolve"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"{host} resolves to {address}, which is not a public address"
    return None
