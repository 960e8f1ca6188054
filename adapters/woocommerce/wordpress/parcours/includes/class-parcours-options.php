<?php
/**
 * The plugin's options: their names, in one place, and typed reads.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * Option names and accessors. uninstall.php deletes exactly these (and the transients).
 */
final class Parcours_Options {

	/** Settings API group (the form's option_page). */
	const GROUP = 'parcours';

	/** The Parcours server URL, https, without a trailing slash. */
	const SERVER_URL = 'parcours_url';

	/** The public store key Parcours returned after Connect (not a secret). */
	const STORE_KEY = 'parcours_store_key';

	/** Every option the plugin writes. */
	const ALL = array( self::SERVER_URL, self::STORE_KEY );

	/** Prefix of the plugin's transients (rate limiting). */
	const TRANSIENT_PREFIX = 'parcours_';

	/**
	 * The saved server URL, re-checked (an option can be edited by other means).
	 *
	 * @return string '' when none.
	 */
	public static function server_url(): string {
		return parcours_normalize_server_url( (string) get_option( self::SERVER_URL, '' ) );
	}

	/**
	 * The store key, re-checked.
	 *
	 * @return string '' when not connected.
	 */
	public static function store_key(): string {
		return parcours_sanitize_store_key( get_option( self::STORE_KEY, '' ) );
	}

	/**
	 * Connected: a server and the store key it gave.
	 *
	 * @return bool
	 */
	public static function connected(): bool {
		return '' !== self::server_url() && '' !== self::store_key();
	}
}
