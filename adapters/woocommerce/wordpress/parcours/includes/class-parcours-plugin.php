<?php
/**
 * Start-up: WooCommerce present and recent enough, translations, then each part's hooks.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * The plugin.
 */
final class Parcours_Plugin {

	/** The oldest WooCommerce the plugin runs with (also in the plugin header). */
	const MIN_WOOCOMMERCE = '10.0';

	/**
	 * Hook start-up; called once from parcours.php.
	 *
	 * @return void
	 */
	public static function boot(): void {
		add_action( 'before_woocommerce_init', array( __CLASS__, 'declare_compatibility' ) );
		add_action( 'plugins_loaded', array( __CLASS__, 'start' ) );
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
	}

	/**
	 * HPOS and the block cart/checkout: the plugin uses WooCommerce's order API and hooks only.
	 *
	 * @return void
	 */
	public static function declare_compatibility(): void {
		if ( class_exists( \Automattic\WooCommerce\Utilities\FeaturesUtil::class ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', PARCOURS_FILE, true );
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', PARCOURS_FILE, true );
		}
	}

	/**
	 * Register the parts, or only a notice when WooCommerce is missing or too old.
	 *
	 * @return void
	 */
	public static function start(): void {
		if ( ! class_exists( 'WooCommerce' ) || ! defined( 'WC_VERSION' ) || version_compare( WC_VERSION, self::MIN_WOOCOMMERCE, '<' ) ) {
			add_action( 'admin_notices', array( __CLASS__, 'woocommerce_missing' ) );
			return;
		}
		Parcours_Settings::register();
		Parcours_Dashboard::register();
		Parcours_Storefront::register();
		Parcours_Mounts::register();
		Parcours_Reviews::register();
		Parcours_Shipping_Estimate::register();
		Parcours_Stitching::register();
	}

	/**
	 * Translations shipped in languages/ (French), on init as WordPress 6.7+ expects.
	 *
	 * @return void
	 */
	public static function load_textdomain(): void {
		load_plugin_textdomain( 'parcours', false, dirname( plugin_basename( PARCOURS_FILE ) ) . '/languages' );
	}

	/**
	 * Tell whoever can fix it that WooCommerce is needed.
	 *
	 * @return void
	 */
	public static function woocommerce_missing(): void {
		if ( ! current_user_can( 'activate_plugins' ) ) {
			return;
		}
		wp_admin_notice(
			esc_html__( 'Parcours needs WooCommerce 10.0 or later: install and activate WooCommerce.', 'parcours' ),
			array( 'type' => 'error' )
		);
	}
}
