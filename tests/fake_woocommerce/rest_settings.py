"""wc/v3 settings, payment gateways, shipping zones and product reviews.

Settings (WC_REST_Setting_Options_Controller, v2 + v3): GET settings/<group> lists the group's
settings without `group_id`; GET/PUT settings/<group>/<id> add it. Unknown group: 404
`rest_setting_setting_group_invalid` "Invalid setting group."; unknown id: 404
`rest_setting_setting_invalid` "Invalid setting.". A checkbox takes "yes" or "no"; an empty
value (missing, "", "0", false, 0) becomes the setting's default; `true` passes PHP's loose
in_array() and is echoed, but WC_Admin_Settings::save_fields() stores it as "no"; anything else
is 400 `rest_setting_value_invalid` "An invalid setting value was passed.". Select values must
be option keys; multiselect keeps only known options. The "email_customer_review_request"
group exists only from WooCommerce 10.8 (store.version).

Payment gateways (WC_REST_Payment_Gateways_Controller): no pagination; unknown id: 404
`woocommerce_rest_payment_gateway_invalid` "Resource does not exist."; PUT `settings` updates
the known fields (validated as above; unknown keys ignored), `enabled`, `title`,
`description`, `order`.

Shipping zones: GET shipping/zones (zone 0, "Rest of the World", first), zones/<id>,
zones/<id>/locations, zones/<id>/methods; unknown zone: 404
`woocommerce_rest_shipping_zone_invalid` "Resource does not exist.".

Product reviews (WC_REST_Product_Reviews_Controller v3): POST requires product_id, review,
reviewer, reviewer_email (valid address); an unknown product is 404
`woocommerce_rest_product_invalid_id` "Invalid product ID."; the rating is NOT range-checked
(WooCommerce only requires an integer); a duplicate (same product, content and author) is 409
`woocommerce_rest_comment_duplicate`; status defaults to "approved"; `verified` is
wc_review_is_from_verified_owner(): the request's `verified` if truthy, else
wc_customer_bought_product() (a processing/completed order billed to that email with the
product). The POST answer is in the `edit` context (raw review text), GET in `view` (wpautop).
`date_created` / `date_created_gmt` are read-only in the schema but create_item still reads them
(prepare_item_for_database, rest_get_date_with_gmt): a valid date-time sets the review's date,
anything else is ignored (the current time). DELETE products/reviews/<id>: unknown id 404
`woocommerce_rest_review_invalid_id` "Invalid review ID." (checked first); `force=true` deletes
and answers {"deleted": true, "previous": <review, edit context>}; without it the review is
trashed (EMPTY_TRASH_DAYS is 30 by default) and answered, and a trashed one is 410
`woocommerce_rest_already_trashed` "The object has already been trashed.". PUT
products/reviews/<id> (update_item): unknown id 404 as above; a `product_id` that is no product
404 `woocommerce_rest_product_invalid_id`; an empty `review` 400
`woocommerce_rest_review_content_invalid`; reviewer, reviewer_email (a valid address), review,
a non-empty rating and status are updated; the answer is in the `edit` context.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import Blueprint, Response

from tests.fake_woocommerce.auth import Auth, WpError
from tests.fake_woocommerce.resources import bought
from tests.fake_woocommerce.rest import (
    DATE,
    PAGING,
    api,
    paginate,
    parse_date,
    rest_response,
    sprintf_l,
)
from tests.fake_woocommerce.state import (
    ALL_METHODS,
    EDIT_METHODS,
    FakeWooStore,
    gateway_links,
    gravatar,
    links,
    rebase,
    wc_date,
)

settings_blueprint = Blueprint("fake_woocommerce_settings", __name__)

GROUP_LABELS = {"general": "General", "products": "Products", "tax": "Tax",
                "shipping": "Shipping", "checkout": "Checkout", "account": "Accounts",
                "email": "Emails", "integration": "Integration", "advanced": "Advanced",
                "email_customer_review_request": "Review request"}
INVALID_VALUE = ("rest_setting_value_invalid", "An invalid setting value was passed.")
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def setting_value(value: Any, setting: dict[str, Any]) -> tuple[Any, Any]:
    """(value echoed in the answer, value stored) for `setting`'s type, or WpError."""
    kind = setting.get("type")
    if kind == "checkbox":
        if value in ("yes", "no"):
            return value, value
        if value in (None, "", "0", 0, False) or value == [] or value == {}:
            default = setting.get("default") or "no"
            return default, default
        if value is True:  # in_array( true, array( 'yes', 'no' ) ) is true in PHP
            return True, "no"  # save_fields(): '1' === $raw || 'yes' === $raw ? 'yes' : 'no'
        raise WpError(*INVALID_VALUE, 400)
    if kind in ("select", "radio"):
        if isinstance(value, str | int) and str(value) in setting.get("options", {}):
            return value, value
        raise WpError(*INVALID_VALUE, 400)
    if kind == "multiselect":
        if value in (None, "", "0", 0, False) or value == []:
            return [], []
        if not isinstance(value, list):
            raise WpError(*INVALID_VALUE, 400)
        kept = [v for v in value if v in setting.get("options", {})]
        return kept, kept
    text = "" if value is None else str(value).strip()
    return text, text


# -- settings ----------------------------------------------------------------------------------

def _group(store: FakeWooStore, group_id: str) -> dict[str, dict[str, Any]]:
    group = store.settings.get(group_id)
    if not group:
        raise WpError("rest_setting_setting_group_invalid", "Invalid setting group.", 404)
    return group


def _setting_links(store: FakeWooStore, group_id: str, setting_id: str) -> dict[str, Any]:
    return links(store, f"settings/{group_id}", setting_id, EDIT_METHODS)


def render_setting(store: FakeWooStore, group_id: str, setting: dict[str, Any],
                   with_group: bool) -> dict[str, Any]:
    data = {k: copy.deepcopy(v) for k, v in setting.items() if with_group or k != "group_id"}
    if with_group:
        data["group_id"] = group_id
    data["_links"] = _setting_links(store, group_id, setting["id"])
    return data


@settings_blueprint.get("/settings")
@api("list")
def list_groups(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    out = []
    with store.lock:
        for group_id in store.settings:
            parent = "email" if group_id.startswith("email_") else ""
            out.append({"id": group_id, "label": GROUP_LABELS.get(group_id, group_id),
                        "description": "", "parent_id": parent, "sub_groups": [],
                        "_links": {"options": [{"href": store.rest_url(
                            f"wc/v3/settings/{group_id}")}]}})
    return rest_response(out)


@settings_blueprint.get("/settings/<group_id>")
@api("list")
def list_settings(store: FakeWooStore, params: dict[str, Any], auth: Auth, group_id: str
                  ) -> Response:
    with store.lock:
        group = _group(store, group_id)
        return rest_response([render_setting(store, group_id, s, False) for s in group.values()])


def _setting(store: FakeWooStore, group_id: str, setting_id: str) -> dict[str, Any]:
    setting = _group(store, group_id).get(setting_id)
    if setting is None:
        raise WpError("rest_setting_setting_invalid", "Invalid setting.", 404)
    return setting


@settings_blueprint.get("/settings/<group_id>/<setting_id>")
@api("list")
def get_setting(store: FakeWooStore, params: dict[str, Any], auth: Auth, group_id: str,
                setting_id: str) -> Response:
    with store.lock:
        return rest_response(render_setting(store, group_id, _setting(store, group_id,
                                                                      setting_id), True))


@settings_blueprint.route("/settings/<group_id>/<setting_id>", methods=["POST", "PUT", "PATCH"])
@api("edit_setting")
def update_setting(store: FakeWooStore, params: dict[str, Any], auth: Auth, group_id: str,
                   setting_id: str) -> Response:
    with store.lock:
        setting = _setting(store, group_id, setting_id)
        echoed, stored = setting_value(params.get("value"), setting)
        setting["value"] = stored
        data = render_setting(store, group_id, setting, True)
        data["value"] = echoed
        return rest_response(data)


# -- payment gateways --------------------------------------------------------------------------

def render_gateway(store: FakeWooStore, gateway: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = rebase(copy.deepcopy(gateway), store.base_url)
    data["_links"] = gateway_links(store, gateway["id"])
    return data


@settings_blueprint.get("/payment_gateways")
@api("list", {"context": PAGING["context"]})
def list_gateways(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    with store.lock:
        return rest_response([render_gateway(store, g) for g in store.payment_gateways.values()])


def _gateway(store: FakeWooStore, gateway_id: str) -> dict[str, Any]:
    gateway = store.payment_gateways.get(gateway_id)
    if gateway is None:
        raise WpError("woocommerce_rest_payment_gateway_invalid", "Resource does not exist.",
                      404)
    return gateway


@settings_blueprint.get("/payment_gateways/<gateway_id>")
@api("view", {"context": PAGING["context"]})
def get_gateway(store: FakeWooStore, params: dict[str, Any], auth: Auth, gateway_id: str
                ) -> Response:
    with store.lock:
        return rest_response(render_gateway(store, _gateway(store, gateway_id)))


@settings_blueprint.route("/payment_gateways/<gateway_id>", methods=["POST", "PUT", "PATCH"])
@api("edit")
def update_gateway(store: FakeWooStore, params: dict[str, Any], auth: Auth, gateway_id: str
                   ) -> Response:
    with store.lock:
        gateway = _gateway(store, gateway_id)
        updates: dict[str, Any] = {}
        if isinstance(params.get("settings"), dict):
            for key, value in params["settings"].items():
                if key in gateway["settings"] and value is not None:
                    try:
                        updates[key] = setting_value(value, gateway["settings"][key])[1]
                    except WpError as error:
                        raise WpError(*INVALID_VALUE, 400) from error
        for key, value in updates.items():
            gateway["settings"][key]["value"] = value
        if params.get("enabled") is not None:
            gateway["enabled"] = params["enabled"] not in (False, 0, "0", "false", "no", "")
        for key in ("title", "description"):
            if params.get(key) is not None:
                gateway[key] = params[key]
        if params.get("order") is not None:
            gateway["order"] = params["order"]
        return rest_response(render_gateway(store, gateway))


# -- shipping zones ----------------------------------------------------------------------------

def zones(store: FakeWooStore) -> list[dict[str, Any]]:
    """The zones, "Rest of the World" (id 0) first, then by order and id."""
    rest = next((z for z in store.shipping_zones if z["id"] == 0), None) or {
        "id": 0, "name": "Rest of the World", "order": 0, "locations": [], "methods": []}
    others = sorted((z for z in store.shipping_zones if z["id"] != 0),
                    key=lambda z: (z["order"], z["id"]))
    return [rest, *others]


def _zone(store: FakeWooStore, zone_id: int) -> dict[str, Any]:
    for zone in zones(store):
        if zone["id"] == zone_id:
            return zone
    raise WpError("woocommerce_rest_shipping_zone_invalid", "Resource does not exist.", 404)


def render_zone(store: FakeWooStore, zone: dict[str, Any]) -> dict[str, Any]:
    base = f"shipping/zones/{zone['id']}"
    return {"id": zone["id"], "name": zone["name"], "order": zone["order"],
            "_links": links(store, "shipping/zones", zone["id"], ALL_METHODS,
                            describedby=[{"href": store.rest_url(f"wc/v3/{base}/locations")}])}


@settings_blueprint.get("/shipping/zones")
@api("list")
def list_zones(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    with store.lock:
        return rest_response([render_zone(store, z) for z in zones(store)])


@settings_blueprint.get("/shipping/zones/<int:zone_id>")
@api("list")
def get_zone(store: FakeWooStore, params: dict[str, Any], auth: Auth, zone_id: int
             ) -> Response:
    with store.lock:
        return rest_response(render_zone(store, _zone(store, zone_id)))


@settings_blueprint.get("/shipping/zones/<int:zone_id>/locations")
@api("list")
def zone_locations(store: FakeWooStore, params: dict[str, Any], auth: Auth, zone_id: int
                   ) -> Response:
    with store.lock:
        zone = _zone(store, zone_id)
        base = store.rest_url(f"wc/v3/shipping/zones/{zone_id}")
        return rest_response([{"code": loc["code"], "type": loc["type"],
                               "_links": {"collection": [{"href": f"{base}/locations"}],
                                          "describes": [{"href": base}]}}
                              for loc in zone["locations"]])


@settings_blueprint.get("/shipping/zones/<int:zone_id>/methods")
@api("list")
def zone_methods(store: FakeWooStore, params: dict[str, Any], auth: Auth, zone_id: int
                 ) -> Response:
    with store.lock:
        return rest_response(copy.deepcopy(_zone(store, zone_id)["methods"]))


# -- product reviews ---------------------------------------------------------------------------

def wpautop(text: str) -> str:
    """wpautop() for plain text: paragraphs on blank lines, <br /> on single newlines."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br />' + chr(10))}</p>\n" for p in paragraphs)


def render_review(store: FakeWooStore, review: dict[str, Any], context: str) -> dict[str, Any]:
    data = copy.deepcopy(review)
    if context == "view":
        data["review"] = wpautop(data["review"])
    return data


REVIEW_LIST: dict[str, dict[str, Any]] = {**PAGING,
               "orderby": {"type": "string", "default": "date_gmt",
                           "enum": ["date", "date_gmt", "id", "include", "product"]},
               "status": {"type": "string", "default": "approved",
                          "enum": ["all", "hold", "approved", "spam", "trash"]},
               "product": {"type": "string"}, "reviewer_email": {"type": "string"}}
REVIEW_STATUSES = ["approved", "hold", "spam", "unspam", "trash", "untrash"]


@settings_blueprint.get("/products/reviews")
@api("list", REVIEW_LIST)
def list_reviews(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    products = {int(p) for p in str(params.get("product", "")).split(",") if p.strip().isdigit()}
    with store.lock:
        items = [r for r in store.reviews.values()
                 if params["status"] in ("all", r["status"])
                 and (not products or r["product_id"] in products)
                 and params.get("reviewer_email") in (None, r["reviewer_email"])]
        rendered = [render_review(store, r, params["context"]) for r in items]
    key = {"id": lambda r: (r["id"],), "product": lambda r: (r["product_id"], r["id"])}.get(
        params["orderby"], lambda r: (r["date_created_gmt"], r["id"]))
    rendered.sort(key=key, reverse=params["order"] == "desc")
    page, headers = paginate(store, "products/reviews", rendered, params)
    return rest_response(page, headers=headers)


@settings_blueprint.post("/products/reviews")
@api("create", {"product_id": {"type": "integer"}, "review": {"type": "string"},
                "reviewer": {"type": "string"}, "reviewer_email": {"type": "string"},
                "rating": {"type": "integer"},
                "status": {"type": "string", "enum": REVIEW_STATUSES, "default": "approved"}},
     required=("product_id", "review", "reviewer", "reviewer_email"))
def create_review(store: FakeWooStore, params: dict[str, Any], auth: Auth) -> Response:
    if not EMAIL.match(params["reviewer_email"]):
        raise WpError("rest_invalid_param", "Invalid parameter(s): reviewer_email", 400,
                      {"params": {"reviewer_email": "Invalid email address."},
                       "details": {"reviewer_email": {"code": "rest_invalid_email",
                                                      "message": "Invalid email address.",
                                                      "data": None}}})
    if params.get("id"):
        raise WpError("woocommerce_rest_review_exists",
                      "Cannot create existing product review.", 400)
    product_id = params["product_id"]
    with store.lock:
        product = store.products.get(product_id)
        if product is None:
            raise WpError("woocommerce_rest_product_invalid_id", "Invalid product ID.", 404)
        content = params["review"]
        if not content:
            raise WpError("woocommerce_rest_review_content_invalid", "Invalid review content.",
                          400)
        for other in store.reviews.values():
            if other["product_id"] == product_id and other["review"] == content \
                    and other["status"] != "trash" \
                    and (other["reviewer"] == params["reviewer"]
                         or other["reviewer_email"] == params["reviewer_email"]):
                raise WpError("woocommerce_rest_comment_duplicate",
                              "Duplicate comment detected; it looks as though you&#8217;ve "
                              "already said that!", 409)
        review_id = store.next_id("comment")
        now = wc_date(store.now())
        given = params.get("date_created_gmt") or params.get("date_created")
        if isinstance(given, str) and DATE.match(given):  # the site's timezone is UTC
            now = parse_date(given).strftime("%Y-%m-%dT%H:%M:%S")
        status = {"approve": "approved", "1": "approved", "0": "hold", "unspam": "approved",
                  "untrash": "approved"}.get(params["status"], params["status"])
        verified = bool(params.get("verified")) or bought(store, params["reviewer_email"],
                                                          product_id)
        review = {
            "id": review_id, "date_created": now, "date_created_gmt": now,
            "product_id": product_id, "product_name": product["name"],
            "product_permalink": product["permalink"], "status": status,
            "reviewer": params["reviewer"], "reviewer_email": params["reviewer_email"],
            "review": content, "rating": params.get("rating") or 0, "verified": verified,
            "reviewer_avatar_urls": gravatar(params["reviewer_email"]),
            "_links": links(store, "products/reviews", review_id, ALL_METHODS,
                            up=[{"href": store.rest_url(f"wc/v3/products/{product_id}")}])}
        store.reviews[review_id] = review
        body = render_review(store, review, "edit")
    return rest_response(body, 201, {"Location": store.rest_url(
        f"wc/v3/products/reviews/{review_id}")})


@settings_blueprint.get("/products/reviews/<int:review_id>")
@api("view", {"context": PAGING["context"]})
def get_review(store: FakeWooStore, params: dict[str, Any], auth: Auth, review_id: int
               ) -> Response:
    with store.lock:
        review = store.reviews.get(review_id)
        if review is None:
            raise WpError("woocommerce_rest_review_invalid_id", "Invalid review ID.", 404)
        return rest_response(render_review(store, review, params["context"]))


@settings_blueprint.put("/products/reviews/<int:review_id>")
@api("edit", {"product_id": {"type": "integer"}, "review": {"type": "string"},
              "reviewer": {"type": "string"}, "reviewer_email": {"type": "string"},
              "rating": {"type": "integer"},
              "status": {"type": "string", "enum": REVIEW_STATUSES}})
def update_review(store: FakeWooStore, params: dict[str, Any], auth: Auth, review_id: int
                  ) -> Response:
    if "reviewer_email" in params and not EMAIL.match(params["reviewer_email"]):
        raise WpError("rest_invalid_param", "Invalid parameter(s): reviewer_email", 400,
                      {"params": {"reviewer_email": "Invalid email address."},
                       "details": {"reviewer_email": {"code": "rest_invalid_email",
                                                      "message": "Invalid email address.",
                                                      "data": None}}})
    with store.lock:
        review = store.reviews.get(review_id)
        if review is None:
            raise WpError("woocommerce_rest_review_invalid_id", "Invalid review ID.", 404)
        if params.get("product_id") and params["product_id"] not in store.products:
            raise WpError("woocommerce_rest_product_invalid_id", "Invalid product ID.", 404)
        if "review" in params and not params["review"]:
            raise WpError("woocommerce_rest_review_content_invalid", "Invalid review content.",
                          400)
        for name in ("reviewer", "reviewer_email", "review", "product_id"):
            if params.get(name):
                review[name] = params[name]
        if params.get("rating"):
            review["rating"] = params["rating"]
        if params.get("status"):
            review["status"] = {"unspam": "approved", "untrash": "approved"}.get(
                params["status"], params["status"])
        return rest_response(render_review(store, review, "edit"))


@settings_blueprint.delete("/products/reviews/<int:review_id>")
@api("delete", {"force": {"type": "boolean", "default": False}})
def delete_review(store: FakeWooStore, params: dict[str, Any], auth: Auth, review_id: int
                  ) -> Response:
    with store.lock:
        review = store.reviews.get(review_id)
        if review is None:
            raise WpError("woocommerce_rest_review_invalid_id", "Invalid review ID.", 404)
        if params["force"]:
            previous = render_review(store, review, "edit")
            del store.reviews[review_id]
            return rest_response({"deleted": True, "previous": previous})
        if review["status"] == "trash":
            raise WpError("woocommerce_rest_already_trashed",
                          "The object has already been trashed.", 410)
        review["status"] = "trash"
        return rest_response(render_review(store, review, "edit"))


__all__ = ["setting_value", "settings_blueprint", "sprintf_l", "zones"]
