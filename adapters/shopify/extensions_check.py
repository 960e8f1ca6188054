"""Check the Shopify app files (theme app extension, web pixel, app config) before Shopify does.

Shopify refuses some faults at deploy time, far from the change that made them, and lets others
through silently: a missing translation shows its raw key in the theme editor, a pixel that misses
an event leaves a hole in every funnel, a webhook `api_version` that differs from the client's lets
payload shapes drift. `check_extensions` finds them in the tests and names the file. It returns
problems rather than raising: a merchant-facing deploy wants the whole list at once.

The files live in this package (found through `Path(__file__).parent`), so an installed Parcours
checks and ships the same files as a source checkout.
"""

from __future__ import annotations

import gzip
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parcours.adapters.shopify.client import API_VERSION
from parcours.adapters.shopify.normalize import COMPLIANCE_TOPICS
from parcours.adapters.shopify.oauth import SHOPIFY_SCOPES
from parcours.events import STOREFRONT_EVENTS

__all__ = ["DEFAULT_ROOT", "check_extensions", "render_app_config"]

DEFAULT_ROOT = Path(__file__).parent
APP_TEMPLATE = Path("app_config/shopify.app.toml.template")
THEME, PIXEL = Path("extensions/theme"), Path("extensions/pixel")

# Limits. shopify.dev, theme app extension configuration, "File and content size limits":
# Liquid in all blocks and snippets together <= 100 KB; 25 settings per block. Changelog
# 2026-02-03: up to 30 app blocks per extension. Changelog 2022-07-28: 15 KB per locale file.
# Theme Check AssetSizeAppBlockJavaScript / ...CSS: 10_000 / 100_000 bytes compressed per file.
# Shopify CLI (web_pixel_extension.ts): a web pixel bundle <= 128 KB. Parcours' own design: the
# boot script <= 2 KB gzip (it runs on every storefront page).
MAX_LIQUID, MAX_BLOCKS, MAX_SETTINGS, MAX_LOCALE = 100 * 1024, 30, 25, 15 * 1024
MAX_JS_GZIP, MAX_CSS_GZIP, MAX_BOOT_GZIP, MAX_PIXEL = 10_000, 100_000, 2 * 1024, 128 * 1024
BOOT = "parcours-boot.js"

# Folders and file types a theme app extension may hold (Shopify CLI, theme.ts validateFile).
ALLOWED_FILES = {"assets": (".jpg", ".jpeg", ".json", ".js", ".css", ".png", ".svg", ".wasm"),
                 "blocks": (".liquid",), "snippets": (".liquid",), "locales": (".json",)}
TOP_FILES = ("shopify.extension.toml", "package.json")
BUILT = {"node_modules", "dist"}  # what `npm install` and the CLI's build leave in extensions/
# Input and sidebar setting types (Shopify/theme-liquid-docs, schemas/theme/setting.json).
SIDEBAR_TYPES = {"header", "paragraph"}
INPUT_TYPES = {
    "article", "blog", "checkbox", "collection", "collection_list", "color", "color_background",
    "color_scheme", "color_scheme_group", "font_picker", "html", "image_picker", "inline_richtext",
    "link_list", "liquid", "metaobject", "metaobject_list", "number", "page", "product",
    "product_list", "radio", "range", "richtext", "select", "style.layout_panel",
    "style.size_panel", "style.spacing_panel", "text", "text_alignment", "textarea", "url",
    "video", "video_url",
}
BLOCK_TARGETS = {"section"}  # app blocks; app embeds go before </head> or </body>
EMBED_TARGETS = {"head", "body", "compliance_head"}
PROXY_PREFIXES = {"apps", "a", "community", "tools"}  # the prefixes Shopify offers an app proxy

SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.DOTALL)
T_FILTER = re.compile(r"""['"]([\w.-]+)['"]\s*\|\s*t\b""")
ASSET_URL = re.compile(r"""['"]([^'"]+)['"]\s*\|\s*asset_url\b""")
SUBSCRIBE = re.compile(r"""analytics\.subscribe\(\s*['"]([\w.]+)['"]""")
SCRIPT_TAG = re.compile(r"script_?tag", re.IGNORECASE)  # ScriptTag, scriptTagCreate, script_tags
PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")


def render_app_config(template: str, client_id: str, application_url: str) -> str:
    """The template with its placeholders filled; `application_url` is PARCOURS_PUBLIC_URL."""
    values = {"client_id": client_id, "application_url": application_url.rstrip("/")}
    return PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), template)


def _gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def _load(path: Path, problems: list[str], name: str, text: str | None = None) -> Any:
    """The parsed JSON or TOML file (by suffix), or None with the problem recorded."""
    toml = path.suffix in (".toml", ".template")
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
        return tomllib.loads(text) if toml else json.loads(text)
    except (OSError, ValueError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        problems.append(f"{name}: not valid {'TOML' if toml else 'JSON'} ({exc})")
        return None


def _key_paths(data: Any, prefix: str = "") -> Iterator[str]:
    """Every leaf of a locale file as a dotted path ("blocks.review_list.name")."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _key_paths(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            yield from _strings(item)
    elif isinstance(data, str):
        yield data


def _check_setting(setting: Any, where: str, ids: set[str], problems: list[str]) -> None:
    if not isinstance(setting, dict):
        problems.append(f"{where}: a setting must be a JSON object")
        return
    kind = setting.get("type")
    if kind in SIDEBAR_TYPES:
        if not isinstance(setting.get("content"), str):
            problems.append(f"{where}: {kind} setting needs a 'content'")
        return
    if kind not in INPUT_TYPES:
        problems.append(f"{where}: setting type {kind!r} is not a Shopify input setting type")
        return
    sid = setting.get("id")
    if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9_]+", sid):
        problems.append(f"{where}: setting id {sid!r} must be lower-case letters, digits, _")
    elif sid in ids:
        problems.append(f"{where}: setting id {sid!r} is used twice")
    else:
        ids.add(sid)
    if not isinstance(setting.get("label"), str):
        problems.append(f"{where}: setting {sid!r} needs a 'label'")
    default = setting.get("default")
    if kind in ("select", "radio"):
        options: list[Any] = setting.get("options") or []
        values = [o.get("value") for o in options if isinstance(o, dict)
                  and isinstance(o.get("value"), str) and isinstance(o.get("label"), str)]
        if not values or len(values) != len(options):
            problems.append(f"{where}: setting {sid!r} needs options with value and label")
        elif default is not None and default not in values:
            problems.append(f"{where}: setting {sid!r} default {default!r} is not an option")
    elif kind == "range":
        bounds: list[Any] = [setting.get("min"), default, setting.get("max")]
        if not all(isinstance(v, int | float) for v in bounds) or sorted(bounds) != bounds:
            problems.append(f"{where}: range {sid!r} needs numeric min <= default <= max")
    elif kind == "checkbox" and default is not None and not isinstance(default, bool):
        problems.append(f"{where}: checkbox {sid!r} default must be true or false")


def _check_theme(root: Path, problems: list[str]) -> None:
    theme = root / THEME
    config = _load(theme / "shopify.extension.toml", problems, f"{THEME}/shopify.extension.toml")
    if config and (config.get("type") != "theme" or not isinstance(config.get("name"), str)):
        problems.append(f"{THEME}/shopify.extension.toml: needs a name and type = \"theme\"")
    for path in sorted(p for p in theme.rglob("*") if p.is_file()):
        rel = path.relative_to(theme)
        folder = rel.parts[0] if len(rel.parts) == 2 else ""
        if rel.name not in TOP_FILES if len(rel.parts) == 1 \
                else not rel.name.endswith(ALLOWED_FILES.get(folder, ("\0",))):
            problems.append(f"{THEME}/{rel}: not an allowed place or file type for a theme app "
                            f"extension ({', '.join(ALLOWED_FILES)}, {', '.join(TOP_FILES)})")
    locales = {p.name: _load(p, problems, f"{THEME}/locales/{p.name}")
               for p in sorted((theme / "locales").glob("*.json"))}
    for default_name in ("en.default.json", "en.default.schema.json"):
        if default_name not in locales:
            problems.append(f"{THEME}/locales/{default_name}: missing (the default locale)")
    schema_keys = set(_key_paths(locales.get("en.default.schema.json") or {}))
    text_keys = set(_key_paths(locales.get("en.default.json") or {}))
    for name, data in locales.items():
        path = theme / "locales" / name
        if path.stat().st_size > MAX_LOCALE:
            problems.append(f"{THEME}/locales/{name}: {path.stat().st_size} bytes, over 15 KB")
        expected = schema_keys if name.endswith(".schema.json") else text_keys
        if data is None or name.startswith("en.default."):
            continue
        keys = set(_key_paths(data))
        for key in sorted(expected - keys):
            problems.append(f"{THEME}/locales/{name}: missing translation {key!r}")
        for key in sorted(keys - expected):
            problems.append(f"{THEME}/locales/{name}: {key!r} is not in the default locale")
    assets = {p.name for p in (theme / "assets").glob("*")}
    blocks = sorted((theme / "blocks").glob("*.liquid"))
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{THEME}/blocks: {len(blocks)} blocks, over Shopify's {MAX_BLOCKS}")
    liquid = blocks + sorted((theme / "snippets").glob("*.liquid"))
    total = sum(p.stat().st_size for p in liquid)
    if total > MAX_LIQUID:
        problems.append(f"{THEME}: {total} bytes of Liquid in blocks and snippets, over 100 KB")
    for path in liquid:
        name, text = f"{THEME}/{path.parent.name}/{path.name}", path.read_text(encoding="utf-8")
        for key in T_FILTER.findall(text):
            if key not in text_keys and not any(k.startswith(key + ".") for k in text_keys):
                problems.append(f"{name}: storefront text {key!r} missing in en.default.json")
        for asset in ASSET_URL.findall(text):
            if asset not in assets:
                problems.append(f"{name}: asset {asset!r} is not in assets/")
        if path.parent.name == "blocks":
            _check_block(name, text, assets, schema_keys, problems)
    if BOOT not in assets:
        problems.append(f"{THEME}/assets/{BOOT}: missing (the app embed loads it)")
    for path in sorted((theme / "assets").glob("*")):
        limit = MAX_BOOT_GZIP if path.name == BOOT else \
            {".js": MAX_JS_GZIP, ".css": MAX_CSS_GZIP}.get(path.suffix)
        if limit is not None and (size := _gzip_size(path)) > limit:
            problems.append(f"{THEME}/assets/{path.name}: {size} bytes gzip, over the {limit} "
                            f"bytes allowed" + (" (Shopify's limit)" if limit != MAX_BOOT_GZIP
                                                else " (every storefront page loads it)"))


def _check_block(name: str, text: str, assets: set[str], schema_keys: set[str],
                 problems: list[str]) -> None:
    found = SCHEMA.findall(text)
    if len(found) != 1:
        problems.append(f"{name}: needs exactly one {{% schema %}} tag, found {len(found)}")
        return
    try:
        schema = json.loads(found[0])
    except ValueError as exc:
        problems.append(f"{name}: schema is not valid JSON ({exc})")
        return
    if not isinstance(schema, dict):
        problems.append(f"{name}: schema must be a JSON object")
        return
    if not isinstance(schema.get("name"), str) or not schema["name"]:
        problems.append(f"{name}: schema needs a name")
    target, embed = schema.get("target"), name.endswith("/app-embed.liquid")
    if target not in EMBED_TARGETS | (set() if embed else BLOCK_TARGETS):
        problems.append(f"{name}: target {target!r} is not " + (
            "body or head (app embed)" if embed else "section (app block) or body/head (embed)"))
    settings = schema.get("settings", [])
    if not isinstance(settings, list):
        problems.append(f"{name}: schema settings must be a list")
    ids: set[str] = set()
    for setting in settings if isinstance(settings, list) else []:
        _check_setting(setting, name, ids, problems)
    if len(ids) > MAX_SETTINGS:
        problems.append(f"{name}: {len(ids)} settings, over Shopify's {MAX_SETTINGS} per block")
    for field in ("javascript", "stylesheet"):
        if field in schema and schema[field] not in assets:
            problems.append(f"{name}: {field} {schema[field]!r} is not in assets/")
    for value in _strings(schema):
        if value.startswith("t:") and value[2:] not in schema_keys:
            problems.append(f"{name}: {value!r} missing in locales/en.default.schema.json")


def _check_pixel(root: Path, problems: list[str]) -> None:
    pixel = root / PIXEL
    where = f"{PIXEL}/shopify.extension.toml"
    config = _load(pixel / "shopify.extension.toml", problems, where) or {}
    if config:
        if config.get("type") != "web_pixel_extension" or config.get("runtime_context") != "strict":
            problems.append(f"{where}: needs type = \"web_pixel_extension\" and "
                            f"runtime_context = \"strict\" (app pixels run sandboxed)")
        if not isinstance(config.get("customer_privacy"), dict):
            problems.append(f"{where}: needs [customer_privacy] (the consent the pixel requires)")
        fields = (config.get("settings") or {}).get("fields") or {}
        for field in ("endpoint", "store_key"):
            if (fields.get(field) or {}).get("type") != "single_line_text_field":
                problems.append(f"{where}: settings field {field!r} must be a "
                                f"single_line_text_field")
    source = pixel / "src" / "index.js"
    if not source.is_file():
        problems.append(f"{PIXEL}/src/index.js: missing")
        return
    if source.stat().st_size > MAX_PIXEL:
        problems.append(f"{PIXEL}/src/index.js: over the 128 KB web pixel bundle limit")
    subscribed = SUBSCRIBE.findall(source.read_text(encoding="utf-8"))
    for event in sorted(set(STOREFRONT_EVENTS) - set(subscribed)):
        problems.append(f"{PIXEL}/src/index.js: does not subscribe to {event!r}")
    for event in sorted(set(subscribed) - set(STOREFRONT_EVENTS)):
        problems.append(f"{PIXEL}/src/index.js: subscribes to {event!r}, not a Parcours event")
    for event in sorted({e for e in subscribed if subscribed.count(e) > 1}):
        problems.append(f"{PIXEL}/src/index.js: subscribes to {event!r} more than once")


def _check_app_config(root: Path, problems: list[str]) -> None:
    where = str(APP_TEMPLATE)
    try:
        text = render_app_config((root / APP_TEMPLATE).read_text(encoding="utf-8"),
                                 "0" * 32, "https://parcours.example")
    except OSError as exc:
        problems.append(f"{where}: cannot be read ({exc})")
        return
    for left in sorted(set(PLACEHOLDER.findall(text))):
        problems.append(f"{where}: unknown placeholder {{{{{left}}}}}")
    config = _load(root / APP_TEMPLATE, problems, where + " (rendered)", text) or {}
    required = {"name": config.get("name"), "client_id": config.get("client_id"),
                "application_url": config.get("application_url"),
                "embedded": isinstance(config.get("embedded"), bool) or None,
                "[access_scopes] scopes": (config.get("access_scopes") or {}).get("scopes"),
                "[auth] redirect_urls": (config.get("auth") or {}).get("redirect_urls")}
    for key in (key for key, value in required.items() if not value):
        problems.append(f"{where}: needs {key}")
    webhooks = config.get("webhooks") or {}
    if webhooks.get("api_version") != API_VERSION:  # payloads must match what the code reads
        problems.append(f"{where}: webhooks api_version {webhooks.get('api_version')!r} is not "
                        f"the pinned Admin API version {API_VERSION!r}")
    # Shopify-managed install grants these; /shopify/install asks for SHOPIFY_SCOPES: one list.
    scopes = {s.strip() for s in str((config.get("access_scopes") or {}).get("scopes", ""))
              .split(",") if s.strip()}
    if scopes != set(SHOPIFY_SCOPES):
        problems.append(f"{where}: [access_scopes] scopes differ from oauth.SHOPIFY_SCOPES "
                        f"(only here: {sorted(scopes - set(SHOPIFY_SCOPES))}, only there: "
                        f"{sorted(set(SHOPIFY_SCOPES) - scopes)})")
    topics: list[str] = []
    compliance: list[str] = []
    for sub in webhooks.get("subscriptions") or []:
        sub = sub if isinstance(sub, dict) else {}
        if not str(sub.get("uri", "")).startswith("https://"):
            problems.append(f"{where}: every webhook subscription needs an https uri")
        topics += sub.get("topics") or []
        compliance += sub.get("compliance_topics") or []
    # The post-install job subscribes the shop to install.webhook_topics(); an app-specific
    # subscription to the same topic would deliver every event twice under two webhook ids.
    for topic in sorted(set(topics)):
        problems.append(f"{where}: {topic!r} is subscribed here; only compliance_topics belong in "
                        f"the app config (the post-install job subscribes each shop)")
    if set(compliance) != COMPLIANCE_TOPICS:
        problems.append(f"{where}: compliance_topics must be exactly "
                        f"{', '.join(sorted(COMPLIANCE_TOPICS))}")
    proxy = config.get("app_proxy") or {}
    if not all(isinstance(proxy.get(k), str) for k in ("url", "subpath", "prefix")) \
            or proxy.get("prefix") not in PROXY_PREFIXES:
        problems.append(f"{where}: [app_proxy] needs url, subpath and a prefix among "
                        f"{', '.join(sorted(PROXY_PREFIXES))}")


def check_extensions(root: Path = DEFAULT_ROOT) -> list[str]:
    """Every problem found in the extensions and app config under `root`; empty when all is well."""
    problems: list[str] = []
    _check_theme(root, problems)
    _check_pixel(root, problems)
    _check_app_config(root, problems)
    scanned = [*(root / "extensions").rglob("*"), root / APP_TEMPLATE]
    for path in sorted(p for p in scanned if p.is_file() and not BUILT.intersection(p.parts)):
        if SCRIPT_TAG.search(path.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{path.relative_to(root)}: mentions ScriptTag; Shopify no longer "
                            f"lets apps create script tags (theme app extensions replace them)")
    return problems
