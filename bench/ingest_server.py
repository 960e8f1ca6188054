"""The servers `parcours bench ingest` measures: `real` (the app) or `bare` (200 and nothing).

Run as `python -m parcours.bench.ingest_server real|bare PORT WORKERS`; both get the same
gunicorn configuration, so the difference is the app's own work.
"""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask

from parcours.server import GunicornApp


def bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/shopify")
    def webhook() -> Any:
        return {"ok": True}

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    kind, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    GunicornApp({"bind": f"127.0.0.1:{port}", "workers": workers, "backlog": 2048,
                 "loglevel": "warning"}, bare_app if kind == "bare" else None).run()
