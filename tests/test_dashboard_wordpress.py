"""The plugin's "Open Parcours dashboard" button, in the stand-in WordPress (php-cli): the real
parcours.php with WooCommerce's webhooks stubbed. The link it makes is checked against the
server's own signature (adapters/woocommerce/dashboard_login.py); tests/test_dashboard.py and
tests/test_dashboard_browser.py open such links against a running Parcours.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from parcours.adapters.woocommerce.dashboard_login import link_signature
from tests.wordpress_standin import php_binary, run_plugin

SECRET = "the-webhook-secret"


@pytest.fixture(scope="module")
def php() -> str:
    return php_binary()


def _webhooks(hooks: list[tuple[str, str, str]]) -> str:
    """Stubs of WooCommerce's webhook data store holding `hooks` (url, secret, status)."""
    return r"""
class Fake_Webhook {
    public function __construct( private $hook ) {}
    public function get_delivery_url() { return $this->hook[0]; }
    public function get_secret() { return $this->hook[1]; }
    public function get_status() { return $this->hook[2]; }
}
class Fake_Webhook_Store {
    public function search_webhooks( $args ) { return array_keys( $GLOBALS['hooks'] ); }
}
class WC_Data_Store {
    public static function load( $name ) { return new Fake_Webhook_Store(); }
}
function wc_get_webhook( $id ) { return new Fake_Webhook( $GLOBALS['hooks'][ $id ] ); }
function check_admin_referer( $action ) { $GLOBALS['fake']['referer'] = $action; return 1; }
function get_user_locale() { return 'fr_FR'; }
function wp_redirect( $location, $status = 302 ) {
    echo json_encode( array( $location, $status, $GLOBALS['fake']['referer'] ?? null ) );
    return true;
}
register_shutdown_function( function () {  // the stand-in's wp_safe_redirect keeps it
    if ( isset( $GLOBALS['fake']['redirect'] ) ) {
        echo json_encode( array( $GLOBALS['fake']['redirect'], 302, null ) );
    }
} );
$GLOBALS['hooks'] = json_decode( '""" + json.dumps(hooks) + r"""', true );
update_option( 'parcours_url', 'https://parcours.example.com' );
update_option( 'parcours_store_key', 'woo-shop' );
Parcours_Dashboard::open();
"""


def test_the_button_signs_a_link_parcours_accepts(php: str) -> None:
    hooks = [("https://other.example/hook", "not-this-one", "active"),
             ("https://parcours.example.com/webhooks/woocommerce/woo-shop", SECRET, "active")]
    location, status, nonce_action = run_plugin(php, _webhooks(hooks))
    assert (status, nonce_action) == (303, "parcours_dashboard")
    link = urlsplit(location)
    assert f"{link.scheme}://{link.netloc}{link.path}" == (
        "https://parcours.example.com/dashboard/wordpress")
    query = {key: values[0] for key, values in parse_qs(link.query).items()}
    assert query["store"] == "woo-shop" and query["locale"] == "fr"
    assert len(query["nonce"]) == 43 and query["ts"].isdigit()
    assert query["sig"] == link_signature(SECRET, "woo-shop", query["ts"], query["nonce"], "fr")


def test_without_an_active_parcours_webhook_the_merchant_is_told(php: str) -> None:
    hooks = [("https://parcours.example.com/webhooks/woocommerce/woo-shop", SECRET, "disabled")]
    location, status, _ = run_plugin(php, _webhooks(hooks))
    assert "parcours_notice=dashboard" in location and status == 302
