"""A stand-in for the app's endpoints in tests of the fake: it records every request it gets
and answers with the status the test sets (`receiver.statuses` for the next requests, then
`receiver.status`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import make_server


@dataclass
class Receiver:
    status: int = 200
    statuses: list[int] = field(default_factory=list)  # answers for the next requests
    received: list[dict[str, Any]] = field(default_factory=list)  # headers: case-insensitive
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]


@contextmanager
def receiving() -> Iterator[tuple[Receiver, str]]:
    """Serve a recorder on a free loopback port; yields (receiver, origin)."""
    receiver = Receiver()
    app = Flask("fake_woocommerce_receiver")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
    def record(path: str) -> Response:
        with receiver.lock:
            receiver.received.append({"path": "/" + path, "method": request.method,
                                      "headers": CaseInsensitiveDict(request.headers),
                                      "body": request.get_data(), "args": request.args.to_dict()})
            status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
        return Response("ok", status)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
