<?php
/**
 * Stitching guests' storefront events to their orders.
 *
 * The storefront config carries the shopper's session as a keyed hash (shopper.wc_session).
 * A guest's order carries no session id of its own, so the same hash is written on the order
 * (meta _parcours_session) when checkout creates it; WooCommerce's order webhooks include order
 * meta, so Parcours finds the same identity on both sides. A logged-in shopper's order also
 * carries customer_id, the same as shopper.customer_id.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * The order stamp.
 */
final class Parcours_Stitching {

	/** Order meta key: hidden from the custom fields box, present in the REST and webhook payloads. */
	const ORDER_META = '_parcours_session';

	/**
	 * Hook both checkouts: the classic one and the block one (Store API).
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'woocommerce_checkout_create_order', array( __CLASS__, 'stamp' ), 10, 1 );
		add_action( 'woocommerce_store_api_checkout_update_order_meta', array( __CLASS__, 'stamp_and_save' ), 10, 1 );
	}

	/**
	 * Write the session identity on the order, unsaved (the classic checkout saves it next).
	 *
	 * @param mixed $order WC_Order.
	 * @return bool Whether the meta changed.
	 */
	public static function stamp( $order ): bool {
		if ( ! $order instanceof WC_Order || ! Parcours_Options::connected() ) {
			return false;
		}
		$identity = Parcours_Storefront::session_identity();
		if ( null === $identity || $order->get_meta( self::ORDER_META ) === $identity ) {
			return false;
		}
		$order->update_meta_data( self::ORDER_META, $identity );
		return true;
	}

	/**
	 * The block checkout's draft order is already saved: save the meta alone (no order update
	 * hooks, no extra order.updated webhook).
	 *
	 * @param mixed $order WC_Order.
	 * @return void
	 */
	public static function stamp_and_save( $order ): void {
		if ( self::stamp( $order ) && $order->get_id() ) {
			$order->save_meta_data();
		}
	}
}
