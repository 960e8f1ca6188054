"""REST API authentication as WooCommerce 11 does it (includes/class-wc-rest-authentication.php).

- Over HTTPS only (`is_ssl()`), Basic authentication: the `consumer_key` and `consumer_secret`
  query parameters first, else the HTTP Basic credentials. An unknown key is not an error by
  itself (the request goes on unauthenticated); a known key with a wrong secret is 401
  `woocommerce_rest_authentication_error` "Consumer secret is invalid.".
- Then (and always over plain HTTP) OAuth 1.0a one-legged, from `$_GET` + `$_POST` + an
  `Authorization: OAuth` header. No OAuth parameter at all: unauthenticated. Some missing: 401
  `woocommerce_rest_authentication_missing_parameter`. Unknown key, bad signature method, wrong
  signature, a timestamp more than 15 minutes away, a nonce already used: 401
  `woocommerce_rest_authentication_error` with WooCommerce's messages. The base string is
  METHOD & rawurlencode(home_url(path)) & the parameters sorted with strcmp, each `k=v`
  rawurlencoded twice (normalize_parameters, then join_with_equals_sign); the key is
  consumer_secret + "&".
- Parameters are read as PHP reads them: a repeated query key keeps its LAST value (the
  `woocommerce` Python library sends its query parameters twice in OAuth mode), `a[]`/`a[k]`
  make arrays, dots and spaces in names become underscores.
- An authenticated key is then held to its permissions (rest_pre_dispatch): GET/HEAD need read,
  POST/PUT/PATCH/DELETE need write, else 401 "The API key provided does not have write
  permissions." An unauthenticated request meets the route's own permission check: 401
  `woocommerce_rest_cannot_view`/`_create`/`_edit`/`_delete` (rest_authorization_required_code).

Not copied: `WWW-Authenticate` (WooCommerce sends it only when the last method tried was Basic,
which never happens since OAuth always runs after a failed Basic attempt).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from flask import Request, Response

from tests.fake_woocommerce.state import ApiKey, FakeWooStore, php_json

OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                "oauth_signature_method")
WINDOW = 15 * 60  # seconds either side of now for oauth_timestamp
HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')


@dataclass
class WpError(Exception):
    """A WP_Error as the REST server renders it: {"code", "message", "data": {"status", ...}}."""

    code: str
    message: str
    status: int = 400
    data: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "data": {"status": self.status, **self.data}}

    def response(self) -> Response:
        return Response(php_json(self.body()), self.status,
                        content_type="application/json; charset=UTF-8")


@dataclass
class Auth:
    key: ApiKey | None = None
    error: WpError | None = None
    method: str = ""  # "basic_auth" or "oauth1": the last method tried


# -- PHP's view of a request -------------------------------------------------------------------

def _php_name(name: str) -> str:
    return name.replace(".", "_").replace(" ", "_")


def php_parse(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """parse_str() on decoded pairs: the last value of a repeated name wins."""
    out: dict[str, Any] = {}
    for raw_name, value in pairs:
        match = re.fullmatch(r"([^\[]+)\[([^\]]*)\](.*)", raw_name)
        if match is None:
            out[_php_name(raw_name)] = value
            continue
        base, sub = _php_name(match.group(1)), match.group(2)
        holder = out.get(base)
        if not isinstance(holder, dict):
            holder = out[base] = {}
        if sub == "":
            sub = str(sum(1 for k in holder if k.isdigit()))
        holder[sub] = value
    return out


def query_params(request: Request) -> dict[str, Any]:
    """$_GET."""
    return php_parse(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True))


def form_params(request: Request) -> dict[str, Any]:
    """$_POST (form bodies only; PHP leaves JSON bodies out of it)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return {}
    return php_parse(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))


def php_empty(value: Any) -> bool:
    return value in (None, "", "0", 0, False) or value == [] or value == {}


# -- OAuth 1.0a --------------------------------------------------------------------------------

def rfc3986(value: Any) -> Any:
    """wc_rest_urlencode_rfc3986(): rawurlencode, arrays mapped."""
    if isinstance(value, dict):
        return {key: rfc3986(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rfc3986(item) for item in value]
    return quote(str(value), safe="").replace("%7E", "~")


def _join_with_equals(params: dict[str, Any], key: str = "") -> list[str]:
    parts: list[str] = []
    for name, value in params.items():
        if key:
            name = f"{key}%5B{name}%5D"
        if isinstance(value, dict):
            parts.extend(_join_with_equals(value, name))
        else:
            parts.append(rfc3986(f"{name}={value}"))
    return parts


def base_string(method: str, url: str, params: dict[str, Any]) -> str:
    """WooCommerce's string to sign for `params` (without oauth_signature)."""
    ordered = {name: params[name] for name in sorted(params, key=lambda n: n.encode())}
    normalized = dict(zip(rfc3986(list(ordered)), rfc3986(list(ordered.values())),
                          strict=True))
    return f"{method.upper()}&{rfc3986(url)}&{'%26'.join(_join_with_equals(normalized))}"


def oauth_signature(method: str, url: str, params: dict[str, Any], consumer_secret: str,
                    signature_method: str = "HMAC-SHA256") -> str:
    """The signature WooCommerce expects (also usable by tests to sign their own requests)."""
    algorithm = hashlib.sha1 if signature_method == "HMAC-SHA1" else hashlib.sha256
    unsigned = {k: v for k, v in params.items() if k != "oauth_signature"}
    digest = hmac.new(f"{consumer_secret}&".encode(),
                      base_string(method, url, unsigned).encode(), algorithm).digest()
    return base64.b64encode(digest).decode()


def _header_params(request: Request) -> dict[str, str]:
    header = request.headers.get("Authorization", "").strip()
    if not header.startswith("OAuth "):
        return {}
    return {name: unquote(quoted or bare)
            for name, _, quoted, bare in HEADER_PARAM.findall(header)}


def _request_path(request: Request) -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    return raw.split("?", 1)[0]


def _oauth(store: FakeWooStore, request: Request, auth: Auth) -> None:
    auth.method = "oauth1"
    params = {**query_params(request), **form_params(request), **_header_params(request)}
    missing = [name for name in OAUTH_PARAMS if php_empty(params.get(name))]
    if len(missing) == len(OAUTH_PARAMS):
        return  # not trying OAuth at all
    if missing:
        word = "parameter" if len(missing) == 1 else "parameters"
        auth.error = WpError("woocommerce_rest_authentication_missing_parameter",
                             f"Missing OAuth {word} {', '.join(missing)}", 401)
        auth.key = None
        return
    key = store.keys.get(str(params["oauth_consumer_key"]))
    if key is None:
        auth.error = WpError("woocommerce_rest_authentication_error",
                             "Consumer key is invalid.", 401)
        return
    given = unquote(str(params["oauth_signature"]).replace(" ", "+"))
    method = params["oauth_signature_method"]
    if method not in ("HMAC-SHA1", "HMAC-SHA256"):
        auth.error = WpError("woocommerce_rest_authentication_error",
                             "Invalid signature - signature method is invalid.", 401)
        return
    url = store.base_url.rstrip("/") + "/" + _request_path(request).lstrip("/")
    expected = oauth_signature(request.method, url, params, key.consumer_secret, method)
    if not hmac.compare_digest(expected, given):
        auth.error = WpError("woocommerce_rest_authentication_error",
                             "Invalid signature - provided signature does not match.", 401)
        return
    now = int(time.time())  # the server's clock; store.clock only dates the store's objects
    try:
        timestamp = int(str(params["oauth_timestamp"]))
    except ValueError:
        timestamp = -WINDOW - 1
    if timestamp < now - WINDOW or timestamp > now + WINDOW:
        auth.error = WpError("woocommerce_rest_authentication_error", "Invalid timestamp.", 401)
        return
    with store.lock:
        used = store.oauth_nonces.setdefault(key.key_id, {})
        if params["oauth_nonce"] in used.values():
            auth.error = WpError("woocommerce_rest_authentication_error",
                                 "Invalid nonce - nonce has already been used.", 401)
            return
        used[timestamp] = str(params["oauth_nonce"])  # keyed by timestamp, as WooCommerce does
        for stamp in [s for s in used if s < now - WINDOW]:
            del used[stamp]
    auth.key = key


def _basic(store: FakeWooStore, request: Request, auth: Auth) -> None:
    auth.method = "basic_auth"
    query = query_params(request)
    key_id, secret = "", ""
    if not php_empty(query.get("consumer_key")) and not php_empty(query.get("consumer_secret")):
        key_id, secret = str(query["consumer_key"]), str(query["consumer_secret"])
    credentials = request.authorization
    if not key_id and credentials is not None and credentials.type == "basic" \
            and credentials.username and credentials.password:
        key_id, secret = credentials.username, credentials.password
    if not key_id or not secret:
        return
    key = store.keys.get(key_id)
    if key is None:
        return
    if not hmac.compare_digest(key.consumer_secret, secret):
        auth.error = WpError("woocommerce_rest_authentication_error",
                             "Consumer secret is invalid.", 401)
        return
    auth.key = key


def authenticate(store: FakeWooStore, request: Request) -> Auth:
    """WC_REST_Authentication::authenticate() then check_user_permissions()."""
    auth = Auth()
    if request.scheme == "https":
        _basic(store, request, auth)
    if auth.key is None:
        _oauth(store, request, auth)
    if auth.error is not None:
        auth.key = None
        return auth
    if auth.key is not None:
        permissions = auth.key.permissions
        if request.method in ("GET", "HEAD") and permissions not in ("read", "read_write"):
            auth.error = WpError("woocommerce_rest_authentication_error",
                                 "The API key provided does not have read permissions.", 401)
        elif request.method in ("POST", "PUT", "PATCH", "DELETE") \
                and permissions not in ("write", "read_write"):
            auth.error = WpError("woocommerce_rest_authentication_error",
                                 "The API key provided does not have write permissions.", 401)
    return auth


PERMISSION_ERRORS = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "edit_setting": ("woocommerce_rest_cannot_edit", "Sorry, you cannot edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete",
               "Sorry, you are not allowed to delete this resource."),
}


def permission_error(kind: str) -> WpError:
    """The route's permission_callback refusing an unauthenticated request."""
    code, message = PERMISSION_ERRORS[kind]
    return WpError(code, message, 401)
