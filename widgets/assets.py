"""The storefront scripts: sources in widgets/js/, served minified (rjsmin), with their sizes.

Minified once per process from the installed sources, so a deployment serves exactly what the
budget test measured. Budgets (minified + gzip, DESIGN.md): the loader 2 KB, each widget 3 KB,
all together 10 KB.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import rjsmin

from parcours.errors import NotFoundError

__all__ = ["BUDGETS", "JS_DIR", "KIT", "LOADER", "Asset", "asset", "asset_names"]

JS_DIR = Path(__file__).parent / "js"
LOADER = "loader"
KIT = "kit"  # what every widget shares; the loader loads it before the first widget
BUDGETS = {"loader": 2 * 1024, "widget": 3 * 1024, "total": 10 * 1024}


@dataclass(frozen=True)
class Asset:
    name: str
    raw: int  # bytes of the source
    body: bytes  # minified
    etag: str

    @functools.cached_property
    def gzipped(self) -> bytes:
        """The body as served to browsers that accept gzip (all of them): what the budgets
        measure. mtime=0: the same bytes on every server, so one ETag fits all."""
        return gzip.compress(self.body, compresslevel=9, mtime=0)

    @property
    def gzip(self) -> int:
        return len(self.gzipped)


def asset_names() -> list[str]:
    return sorted(path.stem for path in JS_DIR.glob("*.js"))


@functools.cache
def asset(name: str) -> Asset:
    """The minified script `name` (NotFoundError for anything not in widgets/js/)."""
    if name not in asset_names():
        raise NotFoundError(f"no widget script {name!r}")
    source = (JS_DIR / f"{name}.js").read_text(encoding="utf-8")
    if name == LOADER:  # it loads only the widget scripts that exist here
        scripts = [other for other in asset_names() if other not in (LOADER, KIT)]
        source = source.replace("/*SCRIPTS*/[]", json.dumps(scripts))
    body = rjsmin.jsmin(source).encode()
    return Asset(name, len(source.encode()), body,
                 '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
