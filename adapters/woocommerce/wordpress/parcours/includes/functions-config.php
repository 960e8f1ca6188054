<?php
/**
 * Connection and storefront config: pure functions (no WordPress state, no I/O).
 *
 * Kept free of WordPress globals so that the tests run them with php-cli and a few stubs; the
 * classes feed them what WordPress and WooCommerce know.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * Parcours' own store key pattern (parcours.accounts.STORE_KEY): anything else is refused.
 */
const PARCOURS_STORE_KEY_PATTERN = '/^[a-z0-9][a-z0-9-]{1,62}$/';

/**
 * The Parcours server URL in canonical form, or '' when it is not acceptable.
 *
 * Only https (the storefront loads a script from it and shoppers' events go there), a host, an
 * optional port and path; no credentials, query or fragment, which would end up in every page.
 *
 * @param string $raw What the merchant typed.
 * @return string e.g. "https://parcours.example.com" (no trailing slash), or ''.
 */
function parcours_normalize_server_url( string $raw ): string {
	$raw = trim( $raw );
	if ( '' === $raw || strlen( $raw ) > 2000 || preg_match( '/[\x00-\x20\x7f<>"\'`\\\\{}|^]/', $raw ) ) {
		return '';
	}
	$parts = wp_parse_url( $raw );
	if ( ! is_array( $parts ) || 'https' !== strtolower( (string) ( $parts['scheme'] ?? '' ) ) ) {
		return '';
	}
	if ( isset( $parts['user'] ) || isset( $parts['pass'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
		return '';
	}
	$host = strtolower( (string) ( $parts['host'] ?? '' ) );
	if ( ! preg_match( '/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/', $host ) ) {
		return '';
	}
	$port = isset( $parts['port'] ) ? ':' . (int) $parts['port'] : '';
	$path = rtrim( (string) ( $parts['path'] ?? '' ), '/' );
	if ( '' !== $path && ! preg_match( '#^(/[A-Za-z0-9._~%-]+)+$#', $path ) ) {
		return '';
	}
	return 'https://' . $host . $port . $path;
}

/**
 * The store key Parcours sent back, or '' when it does not look like one.
 *
 * @param mixed $raw Query value.
 * @return string
 */
function parcours_sanitize_store_key( $raw ): string {
	$key = is_string( $raw ) ? trim( $raw ) : '';
	return preg_match( PARCOURS_STORE_KEY_PATTERN, $key ) ? $key : '';
}

/**
 * The page language the widgets speak: the primary subtag of the WordPress locale.
 *
 * @param string $locale e.g. "fr_FR", "en_US", "de_DE_formal".
 * @return string e.g. "fr"; "en" when the locale is unusable.
 */
function parcours_language( string $locale ): string {
	$primary = strtolower( explode( '_', str_replace( '-', '_', $locale ), 2 )[0] );
	return preg_match( '/^[a-z]{2,3}$/', $primary ) ? $primary : 'en';
}

/**
 * Where the Connect button sends the merchant.
 *
 * Parcours answers by sending the merchant to WooCommerce's own key approval page
 * (/wc-auth/v1/authorize), then back to `return_url` with `parcours_connected`, `store_key` and
 * the same `state`, which the plugin checks (a WordPress nonce for this user and action), so
 * that nobody can connect the store to their own Parcours store through a crafted link.
 *
 * @param string $server     Normalised Parcours URL.
 * @param string $store_url  home_url(): the store Parcours connects.
 * @param string $return_url The settings page, absolute.
 * @param string $state      Nonce echoed back by Parcours.
 * @return string
 */
function parcours_connect_url( string $server, string $store_url, string $return_url, string $state ): string {
	$query = http_build_query(
		array(
			'store_url'  => $store_url,
			'return_url' => $return_url,
			'state'      => $state,
		),
		'',
		'&',
		PHP_QUERY_RFC3986
	);
	return $server . '/woocommerce/connect?' . $query;
}

/**
 * The shopper's WooCommerce session as a pseudonymous identity.
 *
 * The session id is not sent as is: it names the session row that holds the cart, and a keyed
 * hash is enough to stitch (the same session always gives the same value on this site).
 *
 * @param string $session_customer_id WC()->session->get_customer_id(): a user id or a random guest id.
 * @param string $key                 Site secret (wp_salt()).
 * @return string|null 32 hex characters, or null without a session.
 */
function parcours_session_identity( string $session_customer_id, string $key ): ?string {
	if ( '' === $session_customer_id || '' === $key ) {
		return null;
	}
	return substr( hash_hmac( 'sha256', 'parcours-session|' . $session_customer_id, $key ), 0, 32 );
}

/**
 * The config object the widget loader reads as window.ParcoursConfig.
 *
 * Same names as the Shopify app embed's config (origin, store, lang), plus what only the
 * WordPress side knows: the page, the currency, the product, the shopper's identities and the
 * store-side endpoints. Identifiers are strings, as in Parcours' events.
 *
 * @param array $facts {
 *     @type string      $origin              Parcours URL.
 *     @type string      $store               Store key.
 *     @type string      $page                "product", "cart" or "checkout".
 *     @type string      $locale              get_locale().
 *     @type string      $currency            get_woocommerce_currency().
 *     @type int|null    $product_id          On product pages.
 *     @type string|null $product_price       Display price, decimal string.
 *     @type int         $customer_id         get_current_user_id(): 0 for guests.
 *     @type string|null $session             parcours_session_identity().
 *     @type string      $country             The shopper's shipping country (base or geolocated).
 *     @type string      $shipping_estimate   REST URL of the shipping estimate.
 *     @type string      $store_api           REST URL of WooCommerce's Store API (wc/store/v1).
 *     @type string      $checkout_url        wc_get_checkout_url().
 * }
 * @return array
 */
function parcours_storefront_config( array $facts ): array {
	$config = array(
		'origin'   => rtrim( (string) $facts['origin'], '/' ),
		'store'    => (string) $facts['store'],
		'page'     => (string) $facts['page'],
		'lang'     => parcours_language( (string) ( $facts['locale'] ?? '' ) ),
		'currency' => strtoupper( (string) ( $facts['currency'] ?? '' ) ),
	);
	if ( 'product' === $config['page'] && ! empty( $facts['product_id'] ) ) {
		$config['product'] = array(
			'id'    => (string) (int) $facts['product_id'],
			'price' => isset( $facts['product_price'] ) && '' !== $facts['product_price'] ? (string) $facts['product_price'] : null,
		);
	}
	$customer_id        = (int) ( $facts['customer_id'] ?? 0 );
	$config['shopper']  = array(
		'customer_id' => $customer_id > 0 ? (string) $customer_id : null,
		'wc_session'  => $facts['session'] ?? null,
	);
	$country = strtoupper( (string) ( $facts['country'] ?? '' ) );
	if ( preg_match( '/^[A-Z]{2}$/', $country ) ) {
		$config['country'] = $country;
	}
	// The widgets' storefront paths name these (Parcours' WooCommerce storefront description):
	// the plugin's estimate route, the cart through the Store API, the checkout.
	$config['endpoints'] = array(
		'shipping_estimate' => (string) ( $facts['shipping_estimate'] ?? '' ),
		'store_api'         => rtrim( (string) ( $facts['store_api'] ?? '' ), '/' ),
		'checkout_url'      => (string) ( $facts['checkout_url'] ?? '' ),
	);
	return $config;
}

/**
 * The inline script that defines window.ParcoursConfig before the loader runs.
 *
 * JSON_HEX_TAG/AMP/APOS/QUOT: no "</script>" nor quote can leave the string literals, whatever
 * a value holds. A config already set on the page wins, as in the Shopify boot script.
 *
 * @param array $config parcours_storefront_config().
 * @return string
 */
function parcours_config_script( array $config ): string {
	$json = wp_json_encode( $config, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_SLASHES );
	return 'window.ParcoursConfig = window.ParcoursConfig || ' . $json . ';';
}
