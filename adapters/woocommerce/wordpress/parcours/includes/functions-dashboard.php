<?php
/**
 * The "Open Parcours dashboard" link: pure functions (no WordPress state, no I/O).
 *
 * The link is signed with a key derived from the webhook secret Parcours wrote into this
 * store's WooCommerce webhooks, the one secret this site shares with Parcours. It works once,
 * for five minutes (Parcours keeps the used nonces). The server side is
 * parcours/adapters/woocommerce/dashboard_login.py.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * The signature of a dashboard link.
 *
 * @param string $secret The webhook secret shared with Parcours.
 * @param string $store  Store key.
 * @param string $ts     Unix time of the click, as decimal digits.
 * @param string $nonce  Random, URL-safe, 22 to 64 characters.
 * @param string $locale 'en', 'fr' or ''.
 * @return string 64 hex characters.
 */
function parcours_dashboard_signature( string $secret, string $store, string $ts, string $nonce, string $locale ): string {
	// A key of its own: a login signature can never pass for a webhook's, nor the reverse.
	$key     = hash_hmac( 'sha256', 'parcours.dashboard-login', $secret, true );
	$message = implode( "\n", array( 'parcours-dashboard-login', $store, $ts, $nonce, $locale ) );
	return hash_hmac( 'sha256', $message, $key );
}

/**
 * The dashboard's language from a WordPress locale: French or English.
 *
 * @param string $wp_locale e.g. fr_FR, fr_BE, en_US, de_DE.
 * @return string 'fr' or 'en'.
 */
function parcours_dashboard_locale( string $wp_locale ): string {
	return 0 === strpos( strtolower( $wp_locale ), 'fr' ) ? 'fr' : 'en';
}

/**
 * The secret of the store's Parcours webhooks, from WooCommerce's webhooks.
 *
 * @param array  $webhooks Each an array with 'delivery_url', 'secret' and 'status'.
 * @param string $server   Parcours server URL (no trailing slash).
 * @param string $store    Store key.
 * @return string '' when no active webhook of this store delivers to this server.
 */
function parcours_dashboard_secret( array $webhooks, string $server, string $store ): string {
	$url = $server . '/webhooks/woocommerce/' . $store;
	foreach ( $webhooks as $hook ) {
		if ( is_array( $hook ) && ( $hook['delivery_url'] ?? '' ) === $url
			&& 'active' === ( $hook['status'] ?? '' ) && '' !== (string) ( $hook['secret'] ?? '' ) ) {
			return (string) $hook['secret'];
		}
	}
	return '';
}

/**
 * The signed link that opens the dashboard.
 *
 * @param string $server Parcours server URL (no trailing slash).
 * @param string $store  Store key.
 * @param string $secret The webhook secret shared with Parcours.
 * @param string $locale 'en' or 'fr'.
 * @param int    $now    Unix time of the click.
 * @param string $nonce  Random, URL-safe, 22 to 64 characters (e.g. from random_bytes).
 * @return string
 */
function parcours_dashboard_link( string $server, string $store, string $secret, string $locale, int $now, string $nonce ): string {
	$ts    = (string) $now;
	$query = http_build_query(
		array(
			'store'  => $store,
			'ts'     => $ts,
			'nonce'  => $nonce,
			'locale' => $locale,
			'sig'    => parcours_dashboard_signature( $secret, $store, $ts, $nonce, $locale ),
		),
		'',
		'&',
		PHP_QUERY_RFC3986
	);
	return $server . '/dashboard/wordpress?' . $query;
}

/**
 * A fresh nonce for a link: 32 random bytes, base64url without padding.
 *
 * @return string 43 characters.
 */
function parcours_dashboard_nonce(): string {
	return rtrim( strtr( base64_encode( random_bytes( 32 ) ), '+/', '-_' ), '=' );
}
