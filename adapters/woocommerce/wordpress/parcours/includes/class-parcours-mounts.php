<?php
/**
 * Widget mounts in WooCommerce's classic templates (the Shopify app blocks' counterpart).
 *
 * On the product, cart and checkout pages of a connected store, an empty box per widget is
 * printed where the widget belongs (parcours_widget_mounts()), with the widget's height
 * reserved, so that nothing moves when the widget script fills it. Themes move, resize or
 * remove them with the parcours_widget_mounts filter.
 *
 * Only classic templates run these hooks: the Cart and Checkout blocks (WooCommerce's default
 * cart and checkout pages since 8.3) and block themes' product templates do not, so there the
 * widgets get no mount and must place themselves.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * Mounts.
 */
final class Parcours_Mounts {

	/**
	 * WooCommerce's AJAX requests that re-render the cart totals, which WooCommerce's cart
	 * script puts in place of the page's (after a shipping method change): without their mounts
	 * the widgets there would vanish. The mounts are placed before WooCommerce answers (10).
	 */
	const CART_TOTALS_AJAX = array( 'get_cart_totals', 'update_shipping_method' );

	/**
	 * Hook the placement, once the main query says which page this is.
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'wp', array( __CLASS__, 'place' ) );
		foreach ( self::CART_TOTALS_AJAX as $action ) {
			add_action( 'wc_ajax_' . $action, array( __CLASS__, 'place_in_cart_totals' ), 5 );
		}
	}

	/**
	 * Hook this page's mounts (product, cart and checkout pages of a connected store).
	 *
	 * @return void
	 */
	public static function place(): void {
		if ( ! Parcours_Options::connected() ) {
			return;
		}
		$page = Parcours_Storefront::page();
		if ( null !== $page ) {
			self::hook( self::mounts( $page ) );
		}
	}

	/**
	 * Hook the cart's mounts into the cart totals WooCommerce renders for its cart script.
	 *
	 * @return void
	 */
	public static function place_in_cart_totals(): void {
		if ( Parcours_Options::connected() ) {
			self::hook( self::mounts( 'cart' ) );
		}
	}

	/**
	 * The mounts of a page, after the theme's filter, checked.
	 *
	 * @param string $page "product", "cart" or "checkout".
	 * @return array[] parcours_widget_mount() of each.
	 */
	public static function mounts( string $page ): array {
		$product_id = 0;
		if ( 'product' === $page ) {
			$product    = wc_get_product( get_queried_object_id() );
			$product_id = $product instanceof WC_Product ? $product->get_id() : 0;
		}
		/**
		 * Filters the widget mounts of a page: move one (hook, priority), resize it (min_height,
		 * in pixels: the height the widget takes once filled) or remove it (unset).
		 *
		 * @param array  $mounts Widget name => {hook, priority, min_height, product_id (product pages)}.
		 * @param string $page   "product", "cart" or "checkout".
		 */
		$mounts = apply_filters( 'parcours_widget_mounts', parcours_widget_mounts( $page, $product_id ), $page );
		$valid  = array();
		foreach ( is_array( $mounts ) ? $mounts : array() as $name => $mount ) {
			$mount = parcours_widget_mount( $name, $mount );
			if ( null !== $mount ) {
				$valid[] = $mount;
			}
		}
		return $valid;
	}

	/**
	 * Print each mount on its hook, at its priority.
	 *
	 * @param array[] $mounts Checked mounts.
	 * @return void
	 */
	private static function hook( array $mounts ): void {
		foreach ( $mounts as $mount ) {
			add_action(
				$mount['hook'],
				static function () use ( $mount ): void {
					parcours_print_template( 'widget-mount', $mount );
				},
				$mount['priority'],
				0
			);
		}
	}
}
