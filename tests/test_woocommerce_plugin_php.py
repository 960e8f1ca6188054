"""The plugin's pure PHP functions (no WordPress state), run with the real php-cli (c).

Only the few WordPress helpers those functions call (escaping, translation, JSON) are stubbed
(tests/wordpress_standin.py): the storefront config and its script, server URL, store key,
language, connect URL and session identity; reviews (AggregateRating, JSON-LD, the stars
template); the shipping estimate's arguments, package, free shipping, rates and rate limit key;
the widget mounts of each page and their markup.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.wordpress_standin import parse, php_binary, php_call, run_php, tool


@pytest.fixture(scope="module")
def php() -> str:
    return php_binary()


# -- (c) the pure functions, run with php-cli ---------------------------------------------------

CONFIG_FACTS = {
    "origin": "https://parcours.example.com/", "store": "my-shop", "page": "product",
    "locale": "fr_FR", "currency": "eur", "product_id": 123, "product_price": "19.90",
    "customer_id": 42, "session": "0123456789abcdef0123456789abcdef",
    "shipping_estimate": "https://shop.example/wp-json/parcours/v1/shipping-estimate",
    "country": "fr", "store_api": "https://shop.example/wp-json/wc/store/v1/",
    "checkout_url": "https://shop.example/commande/",
}


def test_the_storefront_config_shape(php: str) -> None:
    assert php_call(php, "parcours_storefront_config", CONFIG_FACTS) == {
        "origin": "https://parcours.example.com", "store": "my-shop", "page": "product",
        "lang": "fr", "currency": "EUR", "product": {"id": "123", "price": "19.90"},
        "shopper": {"customer_id": "42", "wc_session": "0123456789abcdef0123456789abcdef"},
        "country": "FR",
        "endpoints": {"shipping_estimate":
                      "https://shop.example/wp-json/parcours/v1/shipping-estimate",
                      "store_api": "https://shop.example/wp-json/wc/store/v1",
                      "checkout_url": "https://shop.example/commande/"},
    }


def test_a_guest_on_the_cart_has_no_product_and_null_identities(php: str) -> None:
    facts = {**CONFIG_FACTS, "page": "cart", "customer_id": 0, "session": None,
             "locale": "en_US"}
    config = php_call(php, "parcours_storefront_config", facts)
    assert "product" not in config
    assert config["shopper"] == {"customer_id": None, "wc_session": None}
    unknown = php_call(php, "parcours_storefront_config", {**facts, "country": "<b>"})
    assert "country" not in unknown  # only a country code reaches the page
    assert (config["page"], config["lang"]) == ("cart", "en")


def test_a_product_without_price_says_null(php: str) -> None:
    config = php_call(php, "parcours_storefront_config", {**CONFIG_FACTS, "product_price": ""})
    assert config["product"] == {"id": "123", "price": None}


def test_the_config_script_cannot_be_broken_out_of(php: str) -> None:
    hostile = "</script><script>alert(1)</script>'\"&"
    config = {"origin": "https://parcours.example.com", "store": "my-shop",
              "product": {"id": "1", "price": hostile}}
    script = php_call(php, "parcours_config_script", config)
    prefix = "window.ParcoursConfig = window.ParcoursConfig || "
    assert script.startswith(prefix) and script.endswith(";")
    assert not re.search(r"[<>&'\"]", script[len(prefix):-1].replace('"', "")), script
    assert json.loads(script[len(prefix):-1]) == config


def test_the_config_script_sets_the_global_in_javascript(php: str) -> None:
    """Run in a JavaScript engine: window.ParcoursConfig is the config; one already set wins."""
    node = tool("node", "/usr/bin/node")
    config = php_call(php, "parcours_storefront_config", CONFIG_FACTS)
    script = php_call(php, "parcours_config_script", config)
    program = ("const window = {}; eval(process.argv[1]); const first = window.ParcoursConfig;"
               "eval(process.argv[1].replace('my-shop', 'other'));"
               "console.log(JSON.stringify([first, window.ParcoursConfig === first]));")
    result = subprocess.run([node, "-e", program, script], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [config, True]


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://parcours.example.com", "https://parcours.example.com"),
    ("  https://Parcours.Example.COM/  ", "https://parcours.example.com"),
    ("https://parcours.example.com:8443/sub/", "https://parcours.example.com:8443/sub"),
    ("http://parcours.example.com", ""),
    ("parcours.example.com", ""),
    ("javascript:alert(1)", ""),
    ("https://user:secret@parcours.example.com", ""),
    ("https://parcours.example.com/?store=x", ""),
    ("https://parcours.example.com/#top", ""),
    ("https://parcours.example.com/a b", ""),
    ('https://parcours.example.com/"onmouseover=', ""),
    ("https://", ""),
    ("https://-bad-.example.com", ""),
    ("", ""),
])
def test_the_server_url_is_https_only(php: str, raw: str, expected: str) -> None:
    assert php_call(php, "parcours_normalize_server_url", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("my-shop", "my-shop"), (" demo ", "demo"), ("a", ""), ("My-Shop", ""),
    ("-shop", ""), ("shop_1", ""), ("<script>", ""), ("x" * 64, ""), (["my-shop"], ""),
])
def test_store_keys_follow_parcours_pattern(php: str, raw: Any, expected: str) -> None:
    assert php_call(php, "parcours_sanitize_store_key", raw) == expected


@pytest.mark.parametrize(("locale", "lang"), [
    ("fr_FR", "fr"), ("en_US", "en"), ("de_DE_formal", "de"), ("pt-BR", "pt"), ("fil", "fil"),
    ("", "en"), ("x", "en"),
])
def test_the_widgets_language_is_the_locale_primary_subtag(php: str, locale: str,
                                                           lang: str) -> None:
    assert php_call(php, "parcours_language", locale) == lang


def test_the_connect_url_carries_the_store_the_return_and_the_state(php: str) -> None:
    url = php_call(php, "parcours_connect_url", "https://parcours.example.com",
                   "https://shop.example/fr", "https://shop.example/wp-admin/admin.php?page=parcours",
                   "ab12&cd")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https", "parcours.example.com", "/woocommerce/connect")
    assert parse_qs(parts.query) == {
        "store_url": ["https://shop.example/fr"],
        "return_url": ["https://shop.example/wp-admin/admin.php?page=parcours"],
        "state": ["ab12&cd"]}


def test_the_session_identity_is_a_keyed_hash(php: str) -> None:
    """The value Parcours receives, recomputable from the documented formula; never the id."""
    session, key = "t_4f1a2b3c4d5e6f708192a3b4c5d6e7", "site-salt"
    identity = php_call(php, "parcours_session_identity", session, key)
    expected = hmac.new(key.encode(), b"parcours-session|" + session.encode(),
                        hashlib.sha256).hexdigest()[:32]
    assert identity == expected and session not in identity
    assert php_call(php, "parcours_session_identity", "", key) is None
    assert php_call(php, "parcours_session_identity", session, "other") != identity


# -- reviews: AggregateRating, JSON-LD, stars ----------------------------------------------------

def test_the_aggregate_rating_uses_woocommerce_numbers_with_the_scale(php: str) -> None:
    assert php_call(php, "parcours_aggregate_rating", "4.50", 12) == {
        "@type": "AggregateRating", "ratingValue": 4.5, "reviewCount": 12,
        "bestRating": 5, "worstRating": 1}
    assert php_call(php, "parcours_aggregate_rating", "3.667", "3")["ratingValue"] == 3.67


@pytest.mark.parametrize(("average", "count"), [
    ("0", 0), ("4.5", 0), ("0", 3), ("", 2), ("6", 1), (None, None), ("abc", 5),
])
def test_no_aggregate_rating_without_a_rated_review(php: str, average: Any, count: Any) -> None:
    assert php_call(php, "parcours_aggregate_rating", average, count) is None


WC_MARKUP = {
    "@type": "Product", "@id": "https://shop.example/p/mug/#product", "name": "Mug",
    "offers": [{"@type": "Offer", "price": "12.00"}],
    "aggregateRating": {"@type": "AggregateRating", "ratingValue": "4.50", "reviewCount": 2},
    "review": [{"@type": "Review", "reviewBody": "</script><script>alert(1)</script>",
                "author": {"@type": "Person", "name": "<b>Eve</b>"}}],
}


def test_woocommerce_markup_is_completed_not_duplicated(php: str) -> None:
    completed = php_call(php, "parcours_with_aggregate_rating", WC_MARKUP, "4.50", 2)
    assert completed == {**WC_MARKUP, "aggregateRating": {
        "@type": "AggregateRating", "ratingValue": 4.5, "reviewCount": 2,
        "bestRating": 5, "worstRating": 1}}
    without = {k: v for k, v in WC_MARKUP.items() if k != "aggregateRating"}
    assert php_call(php, "parcours_with_aggregate_rating", without, "5", 1)["aggregateRating"][
        "reviewCount"] == 1
    assert php_call(php, "parcours_with_aggregate_rating", without, "0", 0) == without


def test_json_ld_holds_untrusted_text_safely(php: str) -> None:
    """Review text and names are untrusted: in the JSON-LD they stay data, never markup."""
    text = php_call(php, "parcours_json_ld", WC_MARKUP)
    assert not re.search(r"[<>&]", text)
    assert json.loads(text) == WC_MARKUP


def test_the_standalone_product_block(php: str) -> None:
    name = "Mug </script><script>alert(1)</script> & Co « café »"
    text = php_call(php, "parcours_product_json_ld", name, "https://shop.example/p/mug/",
                    "4.25", 8)
    assert not re.search(r"[<>&]", text)
    assert json.loads(text) == {
        "@context": "https://schema.org/", "@type": "Product",
        "@id": "https://shop.example/p/mug/#product", "name": name,
        "url": "https://shop.example/p/mug/",
        "aggregateRating": {"@type": "AggregateRating", "ratingValue": 4.25, "reviewCount": 8,
                            "bestRating": 5, "worstRating": 1}}
    assert php_call(php, "parcours_product_json_ld", name, "https://x/", "0", 0) == ""


def test_the_stars_markup(php: str) -> None:
    html = run_php(php, "echo json_encode(parcours_render_template('review-stars', "
                        "parcours_review_stars(7, '4.25', 3, true)));")
    page = parse(html)
    assert page.tags == [
        ("div", {"class": "parcours-widget", "data-parcours-widget": "review_stars",
                 "data-product-id": "7", "data-rating": "4.25", "data-count": "3"}),
        ("span", {"class": "parcours-stars", "role": "img", "aria-label": "Rated 4.3 out of 5"}),
        ("a", {"class": "parcours-count", "href": "#reviews"}),
    ]
    assert page.text == [("span", "4.3 / 5"), ("a", "(3 reviews)")]
    single = run_php(php, "echo json_encode(parcours_render_template('review-stars', "
                          "parcours_review_stars(7, '5', 1, false)));")
    assert parse(single).text == [("span", "5.0 / 5"), ("span", "(1 review)")]
    assert php_call(php, "parcours_review_stars", 7, "0", 0, True) is None


def test_the_stars_template_escapes_every_value(php: str) -> None:
    hostile = {"product_id": '7"><script>alert(1)</script>', "rating": "<i>", "count": "'",
               "label": '"><img src=x onerror=alert(1)>', "text": "<script>alert(2)</script>",
               "count_text": "</a><script>alert(3)</script>", "link": "javascript:alert(4)"}
    html = run_php(php, f"echo json_encode(parcours_render_template('review-stars', "
                        f"json_decode({json.dumps(json.dumps(hostile))}, true)));")
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    page = parse(html)
    assert [tag for tag, _ in page.tags] == ["div", "span", "a"]
    assert page.tags[0][1]["data-product-id"] == hostile["product_id"]
    assert page.tags[1][1]["aria-label"] == hostile["label"]
    assert page.text == [("span", hostile["text"]), ("a", hostile["count_text"])]


# -- shipping estimate: arguments, package, rates ------------------------------------------------

SHIPS_TO = {"FR": "France", "US": "United States", "DE": "Germany"}


@pytest.mark.parametrize(("function", "args", "error"), [
    ("parcours_check_country", ["FR", SHIPS_TO], None),
    ("parcours_check_country", [" fr ", SHIPS_TO], None),
    ("parcours_check_country", ["FRA", SHIPS_TO], "country must be a two-letter"),
    ("parcours_check_country", ["", SHIPS_TO], "country must be a two-letter"),
    ("parcours_check_country", [["FR"], SHIPS_TO], "country must be a two-letter"),
    ("parcours_check_country", ["JP", SHIPS_TO], "country is not a country this store ships to"),
    ("parcours_check_state", ["", {"CA": "California"}], None),
    ("parcours_check_state", ["ca", {"CA": "California"}], None),
    ("parcours_check_state", ["ZZ", {"CA": "California"}], "state is not a state"),
    ("parcours_check_state", ["X", []], "state is not a state"),
    ("parcours_check_state", ["IDF", False], None),
    ("parcours_check_state", ["<b>", False], "state must be a state code"),
    ("parcours_check_postcode", ["75011", None], None),
    ("parcours_check_postcode", ["SW1A 1AA", None], None),
    ("parcours_check_postcode", ["", None], None),
    ("parcours_check_postcode", ["<script>", None], "postcode must be"),
    ("parcours_check_postcode", ["1" * 17, None], "postcode must be"),
    ("parcours_check_product_id", ["123", None], None),
    ("parcours_check_product_id", [123, None], None),
    ("parcours_check_product_id", ["0", None], "product_id must be"),
    ("parcours_check_product_id", ["-1", None], "product_id must be"),
    ("parcours_check_product_id", ["1e3", None], "product_id must be"),
    ("parcours_check_product_id", ["", None], "product_id must be"),
    ("parcours_check_quantity", ["1", None], None),
    ("parcours_check_quantity", [999, None], None),
    ("parcours_check_quantity", [0, None], "quantity must be a whole number from 1 to 999"),
    ("parcours_check_quantity", ["1000", None], "quantity must be"),
    ("parcours_check_quantity", ["2.5", None], "quantity must be"),
])
def test_shipping_arguments_are_checked_naming_the_parameter(
        php: str, function: str, args: list[Any], error: str | None) -> None:
    result = php_call(php, function, *(args if args[1] is not None else args[:1]))
    if error is None:
        assert result is None
    else:
        assert isinstance(result, str) and result.startswith(error), result


def test_the_package_is_shaped_like_woocommerce_cart_packages(php: str) -> None:
    package = run_php(php, """
        $product = new stdClass();
        $package = parcours_shipping_package(
            array( 'product_id' => 10, 'variation_id' => 11, 'quantity' => 2, 'data' => $product,
                   'line_total' => 20.0, 'line_tax' => 4.0, 'display_subtotal' => 24.0 ),
            array( 'country' => 'FR', 'postcode' => '75011' ),
            0
        );
        $item = reset( $package['contents'] );
        echo json_encode( array( $package, $item['data'] === $product ) );
    """)
    package, same_object = package
    assert same_object
    (key, item), = package["contents"].items()
    assert item == {"key": key, "product_id": 10, "variation_id": 11, "variation": [],
                    "quantity": 2, "data": {}, "line_tax_data": {"subtotal": [], "total": []},
                    "line_subtotal": 20.0, "line_subtotal_tax": 4.0, "line_total": 20.0,
                    "line_tax": 4.0}
    assert {k: v for k, v in package.items() if k != "contents"} == {
        "contents_cost": 20.0, "applied_coupons": [], "user": {"ID": 0},
        "destination": {"country": "FR", "state": "", "postcode": "75011", "city": "",
                        "address": "", "address_1": "", "address_2": ""},
        "cart_subtotal": 24.0}


@pytest.mark.parametrize(("requires", "minimum", "subtotal", "coupon", "available"), [
    ("", "50", 10.0, False, True),
    ("min_amount", "50", 49.99, False, False),
    ("min_amount", "50", 50.0, False, True),
    ("min_amount", "", 0.0, False, True),
    ("coupon", "0", 100.0, False, False),
    ("coupon", "0", 0.0, True, True),
    ("either", "50", 10.0, True, True),
    ("either", "50", 10.0, False, False),
    ("both", "50", 60.0, False, False),
    ("both", "50", 60.0, True, True),
])
def test_free_shipping_is_judged_on_the_estimated_product(
        php: str, requires: str, minimum: str, subtotal: float, coupon: bool,
        available: bool) -> None:
    result = run_php(php, f"echo json_encode(parcours_free_shipping_available("
                          f"{json.dumps(requires)}, {json.dumps(minimum)}, {subtotal!r}, "
                          f"{'true' if coupon else 'false'}));")
    assert result is available


RATE_CLASS = """
class Rate {
    public function __construct(
        private $id, private $method, private $label, private $cost, private $tax
    ) {}
    public function get_id() { return $this->id; }
    public function get_method_id() { return $this->method; }
    public function get_label() { return $this->label; }
    public function get_cost() { return $this->cost; }
    public function get_shipping_tax() { return $this->tax; }
}
$rates = array(
    new Rate( 'flat_rate:3', 'flat_rate', 'Colissimo', '4.083', 0.817 ),
    new Rate( 'free_shipping:4', 'free_shipping', '<b>Free</b> shipping', '0', 0 ),
);
"""


def test_rates_are_formatted_with_the_tax_display(php: str) -> None:
    incl, excl, yen = run_php(php, RATE_CLASS + """
        echo json_encode( array(
            parcours_format_rates( $rates, true, 2, 'EUR' ),
            parcours_format_rates( $rates, false, 2, 'EUR' ),
            parcours_format_rates( array( $rates[0] ), true, 0, 'JPY' ),
        ) );
    """)
    assert incl == [
        {"id": "flat_rate:3", "method_id": "flat_rate", "label": "Colissimo", "cost": "4.90",
         "name": "Colissimo", "price": "4.90", "currency": "EUR"},
        {"id": "free_shipping:4", "method_id": "free_shipping", "label": "Free shipping",
         "cost": "0.00", "name": "Free shipping", "price": "0.00", "currency": "EUR"},
    ]
    assert [r["cost"] for r in excl] == ["4.08", "0.00"]
    assert yen[0]["cost"] == "5" and yen[0]["currency"] == "JPY"


def test_the_rate_limit_counts_per_address_and_minute(php: str) -> None:
    keys = run_php(php, """
        echo json_encode( array(
            parcours_rate_limit_key( '203.0.113.9', 1700000000 ),
            parcours_rate_limit_key( '203.0.113.9', 1700000019 ),
            parcours_rate_limit_key( '203.0.113.9', 1700000040 ),
            parcours_rate_limit_key( '2001:db8::1', 1700000000 ),
        ) );
    """)
    assert keys[0] == keys[1] != keys[2]
    assert keys[3] != keys[0]
    assert all(k.startswith("parcours_") and len(k) <= 172 for k in keys)


# -- widget mounts: which boxes a page has, and their markup -------------------------------------

def test_each_page_has_its_mounts_where_woocommerce_has_room(php: str) -> None:
    summary = "woocommerce_single_product_summary"
    assert php_call(php, "parcours_widget_mounts", "product", 123) == {
        # After the price (10) and excerpt (20), before the add-to-cart form (30); then after it.
        "shipping_estimate": {"hook": summary, "priority": 25, "min_height": 120,
                              "product_id": 123},
        "express_pay": {"hook": summary, "priority": 35, "min_height": 52, "product_id": 123},
    }
    assert php_call(php, "parcours_widget_mounts", "cart", 0) == {
        "shipping_estimate": {"hook": "woocommerce_before_cart_totals", "priority": 10,
                              "min_height": 120},
        # Around WooCommerce's pay buttons (10) and its checkout button (20).
        "express_pay": {"hook": "woocommerce_proceed_to_checkout", "priority": 5,
                        "min_height": 52},
        "guest_checkout": {"hook": "woocommerce_proceed_to_checkout", "priority": 25,
                           "min_height": 52},
    }
    assert php_call(php, "parcours_widget_mounts", "checkout", 0) == {
        # After the login form, the coupon form and the notices (all 10).
        "guest_checkout": {"hook": "woocommerce_before_checkout_form", "priority": 11,
                           "min_height": 52},
    }
    assert all("review" not in name for page in ("product", "cart", "checkout")
               for name in php_call(php, "parcours_widget_mounts", page, 1))
    # No product known: the product mounts stay, without a product id; other pages have none.
    assert "product_id" not in php_call(php, "parcours_widget_mounts", "product", 0)["express_pay"]
    assert php_call(php, "parcours_widget_mounts", "shop", 0) == []
    assert php_call(php, "parcours_widget_mounts", "", 5) == []


@pytest.mark.parametrize(("name", "mount", "expected"), [
    ("express_pay", {"hook": "woocommerce_proceed_to_checkout", "priority": 5, "min_height": 52},
     {"widget": "express_pay", "hook": "woocommerce_proceed_to_checkout", "priority": 5,
      "min_height": 52, "product_id": 0}),
    # Whatever a theme's filter returned: numeric strings are numbers, no priority is 10,
    # a negative height is 0 (the theme reserves the room itself).
    ("shipping_estimate", {"hook": "storefront_before_content", "min_height": "96.6",
                           "product_id": "7"},
     {"widget": "shipping_estimate", "hook": "storefront_before_content", "priority": 10,
      "min_height": 96, "product_id": 7}),
    ("guest_checkout", {"hook": "x", "priority": "-3", "min_height": -20},
     {"widget": "guest_checkout", "hook": "x", "priority": -3, "min_height": 0,
      "product_id": 0}),
    ("Express-Pay", {"hook": "x", "priority": 5, "min_height": 52}, None),
    ('express_pay"><script>', {"hook": "x", "priority": 5, "min_height": 52}, None),
    (0, {"hook": "x", "priority": 5, "min_height": 52}, None),
    ("express_pay", {"priority": 5, "min_height": 52}, None),
    ("express_pay", {"hook": " ", "priority": 5, "min_height": 52}, None),
    ("express_pay", {"hook": ["x"], "priority": 5, "min_height": 52}, None),
    ("express_pay", {"hook": "x", "priority": "early", "min_height": 52}, None),
    ("express_pay", {"hook": "x", "priority": 5}, None),
    ("express_pay", {"hook": "x", "priority": 5, "min_height": "52px;background:red"}, None),
    ("express_pay", {"hook": "x", "priority": 5, "min_height": 52, "product_id": "1 OR 1"}, None),
    ("express_pay", "woocommerce_proceed_to_checkout", None),
])
def test_a_mount_is_checked_again_after_the_filter(php: str, name: Any, mount: Any,
                                                   expected: dict[str, Any] | None) -> None:
    assert php_call(php, "parcours_widget_mount", name, mount) == expected


def mount_html(php: str, page: str, product_id: int = 0) -> list[str]:
    html: list[str] = run_php(php, f"""
        $html = array();
        foreach ( parcours_widget_mounts( {json.dumps(page)}, {product_id} ) as $name => $mount ) {{
            $html[] = parcours_widget_mount_html( parcours_widget_mount( $name, $mount ) );
        }}
        echo json_encode( $html );
    """)
    return html


def test_the_mount_markup_is_the_shopify_blocks_contract(php: str) -> None:
    assert mount_html(php, "product", 123) == [
        '<div class="parcours-widget" data-parcours-widget="shipping_estimate" '
        'data-product-id="123" style="min-height:120px"></div>\n',
        '<div class="parcours-widget" data-parcours-widget="express_pay" '
        'data-product-id="123" style="min-height:52px"></div>\n',
    ]
    assert mount_html(php, "cart") == [
        '<div class="parcours-widget" data-parcours-widget="shipping_estimate" '
        'style="min-height:120px"></div>\n',
        '<div class="parcours-widget" data-parcours-widget="express_pay" '
        'style="min-height:52px"></div>\n',
        '<div class="parcours-widget" data-parcours-widget="guest_checkout" '
        'style="min-height:52px"></div>\n',
    ]
    (checkout,) = mount_html(php, "checkout")
    page = parse(checkout)
    assert page.tags == [("div", {"class": "parcours-widget",
                                  "data-parcours-widget": "guest_checkout",
                                  "style": "min-height:52px"})]
    assert page.text == []  # empty: the widget fills it


def test_the_mount_template_escapes_every_attribute(php: str) -> None:
    """Whatever the template is given stays in its attribute (heights are numbers anyway:
    parcours_widget_mount() refuses anything else, so no CSS reaches the style)."""
    hostile = {"widget": 'x" onmouseover="alert(1)', "product_id": "1'><script>alert(2)</script>",
               "min_height": '1px;background:url("javascript:alert(3)")'}
    html = run_php(php, f"echo json_encode(parcours_widget_mount_html("
                        f"json_decode({json.dumps(json.dumps(hostile))}, true)));")
    assert "<script" not in html and 'onmouseover="' not in html
    ((tag, attrs),) = parse(html).tags
    assert tag == "div" and set(attrs) == {"class", "data-parcours-widget", "data-product-id",
                                           "style"}
    assert attrs["data-parcours-widget"] == hostile["widget"]
    assert attrs["data-product-id"] == hostile["product_id"]
    assert attrs["style"] == f"min-height:{hostile['min_height']}px"
