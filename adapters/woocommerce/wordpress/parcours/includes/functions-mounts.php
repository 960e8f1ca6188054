<?php
/**
 * Widget mounts: pure functions (no WordPress state).
 *
 * A mount is the empty box a storefront widget renders into. Its min-height reserves the
 * widget's room before the widget script runs, so nothing on the page moves when the widget
 * fills it (cumulative layout shift 0); a widget looks for its mount first and never moves
 * other content. The markup is the Shopify app blocks' (adapters/shopify/extensions/theme):
 *
 *     <div class="parcours-widget" data-parcours-widget="NAME" style="min-height:Hpx"></div>
 *
 * with data-product-id="ID" on product pages. Parcours_Mounts hooks them into WooCommerce's
 * classic templates; these functions say which mounts a page has and print one.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * A widget's name, as in Parcours' widget settings and its script {server}/widgets/NAME.js.
 */
const PARCOURS_WIDGET_NAME_PATTERN = '/^[a-z][a-z0-9_]{0,39}$/';

/**
 * The mounts of a page, by widget name, where WooCommerce's classic templates have room.
 *
 * Product page, in woocommerce_single_product_summary (title 5, rating and price 10, excerpt
 * 20, add-to-cart form 30, meta 40): the shipping estimate before the form, express pay after
 * it. Cart page, in the cart totals: the shipping estimate above them, express pay before
 * WooCommerce's own pay buttons (10) and checkout button (20), the guest checkout prompt after
 * the button. Checkout page: the guest checkout prompt after the login form, the coupon form
 * and the notices (all 10). No review mount: reviews are WooCommerce's own on this platform.
 *
 * @param string $page       "product", "cart" or "checkout" (Parcours_Storefront::page()).
 * @param int    $product_id The product shown, on product pages (0: unknown).
 * @return array Widget name => {hook, priority, min_height (px), product_id (product pages)}.
 */
function parcours_widget_mounts( string $page, int $product_id = 0 ): array {
	$product = $product_id > 0 ? array( 'product_id' => $product_id ) : array();
	switch ( $page ) {
		case 'product':
			return array(
				'shipping_estimate' => array(
					'hook'       => 'woocommerce_single_product_summary',
					'priority'   => 25,
					'min_height' => 120,
				) + $product,
				'express_pay'       => array(
					'hook'       => 'woocommerce_single_product_summary',
					'priority'   => 35,
					'min_height' => 52,
				) + $product,
			);
		case 'cart':
			return array(
				'shipping_estimate' => array(
					'hook'       => 'woocommerce_before_cart_totals',
					'priority'   => 10,
					'min_height' => 120,
				),
				'express_pay'       => array(
					'hook'       => 'woocommerce_proceed_to_checkout',
					'priority'   => 5,
					'min_height' => 52,
				),
				'guest_checkout'    => array(
					'hook'       => 'woocommerce_proceed_to_checkout',
					'priority'   => 25,
					'min_height' => 52,
				),
			);
		case 'checkout':
			return array(
				'guest_checkout' => array(
					'hook'       => 'woocommerce_before_checkout_form',
					'priority'   => 11,
					'min_height' => 52,
				),
			);
	}
	return array();
}

/**
 * One mount in canonical form, or null when it cannot be one.
 *
 * The mounts pass through the parcours_widget_mounts filter, so whatever a theme returned is
 * checked again: a widget name, a hook, a whole priority and a height that are numbers. A
 * negative height is 0 (the theme reserves the room itself).
 *
 * @param mixed $name  Widget name (the key in parcours_widget_mounts()).
 * @param mixed $mount {hook, priority, min_height, product_id (optional)}.
 * @return array|null {widget, hook, priority, min_height, product_id (0: none)}.
 */
function parcours_widget_mount( $name, $mount ): ?array {
	if ( ! is_string( $name ) || ! preg_match( PARCOURS_WIDGET_NAME_PATTERN, $name ) || ! is_array( $mount ) ) {
		return null;
	}
	$hook       = $mount['hook'] ?? null;
	$priority   = $mount['priority'] ?? 10;
	$min_height = $mount['min_height'] ?? null;
	$product_id = $mount['product_id'] ?? 0;
	if ( ! is_string( $hook ) || '' === trim( $hook ) || ! is_numeric( $priority ) || ! is_numeric( $min_height ) || ! is_numeric( $product_id ) ) {
		return null;
	}
	return array(
		'widget'     => $name,
		'hook'       => $hook,
		'priority'   => (int) $priority,
		'min_height' => max( 0, (int) $min_height ),
		'product_id' => max( 0, (int) $product_id ),
	);
}

/**
 * The HTML of one mount (templates/widget-mount.php, every attribute escaped there).
 *
 * @param array $mount parcours_widget_mount().
 * @return string
 */
function parcours_widget_mount_html( array $mount ): string {
	return parcours_render_template( 'widget-mount', $mount );
}
