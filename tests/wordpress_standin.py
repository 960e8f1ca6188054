"""The shared machinery of the WordPress plugin's tests: php-cli, its stubs, a stand-in WordPress.

No tests here. The tests of tests/test_woocommerce_plugin*.py import from this module: `tool` and
`php_binary` (each test module wraps the latter in its own `php` fixture), STUBS with `run_php` and
`php_call` to run the plugin's pure functions, FAKE_WORDPRESS with `run_plugin` to load the real
parcours.php into a stand-in WordPress, HOOK_LIST, and `parse` to read the HTML the PHP renders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from typing import Any

import pytest

from parcours.adapters.woocommerce.plugin import PLUGIN_ROOT

PURE_FILES = ("functions-config.php", "functions-reviews.php", "functions-shipping.php",
              "functions-templates.php", "functions-mounts.php")


def tool(name: str, path: str) -> str:
    """The path of an external tool, or skip (fail under CI=true, where it must be installed)."""
    found = shutil.which(name) or (path if os.access(path, os.X_OK) else None)
    if found is None:
        message = f"{name} is not installed ({path} missing)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: a missing tool is a failure)")
        pytest.skip(message)
    return found



def php_binary() -> str:
    """The php-cli every test module's `php` fixture runs (skip, or fail under CI, without it)."""
    return tool("php", "/usr/bin/php")


# -- the pure functions, run with php-cli --------------------------------------------------------

# WordPress helpers both the pure-function runs and the stand-in WordPress need.
COMMON_STUBS = r"""
function __( $text, $domain = 'default' ) {
    return $text;
}
function _n( $single, $plural, $number, $domain = 'default' ) {
    return 1 == $number ? $single : $plural;
}
function number_format_i18n( $number, $decimals = 0 ) {
    return number_format( (float) $number, $decimals );
}
function wp_json_encode( $data, $options = 0, $depth = 512 ) {
    return json_encode( $data, $options, $depth );
}
function wp_parse_url( $url, $component = -1 ) {
    return parse_url( $url, $component );
}
"""

STUBS = r"""
define( 'ABSPATH', __DIR__ . '/' );
""" + COMMON_STUBS + r"""function wp_strip_all_tags( $text ) {
    return trim( strip_tags( preg_replace( '@<(script|style)[^>]*?>.*?</\\1>@si', '', $text ) ) );
}
function esc_html( $text ) {
    return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}
function esc_attr( $text ) {
    return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}
function esc_url( $url ) {  // WordPress drops what is not an allowed protocol or a relative URL.
    $ok = preg_match( '#^(https?://|/|\#)#i', (string) $url );
    return $ok ? htmlspecialchars( (string) $url, ENT_QUOTES, 'UTF-8' ) : '';
}
"""


def run_php(php: str, code: str) -> Any:
    """Run `code` after the stubs and the plugin's pure files; its output is JSON."""
    requires = "".join(f"require {json.dumps(str(PLUGIN_ROOT / 'includes' / name))};\n"
                       for name in PURE_FILES)
    script = "<?php\n" + STUBS + requires + code
    result = subprocess.run([php, "-d", "display_errors=stderr", "-d", "error_reporting=-1"],
                            input=script, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stderr, result.stdout + result.stderr
    return json.loads(result.stdout)


def php_call(php: str, function: str, *args: Any) -> Any:
    """`function(*args)` in PHP, arguments and result through JSON (objects as arrays)."""
    encoded = ", ".join(f"json_decode({json.dumps(json.dumps(a))}, true)" for a in args)
    return run_php(php, f"echo json_encode({function}({encoded}));")


class Elements(HTMLParser):
    """Tags with their (unescaped) attributes, and the page's text by tag."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip() and self.tags:
            self.text.append((self.tags[-1][0], data.strip()))


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


# -- the classes, wired into a stand-in WordPress ------------------------------------------------
# WordPress and WooCommerce cannot run here. This stand-in records hooks, keeps options in an
# array and answers the conditional tags, so the real parcours.php loads, boots and runs its
# storefront, settings and reviews code paths end to end.

FAKE_WORDPRESS = r"""
define( 'ABSPATH', __DIR__ . '/' );
define( 'MINUTE_IN_SECONDS', 60 );
$GLOBALS['fake'] = array(
    'hooks' => array(), 'options' => array(), 'page' => 'product', 'user' => 0,
    'scripts' => array(), 'inline' => array(), 'errors' => array(), 'session' => null,
);
function add_filter( $hook, $callback, $priority = 10, $args = 1 ) {
    $GLOBALS['fake']['hooks'][ $hook ][] = array( $callback, $priority, $args );
    return true;
}
function add_action( $hook, $callback, $priority = 10, $args = 1 ) {
    return add_filter( $hook, $callback, $priority, $args );
}
function has_action( $hook, $callback ) {
    foreach ( $GLOBALS['fake']['hooks'][ $hook ] ?? array() as $entry ) {
        if ( $entry[0] === $callback ) {
            return $entry[1];
        }
    }
    return false;
}
function remove_action( $hook, $callback, $priority = 10 ) {
    $GLOBALS['fake']['hooks'][ $hook ] = array_values( array_filter(
        $GLOBALS['fake']['hooks'][ $hook ] ?? array(),
        fn( $e ) => ! ( $e[0] === $callback && $e[1] === $priority )
    ) );
    return true;
}
function apply_filters( $hook, $value, ...$args ) {
    foreach ( $GLOBALS['fake']['hooks'][ $hook ] ?? array() as $entry ) {
        $given = array_slice( array_merge( array( $value ), $args ), 0, $entry[2] );
        $value = call_user_func_array( $entry[0], $given );
    }
    return $value;
}
function do_action( $hook, ...$args ) {  // by priority, then in the order added, as WP_Hook
    $entries = $GLOBALS['fake']['hooks'][ $hook ] ?? array();
    usort( $entries, fn( $a, $b ) => $a[1] <=> $b[1] );
    foreach ( $entries as $entry ) {
        call_user_func_array( $entry[0], array_slice( $args, 0, $entry[2] ) );
    }
}
function get_option( $name, $default = false ) {
    return $GLOBALS['fake']['options'][ $name ] ?? $default;
}
function add_settings_error( $setting, $code, $message ) {
    $GLOBALS['fake']['errors'][] = array( $setting, $code );
}
function esc_url_raw( $url, $protocols = null ) {
    return $url;
}
function plugin_basename( $file ) {
    return 'parcours/' . basename( $file );
}
""" + COMMON_STUBS + r"""function esc_html( $text ) {
    return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}
function esc_attr( $text ) {
    return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}
function esc_url( $url ) {
    return htmlspecialchars( (string) $url, ENT_QUOTES, 'UTF-8' );
}
function comments_open( $id ) {
    return true;
}
function is_product() { return 'product' === $GLOBALS['fake']['page']; }
function is_cart() { return 'cart' === $GLOBALS['fake']['page']; }
function is_checkout() {
    return in_array( $GLOBALS['fake']['page'], array( 'checkout', 'order-received' ), true );
}
function is_wc_endpoint_url() { return 'order-received' === $GLOBALS['fake']['page']; }
function wc_review_ratings_enabled() { return true; }
function get_locale() { return 'fr_FR'; }
function get_woocommerce_currency() { return 'EUR'; }
function get_current_user_id() { return $GLOBALS['fake']['user']; }
function get_queried_object_id() { return 123; }
function wp_salt( $scheme ) { return 'salt-' . $scheme; }
function rest_url( $path ) { return 'https://shop.example/wp-json/' . ltrim( $path, '/' ); }
function wc_get_price_decimals() { return 2; }
function wc_format_decimal( $number, $decimals ) {
    return number_format( (float) $number, $decimals, '.', '' );
}
function wc_get_price_to_display( $product, $args = array() ) {  // 20 % VAT included
    return (float) $product->get_price() * 1.2 * ( $args['qty'] ?? 1 );
}
function wp_enqueue_script( $handle, $src, $deps, $ver, $args ) {
    $GLOBALS['fake']['scripts'][ $handle ] = array( $src, $deps, $ver, $args );
}
function wp_add_inline_script( $handle, $data, $position ) {
    $GLOBALS['fake']['inline'][] = array( $handle, $data, $position );
    return true;
}
class WooCommerce {}
class WC_Session {
    public function __construct( private $id, private $cookie ) {}
    public function has_session() { return $this->cookie; }
    public function get_customer_id() { return $this->id; }
}
class WC_Product {
    public function __construct(
        private $id, private $price, private $average, private $count,
        private $parent = 0, private $status = 'publish', private $ships = true
    ) {}
    public function get_id() { return $this->id; }
    public function get_price() { return $this->price; }
    public function get_average_rating() { return $this->average; }
    public function get_review_count() { return $this->count; }
    public function get_parent_id() { return $this->parent; }
    public function get_status() { return $this->status; }
    public function needs_shipping() { return $this->ships; }
}
function wc_get_product( $id ) {
    return match ( (int) $id ) {
        999 => false,
        124 => new WC_Product( 124, '10', '0', 0, 0, 'publish', false ),  // virtual
        125 => new WC_Product( 125, '10', '0', 0, 0, 'draft' ),
        default => new WC_Product( (int) $id, '10', '4.50', 2 ),
    };
}
class WC_Shipping_Free_Shipping {
    public $requires = 'min_amount';
    public $min_amount = '50';
}
class Fake_Rate {
    public function __construct( private $id, private $cost ) {}
    public function get_id() { return $this->id; }
    public function get_method_id() { return strtok( $this->id, ':' ); }
    public function get_label() { return ucfirst( strtok( $this->id, ':' ) ); }
    public function get_cost() { return $this->cost; }
    public function get_shipping_tax() { return 0; }
}
class Fake_Shipping {
    public function calculate_shipping_for_package( $package, $key ) {
        $GLOBALS['fake']['calculated'][] = array(
            $package['destination'], $package['contents_cost'], $key
        );
        $rates = array( 'flat_rate:1' => new Fake_Rate( 'flat_rate:1', '5' ) );
        $free  = apply_filters( 'woocommerce_shipping_free_shipping_is_available', false,
                                $package, new WC_Shipping_Free_Shipping() );
        if ( $free ) {
            $rates['free_shipping:2'] = new Fake_Rate( 'free_shipping:2', '0' );
        }
        return $package + array( 'rates' => $rates );
    }
}
class Fake_Countries {
    public function get_shipping_countries() {
        return array( 'FR' => 'France', 'US' => 'United States' );
    }
    public function get_states( $country ) {
        return 'US' === $country ? array( 'CA' => 'California' ) : array();
    }
}
class Fake_Cart {
    public function get_coupons() { return array(); }
}
class Fake_WC {
    public $countries;
    public function __construct() { $this->countries = new Fake_Countries(); }
    public function __get( $name ) { return $GLOBALS['fake'][ $name ] ?? null; }
    public function shipping() { return new Fake_Shipping(); }
}
function WC() { return new Fake_WC(); }
class Fake_Customer {
    public function get_shipping_country() { return $GLOBALS['fake']['shipping_country'] ?? ''; }
}
function wc_get_checkout_url() { return 'https://shop.example/checkout/'; }
function wc_load_cart() { $GLOBALS['fake']['cart'] = new Fake_Cart(); }
function wc_get_price_excluding_tax( $product, $args ) {
    return (float) $product->get_price() * $args['qty'];
}
function wc_get_price_including_tax( $product, $args ) {
    return (float) $product->get_price() * 1.2 * $args['qty'];
}
function remove_filter( $hook, $callback, $priority = 10 ) {
    return remove_action( $hook, $callback, $priority );
}
function get_transient( $key ) { return $GLOBALS['fake']['transients'][ $key ] ?? false; }
function set_transient( $key, $value, $ttl ) {
    $GLOBALS['fake']['transients'][ $key ] = $value; return true;
}
function sanitize_text_field( $text ) {
    return is_string( $text ) ? trim( strip_tags( $text ) ) : '';
}
function sanitize_key( $key ) {
    return preg_replace( '/[^a-z0-9_\-]/', '', strtolower( (string) $key ) );
}
function wp_unslash( $value ) { return $value; }
function wp_strip_all_tags( $text ) { return trim( strip_tags( $text ) ); }
function absint( $value ) { return abs( (int) $value ); }
function current_user_can( $capability ) { return 'manage_woocommerce' === $capability; }
function wp_verify_nonce( $nonce, $action ) { return 'nonce-' . $action === $nonce ? 1 : false; }
function update_option( $name, $value, $autoload = null ) {
    $GLOBALS['fake']['options'][ $name ] = $value; return true;
}
function admin_url( $path = '' ) { return 'https://shop.example/wp-admin/' . $path; }
function add_query_arg( $args, $url ) {
    return $url . ( str_contains( $url, '?' ) ? '&' : '?' ) . http_build_query( $args );
}
function wp_safe_redirect( $location ) { $GLOBALS['fake']['redirect'] = $location; return true; }
class WP_Error {
    public function __construct( public $code = '', public $message = '', public $data = null ) {}
}
class WP_REST_Request implements ArrayAccess {
    public function __construct( private $params ) {}
    public function get_param( $key ) { return $this->params[ $key ] ?? null; }
    public function offsetExists( $key ): bool { return isset( $this->params[ $key ] ); }
    public function offsetGet( $key ): mixed { return $this->params[ $key ] ?? null; }
    public function offsetSet( $key, $value ): void { $this->params[ $key ] = $value; }
    public function offsetUnset( $key ): void { unset( $this->params[ $key ] ); }
}
class WP_REST_Response {
    public $headers = array();
    public function __construct( public $data ) {}
    public function header( $key, $value ) { $this->headers[ $key ] = $value; }
}
function rest_ensure_response( $data ) { return new WP_REST_Response( $data ); }
require PARCOURS_MAIN;
"""


def run_plugin(php: str, code: str, wc_version: str | None = "10.2.0") -> Any:
    """Load the real parcours.php in the stand-in WordPress, start it, run `code` (prints JSON)."""
    start = "" if wc_version is None else (
        f"define( 'WC_VERSION', {json.dumps(wc_version)} ); Parcours_Plugin::start();\n")
    main = json.dumps(str(PLUGIN_ROOT / "parcours.php"))
    script = f"<?php\ndefine( 'PARCOURS_MAIN', {main} );\n" + FAKE_WORDPRESS + start + code
    result = subprocess.run([php, "-d", "display_errors=stderr", "-d", "error_reporting=-1"],
                            input=script, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stderr, result.stdout + result.stderr
    return json.loads(result.stdout)


HOOK_LIST = r"""
$hooks = array();
foreach ( $GLOBALS['fake']['hooks'] as $hook => $entries ) {
    foreach ( $entries as $entry ) {
        $name = is_array( $entry[0] ) ? $entry[0][0] . '::' . $entry[0][1] : $entry[0];
        $hooks[] = array( $hook, $name, $entry[1], $entry[2], is_callable( $entry[0] ) );
    }
}
echo json_encode( $hooks );
"""
