<?php
/**
 * WooCommerce › Parcours: "Open Parcours dashboard".
 *
 * The button posts to admin-post.php (a nonce of this user, who may manage WooCommerce); the
 * link is signed at that moment and the browser goes straight to Parcours, so a link never
 * waits in a page where it could expire or be copied.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * The dashboard button's action.
 */
final class Parcours_Dashboard {

	/** admin-post.php action (and nonce action). */
	const ACTION = 'parcours_dashboard';

	/**
	 * Hook the action.
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'admin_post_' . self::ACTION, array( __CLASS__, 'open' ) );
	}

	/**
	 * The Parcours webhooks' secret, from WooCommerce.
	 *
	 * @param string $server Parcours server URL.
	 * @param string $store  Store key.
	 * @return string '' when there is none.
	 */
	private static function secret( string $server, string $store ): string {
		if ( ! class_exists( 'WC_Data_Store' ) || ! function_exists( 'wc_get_webhook' ) ) {
			return '';
		}
		$hooks = array();
		foreach ( WC_Data_Store::load( 'webhook' )->search_webhooks( array( 'limit' => -1 ) ) as $id ) {
			$webhook = wc_get_webhook( $id );
			if ( $webhook ) {
				$hooks[] = array(
					'delivery_url' => $webhook->get_delivery_url(),
					'secret'       => $webhook->get_secret(),
					'status'       => $webhook->get_status(),
				);
			}
		}
		return parcours_dashboard_secret( $hooks, $server, $store );
	}

	/**
	 * Send the merchant to the dashboard with a fresh signed link.
	 *
	 * @return void
	 */
	public static function open(): void {
		if ( ! current_user_can( Parcours_Settings::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to open the Parcours dashboard.', 'parcours' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::ACTION );
		$server = Parcours_Options::server_url();
		$store  = Parcours_Options::store_key();
		$secret = ( '' === $server || '' === $store ) ? '' : self::secret( $server, $store );
		if ( '' === $secret ) {
			wp_safe_redirect( Parcours_Settings::page_url( array( 'parcours_notice' => 'dashboard' ) ) );
			exit;
		}
		$link = parcours_dashboard_link( $server, $store, $secret, parcours_dashboard_locale( get_user_locale() ), time(), parcours_dashboard_nonce() );
		// The server is the merchant's own setting (https, checked): not an open redirect.
		wp_redirect( $link, 303 ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect
		exit;
	}
}
