<?php
/**
 * Shipping estimate: argument checks, the package, the answer. Pure functions.
 *
 * The REST route (Parcours_Shipping_Estimate) passes them what WooCommerce knows (shipping
 * countries, states, the product) and hands the package to WooCommerce's own calculation.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

const PARCOURS_MAX_QUANTITY = 999;

/**
 * Why a country is refused, or null when WooCommerce ships there.
 *
 * @param mixed $value              Query value.
 * @param array $shipping_countries WC()->countries->get_shipping_countries(): code => name.
 * @return string|null
 */
function parcours_check_country( $value, array $shipping_countries ): ?string {
	$code = is_string( $value ) ? strtoupper( trim( $value ) ) : '';
	if ( ! preg_match( '/^[A-Z]{2}$/', $code ) ) {
		return __( 'country must be a two-letter country code such as FR.', 'parcours' );
	}
	if ( ! isset( $shipping_countries[ $code ] ) ) {
		return __( 'country is not a country this store ships to.', 'parcours' );
	}
	return null;
}

/**
 * Why a state is refused, or null.
 *
 * @param mixed      $value  Query value ('' or absent: no state).
 * @param array|bool $states WC()->countries->get_states( $country ): code => name, array() when the
 *                           country has no states, false when WooCommerce has no list for it.
 * @return string|null
 */
function parcours_check_state( $value, $states ): ?string {
	$code = is_string( $value ) ? strtoupper( trim( $value ) ) : '';
	if ( '' === $code ) {
		return null;
	}
	if ( ! preg_match( '/^[A-Z0-9-]{1,10}$/', $code ) ) {
		return __( 'state must be a state code such as CA.', 'parcours' );
	}
	if ( is_array( $states ) && ! isset( $states[ $code ] ) ) {
		return __( 'state is not a state of this country.', 'parcours' );
	}
	return null;
}

/**
 * Why a postcode is refused by its form, or null (WooCommerce then checks it per country).
 *
 * @param mixed $value Query value ('' or absent: no postcode).
 * @return string|null
 */
function parcours_check_postcode( $value ): ?string {
	$postcode = is_string( $value ) ? trim( $value ) : '';
	if ( '' !== $postcode && ! preg_match( '/^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$/', $postcode ) ) {
		return __( 'postcode must be up to 16 letters, digits, spaces or hyphens.', 'parcours' );
	}
	return null;
}

/**
 * Why a product id is refused by its form, or null.
 *
 * @param mixed $value Query value.
 * @return string|null
 */
function parcours_check_product_id( $value ): ?string {
	$text = is_int( $value ) ? (string) $value : ( is_string( $value ) ? trim( $value ) : '' );
	if ( ! preg_match( '/^[1-9][0-9]{0,17}$/', $text ) ) {
		return __( 'product_id must be a product id such as 123.', 'parcours' );
	}
	return null;
}

/**
 * Why a quantity is refused, or null.
 *
 * @param mixed $value Query value (absent: 1).
 * @return string|null
 */
function parcours_check_quantity( $value ): ?string {
	$text = is_int( $value ) ? (string) $value : ( is_string( $value ) ? trim( $value ) : '' );
	if ( ! preg_match( '/^[1-9][0-9]{0,3}$/', $text ) || (int) $text > PARCOURS_MAX_QUANTITY ) {
		/* translators: %d: the largest quantity accepted. */
		return sprintf( __( 'quantity must be a whole number from 1 to %d.', 'parcours' ), PARCOURS_MAX_QUANTITY );
	}
	return null;
}

/**
 * A shipping package as WC_Cart::get_shipping_packages() builds it, for one product line.
 *
 * @param array $line {
 *     @type int    $product_id       The product, or the parent of a variation.
 *     @type int    $variation_id     The variation, 0 otherwise.
 *     @type int    $quantity         Quantity.
 *     @type object $data             The WC_Product.
 *     @type float  $line_total       Price excluding tax times quantity.
 *     @type float  $line_tax         Its tax.
 *     @type float  $display_subtotal What the cart would display for it (per the tax display setting).
 * }
 * @param array $destination Country, state, postcode.
 * @param int   $user_id     get_current_user_id().
 * @return array
 */
function parcours_shipping_package( array $line, array $destination, int $user_id ): array {
	$key  = 'parcours_' . md5( $line['product_id'] . '|' . $line['variation_id'] );
	$item = array(
		'key'               => $key,
		'product_id'        => (int) $line['product_id'],
		'variation_id'      => (int) $line['variation_id'],
		'variation'         => array(),
		'quantity'          => (int) $line['quantity'],
		'data'              => $line['data'],
		'line_tax_data'     => array(
			'subtotal' => array(),
			'total'    => array(),
		),
		'line_subtotal'     => (float) $line['line_total'],
		'line_subtotal_tax' => (float) $line['line_tax'],
		'line_total'        => (float) $line['line_total'],
		'line_tax'          => (float) $line['line_tax'],
	);
	return array(
		'contents'        => array( $key => $item ),
		'contents_cost'   => (float) $line['line_total'],
		'applied_coupons' => array(),
		'user'            => array( 'ID' => $user_id ),
		'destination'     => array(
			'country'   => (string) $destination['country'],
			'state'     => (string) ( $destination['state'] ?? '' ),
			'postcode'  => (string) ( $destination['postcode'] ?? '' ),
			'city'      => '',
			'address'   => '',
			'address_1' => '',
			'address_2' => '',
		),
		'cart_subtotal'   => (float) $line['display_subtotal'],
	);
}

/**
 * Free shipping's availability for the estimated product, as WC_Shipping_Free_Shipping decides it.
 *
 * WooCommerce compares its minimum amount with the shopper's cart, not with the package being
 * estimated; the estimate answers for the product alone, so the amount is compared with it.
 *
 * @param string $requires   The method's "requires": '', coupon, min_amount, either, both.
 * @param mixed  $min_amount The method's minimum amount.
 * @param float  $subtotal   The estimated product's displayed subtotal.
 * @param bool   $has_coupon Whether the shopper's cart holds a free-shipping coupon.
 * @return bool
 */
function parcours_free_shipping_available( string $requires, $min_amount, float $subtotal, bool $has_coupon ): bool {
	$has_met_min_amount = $subtotal >= (float) ( is_numeric( $min_amount ) ? $min_amount : 0 );
	switch ( $requires ) {
		case 'min_amount':
			return $has_met_min_amount;
		case 'coupon':
			return $has_coupon;
		case 'both':
			return $has_met_min_amount && $has_coupon;
		case 'either':
			return $has_met_min_amount || $has_coupon;
		default:
			return true;
	}
}

/**
 * The rates of the answer, in WooCommerce's order (the merchant's order in the zone).
 *
 * `cost` is what the cart would show: with the shipping tax when the store displays cart prices
 * including tax. `name`, `price` and `currency` repeat label and cost under the names of the
 * Shopify app proxy's answer, so one widget reads both.
 *
 * @param array  $rates         WC_Shipping_Rate objects (get_id, get_method_id, get_label, get_cost, get_shipping_tax).
 * @param bool   $including_tax Whether cart prices are displayed including tax.
 * @param int    $decimals      wc_get_price_decimals().
 * @param string $currency      get_woocommerce_currency().
 * @return array
 */
function parcours_format_rates( array $rates, bool $including_tax, int $decimals, string $currency ): array {
	$answer = array();
	foreach ( $rates as $rate ) {
		$cost  = (float) $rate->get_cost() + ( $including_tax ? (float) $rate->get_shipping_tax() : 0.0 );
		$label = wp_strip_all_tags( (string) $rate->get_label() );
		$price = number_format( max( 0.0, $cost ), max( 0, $decimals ), '.', '' );
		$answer[] = array(
			'id'        => (string) $rate->get_id(),
			'method_id' => (string) $rate->get_method_id(),
			'label'     => $label,
			'cost'      => $price,
			'name'      => $label,
			'price'     => $price,
			'currency'  => $currency,
		);
	}
	return $answer;
}

/**
 * The transient counting one address's estimates in the current minute.
 *
 * @param string $ip  REMOTE_ADDR.
 * @param int    $now Unix time.
 * @return string Under WordPress' 172-character transient name limit.
 */
function parcours_rate_limit_key( string $ip, int $now ): string {
	return 'parcours_rl_' . md5( $ip . '|' . intdiv( $now, 60 ) );
}
