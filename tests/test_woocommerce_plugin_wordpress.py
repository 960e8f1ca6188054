"""The plugin's classes wired into a stand-in WordPress (tests/wordpress_standin.py).

WordPress and WooCommerce cannot run here; the stand-in records hooks, keeps options in an array
and answers the conditional tags, so the real parcours.php loads, boots and runs end to end: the
hooks it registers, the storefront enqueue and loader tag, the settings page and its sanitizing,
the reviews' stars and JSON-LD, the estimate REST route, the return from Parcours' connect flow
and uninstall.php.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
from typing import Any

import pytest

from parcours.adapters.woocommerce.plugin import PLUGIN_ROOT
from tests.wordpress_standin import HOOK_LIST, parse, php_binary, run_plugin


@pytest.fixture(scope="module")
def php() -> str:
    return php_binary()


def test_the_plugin_boots_and_hooks_only_callables(php: str) -> None:
    hooks = run_plugin(php, HOOK_LIST)
    assert all(callable_ for *_, callable_ in hooks), hooks
    assert {(hook, name, priority, args) for hook, name, priority, args, _ in hooks} == {
        ("before_woocommerce_init", "Parcours_Plugin::declare_compatibility", 10, 1),
        ("plugins_loaded", "Parcours_Plugin::start", 10, 1),
        ("init", "Parcours_Plugin::load_textdomain", 10, 1),
        ("admin_menu", "Parcours_Settings::add_page", 60, 1),
        ("admin_init", "Parcours_Settings::register_setting", 10, 1),
        ("option_page_capability_parcours", "Parcours_Settings::capability", 10, 1),
        ("update_option_parcours_url", "Parcours_Settings::server_changed", 10, 2),
        ("admin_post_parcours_disconnect", "Parcours_Settings::disconnect", 10, 1),
        ("admin_post_parcours_dashboard", "Parcours_Dashboard::open", 10, 1),
        ("plugin_action_links_parcours/parcours.php", "Parcours_Settings::action_links", 10, 1),
        ("wp_enqueue_scripts", "Parcours_Storefront::enqueue", 10, 1),
        ("script_loader_tag", "Parcours_Storefront::mark_loader", 10, 2),
        ("woocommerce_add_to_cart_redirect", "Parcours_Storefront::buy_now_redirect", 10, 1),
        ("wp", "Parcours_Mounts::place", 10, 1),
        ("wc_ajax_get_cart_totals", "Parcours_Mounts::place_in_cart_totals", 5, 1),
        ("wc_ajax_update_shipping_method", "Parcours_Mounts::place_in_cart_totals", 5, 1),
        ("wp", "Parcours_Reviews::place_stars", 10, 1),
        ("woocommerce_structured_data_product", "Parcours_Reviews::structured_data", 20, 2),
        ("wp_footer", "Parcours_Reviews::standalone_json_ld", 20, 1),
        ("rest_api_init", "Parcours_Shipping_Estimate::register_route", 10, 1),
        ("woocommerce_checkout_create_order", "Parcours_Stitching::stamp", 10, 1),
        ("woocommerce_store_api_checkout_update_order_meta", "Parcours_Stitching::stamp_and_save",
         10, 1),
    }


def test_an_old_woocommerce_gets_a_notice_and_nothing_else(php: str) -> None:
    hooks = run_plugin(php, HOOK_LIST, wc_version="9.9.0")
    assert [h[:2] for h in hooks if h[0] not in ("before_woocommerce_init", "plugins_loaded",
                                                 "init")] == [
        ["admin_notices", "Parcours_Plugin::woocommerce_missing"]]


CONNECTED = ("$GLOBALS['fake']['options'] = array( 'parcours_url' => 'https://parcours.example.com',"
             " 'parcours_store_key' => 'my-shop' );\n")
ENQUEUE = "Parcours_Storefront::enqueue(); echo json_encode( $GLOBALS['fake'] );"


@pytest.mark.parametrize(("query", "redirect"), [
    ({"parcours": "buy_now"}, "https://shop.example/checkout/"),  # the express widget's link
    ({"parcours": "other"}, "https://shop.example/cart/"),
    ({}, "https://shop.example/cart/"),  # a theme's own add-to-cart link: WooCommerce decides
])
def test_buy_now_ends_on_checkout(php: str, query: dict[str, str], redirect: str) -> None:
    result = run_plugin(php, f"$_GET = json_decode({json.dumps(json.dumps(query))}, true);"
                        "echo json_encode( Parcours_Storefront::buy_now_redirect("
                        " 'https://shop.example/cart/' ) );")
    assert result == redirect


def test_the_storefront_loads_the_loader_deferred_with_the_config_before_it(php: str) -> None:
    fake = run_plugin(php, CONNECTED + "$GLOBALS['fake']['user'] = 42;"
                      "$GLOBALS['fake']['session'] = new WC_Session( '42', true );"
                      "$GLOBALS['fake']['customer'] = new Fake_Customer();"
                      "$GLOBALS['fake']['shipping_country'] = 'BE';" + ENQUEUE)
    assert fake["scripts"] == {"parcours-loader": [
        "https://parcours.example.com/widgets/loader.js", [], None,
        {"strategy": "defer", "in_footer": True}]}
    (handle, script, position), = fake["inline"]
    assert (handle, position) == ("parcours-loader", "before")
    prefix = "window.ParcoursConfig = window.ParcoursConfig || "
    config = json.loads(script.removeprefix(prefix).removesuffix(";"))
    session = hmac.new(b"salt-auth", b"parcours-session|42", hashlib.sha256).hexdigest()[:32]
    assert config == {
        "origin": "https://parcours.example.com", "store": "my-shop", "page": "product",
        "lang": "fr", "currency": "EUR", "product": {"id": "123", "price": "12.00"},
        "shopper": {"customer_id": "42", "wc_session": session}, "country": "BE",
        "endpoints": {"shipping_estimate":
                      "https://shop.example/wp-json/parcours/v1/shipping-estimate",
                      "store_api": "https://shop.example/wp-json/wc/store/v1",
                      "checkout_url": "https://shop.example/checkout/"}}


@pytest.mark.parametrize(("setup", "page"), [
    ("", "product"),  # not connected
    (CONNECTED, "order-received"),  # a checkout endpoint, not the checkout
    (CONNECTED, "shop"),
    (CONNECTED.replace("https://parcours", "http://parcours"), "cart"),  # edited to http
])
def test_nothing_loads_where_parcours_has_no_business(php: str, setup: str, page: str) -> None:
    fake = run_plugin(php, setup + f"$GLOBALS['fake']['page'] = {json.dumps(page)};" + ENQUEUE)
    assert (fake["scripts"], fake["inline"]) == ([], [])


def test_a_guest_without_a_session_sends_no_session(php: str) -> None:
    fake = run_plugin(php, CONNECTED + "$GLOBALS['fake']['page'] = 'cart';"
                      "$GLOBALS['fake']['session'] = new WC_Session( 't_abc', false );" + ENQUEUE)
    config = fake["inline"][0][1]
    assert '"shopper":{"customer_id":null,"wc_session":null}' in config
    assert '"product"' not in config and '"page":"cart"' in config


@pytest.mark.parametrize("tag", [
    # WordPress 6.4+ (wp_get_script_tag) and the older quoting, the inline script included.
    '<script id="parcours-loader-js-before">\nwindow.ParcoursConfig = {};\n</script>\n'
    '<script src="https://p.example/widgets/loader.js" id="parcours-loader-js" defer '
    'data-wp-strategy="defer"></script>\n',
    "<script id='parcours-loader-js-before'>\nwindow.ParcoursConfig = {};\n</script>\n"
    "<script src='https://p.example/widgets/loader.js' id='parcours-loader-js' defer "
    "data-wp-strategy='defer'></script>\n",
])
def test_the_loader_tag_is_marked_like_shopify_boot_marks_it(php: str, tag: str) -> None:
    marked, other = run_plugin(php, f"echo json_encode( array("
                                    f"Parcours_Storefront::mark_loader({json.dumps(tag)}, "
                                    f"'parcours-loader'), Parcours_Storefront::mark_loader("
                                    f"{json.dumps(tag)}, 'jquery') ) );")
    assert other == tag
    assert marked.count('data-parcours="loader"') == 1
    loader = marked.split("</script>")[1]
    assert 'data-parcours="loader"' in loader and "widgets/loader.js" in loader


# WooCommerce's own callbacks on the hooks the mounts use (wc-template-hooks.php), each printing
# its name, and the page rendered: the mounts must land between them at their places.
WOOCOMMERCE_TEMPLATES = r"""
function wc_part( $name ) {
    return function () use ( $name ) { echo '<p>' . $name . '</p>'; };
}
$summary = 'woocommerce_single_product_summary';
add_action( $summary, 'woocommerce_template_single_title', 5 );
add_action( $summary, 'woocommerce_template_single_rating', 10 );
add_action( $summary, wc_part( 'price' ), 10 );
add_action( $summary, wc_part( 'excerpt' ), 20 );
add_action( $summary, wc_part( 'add_to_cart' ), 30 );
add_action( $summary, wc_part( 'meta' ), 40 );
add_action( 'woocommerce_before_cart_totals', wc_part( 'cart_totals' ), 99 );
add_action( 'woocommerce_proceed_to_checkout', wc_part( 'pay_buttons' ), 10 );
add_action( 'woocommerce_proceed_to_checkout', wc_part( 'checkout_button' ), 20 );
add_action( 'woocommerce_before_checkout_form', wc_part( 'login_form' ), 10 );
add_action( 'woocommerce_before_checkout_form', wc_part( 'coupon_form' ), 10 );
add_action( 'woocommerce_before_checkout_form', wc_part( 'notices' ), 10 );
function woocommerce_template_single_title() { echo '<p>title</p>'; }
function woocommerce_template_single_rating() { echo '<p>rating</p>'; }
function render_page() {  // the page's template; elsewhere all of them, to see nothing added
    global $product;
    $product = new WC_Product( 123, '10', '4.50', 2 );
    $page    = $GLOBALS['fake']['page'];
    ob_start();
    if ( ! in_array( $page, array( 'cart', 'checkout' ), true ) ) {
        do_action( 'woocommerce_single_product_summary' );
    }
    if ( ! in_array( $page, array( 'product', 'checkout' ), true ) ) {
        do_action( 'woocommerce_before_cart_totals' );
        do_action( 'woocommerce_proceed_to_checkout' );
    }
    if ( ! in_array( $page, array( 'product', 'cart' ), true ) ) {
        do_action( 'woocommerce_before_checkout_form', 'WC_Checkout' );
    }
    return ob_get_clean();
}
"""
PLACE = ("Parcours_Reviews::place_stars(); Parcours_Mounts::place();"
         "echo json_encode( render_page() );")


def page_parts(html: str) -> list[str]:
    """WooCommerce's parts by name, Parcours' widgets as [name]."""
    return [part or f"[{widget}]" for part, widget in
            re.findall(r'<p>(\w+)</p>|<div class="parcours-widget" data-parcours-widget="(\w+)"',
                       html)]


@pytest.mark.parametrize(("page", "parts"), [
    # The stars replace WooCommerce's rating line, in its place; no review mount.
    ("product", ["title", "[review_stars]", "price", "excerpt", "[shipping_estimate]",
                 "add_to_cart", "[express_pay]", "meta"]),
    ("cart", ["[shipping_estimate]", "cart_totals", "[express_pay]", "pay_buttons",
              "checkout_button", "[guest_checkout]"]),
    ("checkout", ["login_form", "coupon_form", "notices", "[guest_checkout]"]),
])
def test_the_mounts_land_at_their_places_in_woocommerce_templates(php: str, page: str,
                                                                  parts: list[str]) -> None:
    html = run_plugin(php, CONNECTED + f"$GLOBALS['fake']['page'] = {json.dumps(page)};"
                      + WOOCOMMERCE_TEMPLATES + PLACE)
    assert page_parts(html) == parts
    mounts = re.findall(r'<div class="parcours-widget" data-parcours-widget="(?!review_stars).*',
                        html)
    expected = {
        "product": ['<div class="parcours-widget" data-parcours-widget="shipping_estimate" '
                    'data-product-id="123" style="min-height:120px"></div>',
                    '<div class="parcours-widget" data-parcours-widget="express_pay" '
                    'data-product-id="123" style="min-height:52px"></div>'],
        "cart": ['<div class="parcours-widget" data-parcours-widget="shipping_estimate" '
                 'style="min-height:120px"></div>',
                 '<div class="parcours-widget" data-parcours-widget="express_pay" '
                 'style="min-height:52px"></div>',
                 '<div class="parcours-widget" data-parcours-widget="guest_checkout" '
                 'style="min-height:52px"></div>'],
        "checkout": ['<div class="parcours-widget" data-parcours-widget="guest_checkout" '
                     'style="min-height:52px"></div>'],
    }
    assert mounts == expected[page]


def test_the_mounts_are_hooked_on_wp_at_their_priorities(php: str) -> None:
    hooks = run_plugin(php, CONNECTED + """
        do_action( 'wp' );
        $hooks = array();
        foreach ( $GLOBALS['fake']['hooks'] as $hook => $entries ) {
            foreach ( $entries as $entry ) {
                if ( $entry[0] instanceof Closure ) {
                    $hooks[] = array( $hook, $entry[1], $entry[2] );
                }
            }
        }
        echo json_encode( $hooks );
    """)
    assert hooks == [["woocommerce_single_product_summary", 25, 0],
                     ["woocommerce_single_product_summary", 35, 0]]


@pytest.mark.parametrize(("setup", "page"), [
    ("", "product"),  # not connected
    ("", "cart"),
    (CONNECTED, "order-received"),  # a checkout endpoint, not the checkout
    (CONNECTED, "shop"),
    (CONNECTED.replace("https://parcours", "http://parcours"), "checkout"),  # edited to http
])
def test_no_mount_where_parcours_has_no_business(php: str, setup: str, page: str) -> None:
    html = run_plugin(php, setup + f"$GLOBALS['fake']['page'] = {json.dumps(page)};"
                      + WOOCOMMERCE_TEMPLATES + PLACE)
    parts = page_parts(html)
    assert parts and [part for part in parts if part.startswith("[")] in ([], ["[review_stars]"])


CART_TOTALS_AJAX = r"""
// WC_AJAX::get_cart_totals() and update_shipping_method(): the cart totals, rendered on a
// wc-ajax request, where is_cart() was false when the main query ran.
$answer = function () {
    ob_start();
    do_action( 'woocommerce_before_cart_totals' );
    do_action( 'woocommerce_proceed_to_checkout' );
    $GLOBALS['fake']['answers'][] = ob_get_clean();
};
add_action( 'wc_ajax_get_cart_totals', $answer, 10 );
add_action( 'wc_ajax_update_shipping_method', $answer, 10 );
$GLOBALS['fake']['page'] = 'shop';  // /?wc-ajax=...: the front page to the main query
do_action( 'wp' );
do_action( 'wc_ajax_' . AJAX_ACTION );
echo json_encode( $GLOBALS['fake']['answers'] );
"""


@pytest.mark.parametrize("action", ["get_cart_totals", "update_shipping_method"])
@pytest.mark.parametrize("connected", [True, False])
def test_the_cart_totals_woocommerce_refreshes_keep_their_mounts(php: str, action: str,
                                                                 connected: bool) -> None:
    """WooCommerce's cart script swaps the totals for this answer after a shipping change."""
    (answer,) = run_plugin(php, (CONNECTED if connected else "")
                           + f"define( 'AJAX_ACTION', {json.dumps(action)} );" + CART_TOTALS_AJAX)
    widgets = re.findall(r'data-parcours-widget="(\w+)"', answer)
    assert widgets == (["shipping_estimate", "express_pay", "guest_checkout"] if connected
                       else [])


THEME_FILTER = r"""
add_filter( 'parcours_widget_mounts', function ( $mounts, $page ) {
    $GLOBALS['fake']['filtered'][] = array( $page, $mounts );
    if ( 'product' === $page ) {
        $mounts['express_pay']['min_height'] = 64;             // resized
        $mounts['shipping_estimate']['priority'] = 15;         // moved above the excerpt
        $mounts['review_list'] = array( 'hook' => 'woocommerce_single_product_summary',
                                        'priority' => 45, 'min_height' => 'tall' );  // refused
        $mounts['Bad name'] = array( 'hook' => 'x', 'priority' => 1, 'min_height' => 1 );
    } else {
        unset( $mounts['guest_checkout'] );                    // removed
    }
    return $mounts;
}, 10, 2 );
"""


@pytest.mark.parametrize(("page", "parts"), [
    ("product", ["title", "[review_stars]", "price", "[shipping_estimate]", "excerpt",
                 "add_to_cart", "[express_pay]", "meta"]),
    ("cart", ["[shipping_estimate]", "cart_totals", "[express_pay]", "pay_buttons",
              "checkout_button"]),
])
def test_a_theme_moves_resizes_or_removes_mounts_with_the_filter(php: str, page: str,
                                                                 parts: list[str]) -> None:
    html, filtered = run_plugin(
        php, CONNECTED + f"$GLOBALS['fake']['page'] = {json.dumps(page)};" + WOOCOMMERCE_TEMPLATES
        + THEME_FILTER + "Parcours_Reviews::place_stars(); Parcours_Mounts::place();"
        "echo json_encode( array( render_page(), $GLOBALS['fake']['filtered'] ) );")
    assert page_parts(html) == parts
    ((filtered_page, given),) = filtered
    assert filtered_page == page and set(given) >= {"shipping_estimate", "express_pay"}
    if page == "product":
        assert given["express_pay"] == {"hook": "woocommerce_single_product_summary",
                                        "priority": 35, "min_height": 52, "product_id": 123}
        assert ('data-parcours-widget="express_pay" data-product-id="123" '
                'style="min-height:64px"') in html


def test_a_filter_returning_nonsense_prints_no_mount(php: str) -> None:
    html = run_plugin(php, CONNECTED + WOOCOMMERCE_TEMPLATES
                      + "add_filter( 'parcours_widget_mounts', fn() => 'none' );" + PLACE)
    assert page_parts(html) == ["title", "[review_stars]", "price", "excerpt", "add_to_cart",
                                "meta"]


def test_the_server_url_setting_keeps_the_old_value_on_bad_input(php: str) -> None:
    result = run_plugin(php, CONNECTED + """
        echo json_encode( array(
            Parcours_Settings::sanitize_server_url( ' https://New.Example.com/parcours/ ' ),
            Parcours_Settings::sanitize_server_url( 'http://insecure.example.com' ),
            Parcours_Settings::sanitize_server_url( array( 'x' ) ),
            Parcours_Settings::sanitize_server_url( '' ),
            $GLOBALS['fake']['errors'],
        ) );
    """)
    assert result == ["https://new.example.com/parcours", "https://parcours.example.com",
                      "https://parcours.example.com", "",
                      [["parcours_url", "parcours_url_invalid"]] * 2]


def test_woocommerce_rating_line_is_replaced_and_its_json_ld_completed(php: str) -> None:
    result = run_plugin(php, CONNECTED + """
        $hook = 'woocommerce_single_product_summary';
        add_action( $hook, 'woocommerce_template_single_title', 5 );
        add_action( $hook, 'woocommerce_template_single_rating', 10 );
        add_action( $hook, 'woocommerce_template_single_price', 10 );
        Parcours_Reviews::place_stars();
        $summary = array_map(
            fn( $e ) => array( is_array( $e[0] ) ? implode( '::', $e[0] ) : $e[0], $e[1] ),
            $GLOBALS['fake']['hooks']['woocommerce_single_product_summary']
        );
        $markup = apply_filters( 'woocommerce_structured_data_product',
            array( '@type' => 'Product',
                   'aggregateRating' => array( 'ratingValue' => '4.50', 'reviewCount' => 2 ) ),
            new WC_Product( 5, '10', '4.50', 2 ) );
        global $product;
        $product = new WC_Product( 5, '10', '4.50', 2 );
        ob_start();
        Parcours_Reviews::render_stars();
        echo json_encode( array( $summary, $markup, ob_get_clean() ) );
    """)
    summary, markup, html = result
    # Where the rating line was: after the title, before the price (also at 10, added later).
    assert summary == [["woocommerce_template_single_title", 5],
                       ["woocommerce_template_single_price", 10],
                       ["Parcours_Reviews::render_stars", 9]]
    assert markup["aggregateRating"] == {"@type": "AggregateRating", "ratingValue": 4.5,
                                         "reviewCount": 2, "bestRating": 5, "worstRating": 1}
    assert 'data-parcours-widget="review_stars"' in html and "(2 reviews)" in html


ESTIMATE = r"""
$_SERVER['REMOTE_ADDR'] = '203.0.113.9';
function estimate( $params ) {
    $params  += array( 'state' => '', 'postcode' => '', 'quantity' => 1 );
    $answer   = Parcours_Shipping_Estimate::respond( new WP_REST_Request( $params ) );
    return $answer instanceof WP_Error
        ? array( 'error' => array( $answer->code, $answer->data['status'] ) )
        : array( 'data' => $answer->data, 'headers' => $answer->headers );
}
"""


def test_the_estimate_runs_woocommerce_shipping_for_the_product(php: str) -> None:
    one, five, virtual, calculated, filters_left = run_plugin(php, CONNECTED + ESTIMATE + """
        echo json_encode( array(
            estimate( array( 'country' => 'FR', 'postcode' => '75011', 'product_id' => 123 ) ),
            estimate( array( 'country' => 'FR', 'postcode' => '75011', 'product_id' => 123,
                             'quantity' => 5 ) ),
            estimate( array( 'country' => 'FR', 'product_id' => 124 ) ),
            $GLOBALS['fake']['calculated'],
            $GLOBALS['fake']['hooks']['woocommerce_shipping_free_shipping_is_available'] ?? array(),
        ) );
    """)
    flat = {"id": "flat_rate:1", "method_id": "flat_rate", "label": "Flat_rate", "cost": "5.00",
            "name": "Flat_rate", "price": "5.00", "currency": "EUR"}
    assert one == {"data": {"country": "FR", "state": "", "province": "", "postcode": "75011",
                            "currency": "EUR", "needs_shipping": True, "rates": [flat]},
                   "headers": {"Cache-Control": "private, max-age=60"}}
    # 5 x 12.00 displayed reaches free shipping's 50.00 minimum: judged on the product.
    assert [r["id"] for r in five["data"]["rates"]] == ["flat_rate:1", "free_shipping:2"]
    assert virtual["data"]["needs_shipping"] is False and virtual["data"]["rates"] == []
    destination = {"country": "FR", "state": "", "postcode": "75011", "city": "", "address": "",
                   "address_1": "", "address_2": ""}
    assert calculated == [[destination, 10.0, "parcours_estimate"],
                          [destination, 50.0, "parcours_estimate"]]
    assert filters_left == []  # the free shipping filter only lives during an estimate


def test_the_estimate_is_rate_limited_per_address(php: str) -> None:
    answers = run_plugin(php, CONNECTED + ESTIMATE + """
        $answers = array();
        for ( $i = 0; $i < 31; $i++ ) {
            $answers[] = estimate( array( 'country' => 'FR', 'product_id' => 123 ) );
        }
        $_SERVER['REMOTE_ADDR'] = '198.51.100.7';
        $answers[] = estimate( array( 'country' => 'FR', 'product_id' => 123 ) );
        echo json_encode( array_map( fn( $a ) => $a['error'] ?? 'ok', $answers ) );
    """)
    assert answers == ["ok"] * 30 + [["parcours_rate_limited", 429], "ok"]


def test_bad_estimate_arguments_get_a_400_naming_them(php: str) -> None:
    verdicts = run_plugin(php, CONNECTED + """
        $us = new WP_REST_Request( array( 'country' => 'US' ) );
        $fr = new WP_REST_Request( array( 'country' => 'FR' ) );
        $verdicts = array(
            Parcours_Shipping_Estimate::validate_country( 'FR' ),
            Parcours_Shipping_Estimate::validate_country( 'JP' ),
            Parcours_Shipping_Estimate::validate_state( 'CA', $us ),
            Parcours_Shipping_Estimate::validate_state( 'ZZ', $us ),
            Parcours_Shipping_Estimate::validate_state( 'ZZ', $fr ),
            Parcours_Shipping_Estimate::validate_product_id( '123' ),
            Parcours_Shipping_Estimate::validate_product_id( '999' ),
            Parcours_Shipping_Estimate::validate_product_id( '125' ),
            Parcours_Shipping_Estimate::validate_product_id( 'abc' ),
            Parcours_Shipping_Estimate::validate_quantity( '0' ),
        );
        echo json_encode( array_map(
            fn( $v ) => true === $v ? true : array( $v->code, $v->data['status'], $v->message ),
            $verdicts
        ) );
    """)
    assert verdicts[0] is True and verdicts[2] is True and verdicts[5] is True
    bad = {index: verdicts[index] for index in (1, 3, 4, 6, 7, 8, 9)}
    for code, status, _ in bad.values():
        assert (code, status) == ("rest_invalid_param", 400)
    assert [message.split(" ")[0] for _, _, message in bad.values()] == [
        "country", "state", "state", "product_id", "product_id", "product_id", "quantity"]
    assert bad[7][2] == "product_id is not a product of this store."  # a draft stays private


CONNECT_RETURN = r"""
register_shutdown_function( function () {
    echo json_encode( array(
        'key'      => $GLOBALS['fake']['options']['parcours_store_key'] ?? null,
        'redirect' => $GLOBALS['fake']['redirect'] ?? null,
    ) );
} );
$GLOBALS['fake']['options'] = array( 'parcours_url' => 'https://parcours.example.com' );
"""


@pytest.mark.parametrize(("query", "key", "notice"), [
    ({"parcours_connected": "1", "store_key": "my-shop", "state": "nonce-parcours_connect"},
     "my-shop", "connected"),
    ({"parcours_connected": "1", "store_key": "my-shop", "state": "forged"}, None, "state"),
    ({"parcours_connected": "1", "store_key": "my-shop"}, None, "state"),
    ({"parcours_connected": "0", "state": "nonce-parcours_connect"}, None, "failed"),
    ({"parcours_connected": "1", "store_key": "Evil<b>", "state": "nonce-parcours_connect"},
     None, "key"),
])
def test_the_return_from_parcours_is_checked_then_the_url_cleaned(
        php: str, query: dict[str, str], key: str | None, notice: str) -> None:
    result = run_plugin(php, CONNECT_RETURN + f"$_GET = json_decode({json.dumps(json.dumps(query))}"
                             ", true); Parcours_Settings::on_load();")
    assert result == {"key": key, "redirect": "https://shop.example/wp-admin/admin.php"
                                              f"?page=parcours&parcours_notice={notice}"}


SETTINGS_PAGE = r"""
function settings_fields( $group ) {
    echo '<input type="hidden" name="option_page" value="' . esc_attr( $group ) . '" />';
}
function do_settings_sections( $page ) { Parcours_Settings::render_url_field(); }
function submit_button( $text = null, $type = 'primary', $name = 'submit', $wrap = true ) {
    echo '<button>' . esc_html( $text ?? 'Save Changes' ) . '</button>';
}
function settings_errors() {}
function esc_html_e( $text, $domain ) { echo esc_html( $text ); }
function esc_html__( $text, $domain ) { return esc_html( $text ); }
function get_admin_page_title() { return 'Parcours'; }
function wp_nonce_field( $action ) { echo '<input type="hidden" name="_wpnonce" value="n" />'; }
function home_url() { return 'https://shop.example'; }
function wp_create_nonce( $action ) { return 'nonce-' . $action; }
ob_start();
Parcours_Settings::render();
echo json_encode( ob_get_clean() );
"""


@pytest.mark.parametrize("connected", [True, False])
def test_the_settings_page_shows_the_status_and_the_connect_link(php: str,
                                                                 connected: bool) -> None:
    options = "'parcours_url' => 'https://parcours.example.com',"
    if connected:
        options += "'parcours_store_key' => 'my-shop',"
    html = run_plugin(php, f"$GLOBALS['fake']['options'] = array( {options} );\n" + SETTINGS_PAGE)
    page = parse(html)
    url_input = next(attrs for tag, attrs in page.tags if attrs.get("id") == "parcours_url")
    assert url_input["value"] == "https://parcours.example.com"
    assert url_input["type"] == "url" and url_input["name"] == "parcours_url"
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    texts = [text for _, text in page.text]
    if connected:
        assert "Connected as store my-shop" in texts and links == []
        assert any(attrs.get("value") == "parcours_disconnect" for _, attrs in page.tags)
    else:
        assert "Not connected" in texts
        (link,) = links
        assert link == ("https://parcours.example.com/woocommerce/connect?store_url="
                        "https%3A%2F%2Fshop.example&return_url=https%3A%2F%2Fshop.example"
                        "%2Fwp-admin%2Fadmin.php%3Fpage%3Dparcours&state=nonce-parcours_connect")
        assert "&amp;return_url=" in html  # the & of the query is escaped in the attribute


UNINSTALL = r"""
define( 'ABSPATH', __DIR__ . '/' );
define( 'WP_UNINSTALL_PLUGIN', 'parcours/parcours.php' );
$GLOBALS['log'] = array();
class Fake_Wpdb {
    public $options = 'wp_options';
    public $postmeta = 'wp_postmeta';
    public $prefix = 'wp_';
    public function esc_like( $text ) { return addcslashes( $text, '_%\\' ); }
    public function prepare( $query, ...$args ) {
        return vsprintf( str_replace( '%s', "'%s'", $query ), $args );
    }
    public function query( $sql ) { $GLOBALS['log'][] = array( 'query', $sql ); return 1; }
    public function delete( $table, $where ) {
        $GLOBALS['log'][] = array( 'delete', $table, $where );
        return 1;
    }
    public function get_var( $sql ) { return 'wp_wc_orders_meta'; }
}
$GLOBALS['wpdb'] = new Fake_Wpdb();
function delete_option( $name ) { $GLOBALS['log'][] = array( 'delete_option', $name ); }
function is_multisite() { return MULTISITE; }
function get_sites( $args ) { return array( 1, 2 ); }
function switch_to_blog( $id ) { $GLOBALS['log'][] = array( 'switch_to_blog', $id ); }
function restore_current_blog() { $GLOBALS['log'][] = array( 'restore_current_blog' ); }
require UNINSTALL_FILE;
echo json_encode( $GLOBALS['log'] );
"""


def run_uninstall(php: str, multisite: bool) -> list[list[Any]]:
    script = ("<?php\n" + f"define( 'MULTISITE', {'true' if multisite else 'false'} );\n"
              + f"define( 'UNINSTALL_FILE', {json.dumps(str(PLUGIN_ROOT / 'uninstall.php'))} );\n"
              + UNINSTALL)
    result = subprocess.run([php, "-d", "display_errors=stderr", "-d", "error_reporting=-1"],
                            input=script, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stderr, result.stdout + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_uninstall_removes_options_transients_and_order_meta(php: str) -> None:
    log = run_uninstall(php, multisite=False)
    assert log == [
        ["delete_option", "parcours_url"], ["delete_option", "parcours_store_key"],
        ["query", r"DELETE FROM wp_options WHERE option_name LIKE '\_transient\_parcours\_%'"
                  r" OR option_name LIKE '\_transient\_timeout\_parcours\_%'"],
        ["delete", "wp_postmeta", {"meta_key": "_parcours_session"}],
        ["delete", "wp_wc_orders_meta", {"meta_key": "_parcours_session"}],
    ]
    options = [entry[1] for entry in log if entry[0] == "delete_option"]
    main = (PLUGIN_ROOT / "includes" / "class-parcours-options.php").read_text(encoding="utf-8")
    assert "const ALL = array( self::SERVER_URL, self::STORE_KEY );" in main
    assert options == ["parcours_url", "parcours_store_key"]  # = Parcours_Options::ALL


def test_uninstall_cleans_every_site_of_a_network(php: str) -> None:
    log = run_uninstall(php, multisite=True)
    assert [entry for entry in log if entry[0] in ("switch_to_blog", "restore_current_blog")] \
        == [["switch_to_blog", 1], ["restore_current_blog"], ["switch_to_blog", 2],
            ["restore_current_blog"]]
    assert sum(entry == ["delete_option", "parcours_store_key"] for entry in log) == 2


def test_uninstall_does_nothing_when_loaded_directly(php: str) -> None:
    """Outside WordPress' uninstaller (no WP_UNINSTALL_PLUGIN) the file must not run."""
    script = ("<?php define( 'ABSPATH', '/' ); function delete_option( $n ) { echo 'ran'; }\n"
              f"require {json.dumps(str(PLUGIN_ROOT / 'uninstall.php'))}; echo 'unreached';")
    result = subprocess.run([php], input=script, capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (0, "")
