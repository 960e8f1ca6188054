<?php
/**
 * GET /wp-json/parcours/v1/shipping-estimate: what shipping costs for a product, before checkout.
 *
 * Computed by WooCommerce itself (zones, methods, classes, plugins' rate filters), from a package
 * built for the product and the destination: never a second price list that could disagree.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * The public shipping estimate route.
 */
final class Parcours_Shipping_Estimate {

	const REST_NAMESPACE = 'parcours/v1';
	const ROUTE          = '/shipping-estimate';

	/** Estimates per minute and address; a product page asks once or twice per shopper. */
	const RATE_LIMIT = 30;

	/** Session key of the rates WooCommerce caches: not the cart's own packages (0, 1, ...). */
	const PACKAGE_KEY = 'parcours_estimate';

	/**
	 * Subtotal of the product being estimated, read by the free shipping filter (null outside).
	 *
	 * @var float|null
	 */
	private static $subtotal = null;

	/**
	 * Hook the route.
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'rest_api_init', array( __CLASS__, 'register_route' ) );
	}

	/**
	 * The REST URL the widgets call (also given to them in window.ParcoursConfig).
	 *
	 * @return string
	 */
	public static function url(): string {
		return rest_url( self::REST_NAMESPACE . self::ROUTE );
	}

	/**
	 * Register the route with validated and sanitised arguments.
	 *
	 * @return void
	 */
	public static function register_route(): void {
		register_rest_route(
			self::REST_NAMESPACE,
			self::ROUTE,
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'respond' ),
				'permission_callback' => '__return_true', // Public: shoppers ask it; it reveals only published prices.
				'args'                => array(
					'country'    => array(
						'description'       => __( 'Destination country code, e.g. FR.', 'parcours' ),
						'type'              => 'string',
						'required'          => true,
						'validate_callback' => array( __CLASS__, 'validate_country' ),
						'sanitize_callback' => array( __CLASS__, 'sanitize_code' ),
					),
					'state'      => array(
						'description'       => __( 'Destination state code, when the country has states.', 'parcours' ),
						'type'              => 'string',
						'default'           => '',
						'validate_callback' => array( __CLASS__, 'validate_state' ),
						'sanitize_callback' => array( __CLASS__, 'sanitize_code' ),
					),
					'postcode'   => array(
						'description'       => __( 'Destination postcode.', 'parcours' ),
						'type'              => 'string',
						'default'           => '',
						'validate_callback' => array( __CLASS__, 'validate_postcode' ),
						'sanitize_callback' => array( __CLASS__, 'sanitize_postcode' ),
					),
					'product_id' => array(
						'description'       => __( 'The product or variation to ship.', 'parcours' ),
						'type'              => 'integer',
						'required'          => true,
						'validate_callback' => array( __CLASS__, 'validate_product_id' ),
						'sanitize_callback' => 'absint',
					),
					'quantity'   => array(
						'description'       => __( 'How many.', 'parcours' ),
						'type'              => 'integer',
						'default'           => 1,
						'validate_callback' => array( __CLASS__, 'validate_quantity' ),
						'sanitize_callback' => 'absint',
					),
				),
			)
		);
	}

	/**
	 * A validate_callback answer: true, or a 400 error whose message names the parameter.
	 *
	 * @param string|null $error Message from a parcours_check_* function.
	 * @return true|WP_Error
	 */
	private static function verdict( ?string $error ) {
		return null === $error ? true : new WP_Error( 'rest_invalid_param', $error, array( 'status' => 400 ) );
	}

	/**
	 * The country parameter of the request, upper-cased ('' when absent).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return string
	 */
	private static function country_of( WP_REST_Request $request ): string {
		$country = $request->get_param( 'country' );
		return is_string( $country ) ? strtoupper( trim( $country ) ) : '';
	}

	/**
	 * Validate country.
	 *
	 * @param mixed $value Value.
	 * @return true|WP_Error
	 */
	public static function validate_country( $value ) {
		return self::verdict( parcours_check_country( $value, WC()->countries->get_shipping_countries() ) );
	}

	/**
	 * Validate state against the country's states.
	 *
	 * @param mixed           $value   Value.
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public static function validate_state( $value, $request ) {
		$country = self::country_of( $request );
		$states  = '' === $country ? false : WC()->countries->get_states( $country );
		return self::verdict( parcours_check_state( $value, $states ) );
	}

	/**
	 * Validate postcode: its form, then WooCommerce's rule for the country.
	 *
	 * @param mixed           $value   Value.
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public static function validate_postcode( $value, $request ) {
		$error = parcours_check_postcode( $value );
		if ( null === $error && '' !== trim( (string) $value ) && ! WC_Validation::is_postcode( trim( (string) $value ), self::country_of( $request ) ) ) {
			$error = __( 'postcode is not a valid postcode for this country.', 'parcours' );
		}
		return self::verdict( $error );
	}

	/**
	 * Validate product_id: its form, then a published product that exists.
	 *
	 * @param mixed $value Value.
	 * @return true|WP_Error
	 */
	public static function validate_product_id( $value ) {
		$error = parcours_check_product_id( $value );
		if ( null === $error && null === self::product( absint( $value ) ) ) {
			$error = __( 'product_id is not a product of this store.', 'parcours' );
		}
		return self::verdict( $error );
	}

	/**
	 * Validate quantity.
	 *
	 * @param mixed $value Value.
	 * @return true|WP_Error
	 */
	public static function validate_quantity( $value ) {
		return self::verdict( parcours_check_quantity( $value ) );
	}

	/**
	 * Sanitize a country or state code.
	 *
	 * @param mixed $value Value.
	 * @return string
	 */
	public static function sanitize_code( $value ): string {
		return strtoupper( sanitize_text_field( is_string( $value ) ? $value : '' ) );
	}

	/**
	 * Sanitize a postcode into WooCommerce's format for the country.
	 *
	 * @param mixed           $value   Value.
	 * @param WP_REST_Request $request Request.
	 * @return string
	 */
	public static function sanitize_postcode( $value, $request ): string {
		$postcode = sanitize_text_field( is_string( $value ) ? $value : '' );
		return '' === $postcode ? '' : wc_format_postcode( $postcode, self::country_of( $request ) );
	}

	/**
	 * A product shoppers may see: published (a variation: its parent too), else null.
	 *
	 * @param int $id Product or variation id.
	 * @return WC_Product|null
	 */
	private static function product( int $id ): ?WC_Product {
		$product = $id > 0 ? wc_get_product( $id ) : null;
		if ( ! $product instanceof WC_Product || 'publish' !== $product->get_status() ) {
			return null;
		}
		if ( $product->get_parent_id() ) {
			$parent = wc_get_product( $product->get_parent_id() );
			if ( ! $parent instanceof WC_Product || 'publish' !== $parent->get_status() ) {
				return null;
			}
		}
		return $product;
	}

	/**
	 * Count this request; false when the address asked too often this minute.
	 *
	 * REMOTE_ADDR only: forwarded headers are the client's to choose.
	 *
	 * @return bool
	 */
	private static function within_rate_limit(): bool {
		$ip    = isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
		$key   = parcours_rate_limit_key( $ip, time() );
		$count = (int) get_transient( $key );
		$limit = (int) apply_filters( 'parcours_shipping_estimate_rate_limit', self::RATE_LIMIT );
		if ( $count >= $limit ) {
			return false;
		}
		set_transient( $key, $count + 1, 2 * MINUTE_IN_SECONDS );
		return true;
	}

	/**
	 * The estimate.
	 *
	 * @param WP_REST_Request $request Validated request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function respond( WP_REST_Request $request ) {
		if ( ! self::within_rate_limit() ) {
			return new WP_Error( 'parcours_rate_limited', __( 'Too many shipping estimates: try again in a minute.', 'parcours' ), array( 'status' => 429 ) );
		}
		$product  = self::product( (int) $request['product_id'] );
		$quantity = max( 1, (int) $request['quantity'] );
		$currency = get_woocommerce_currency();
		$answer   = array(
			'country'        => (string) $request['country'],
			'state'          => (string) $request['state'],
			'province'       => (string) $request['state'],
			'postcode'       => (string) $request['postcode'],
			'currency'       => $currency,
			'needs_shipping' => null !== $product && $product->needs_shipping(),
			'rates'          => array(),
		);
		if ( $answer['needs_shipping'] ) {
			$answer['rates'] = self::rates( $product, $quantity, $answer, $currency );
		}
		$response = rest_ensure_response( $answer );
		$response->header( 'Cache-Control', 'private, max-age=60' );
		return $response;
	}

	/**
	 * WooCommerce's rates for the product shipped to the destination.
	 *
	 * @param WC_Product $product     Product.
	 * @param int        $quantity    Quantity.
	 * @param array      $destination Country, state, postcode.
	 * @param string     $currency    Store currency.
	 * @return array
	 */
	private static function rates( WC_Product $product, int $quantity, array $destination, string $currency ): array {
		if ( null === WC()->cart ) {
			wc_load_cart(); // REST requests have no session, customer nor cart; shipping methods read them.
		}
		$excluding = (float) wc_get_price_excluding_tax( $product, array( 'qty' => $quantity ) );
		$including = (float) wc_get_price_including_tax( $product, array( 'qty' => $quantity ) );
		$displayed = (float) wc_get_price_to_display(
			$product,
			array(
				'qty'             => $quantity,
				'display_context' => 'cart',
			)
		);
		$package   = parcours_shipping_package(
			array(
				'product_id'       => $product->get_parent_id() ? $product->get_parent_id() : $product->get_id(),
				'variation_id'     => $product->get_parent_id() ? $product->get_id() : 0,
				'quantity'         => $quantity,
				'data'             => $product,
				'line_total'       => $excluding,
				'line_tax'         => $including - $excluding,
				'display_subtotal' => $displayed,
			),
			$destination,
			get_current_user_id()
		);

		self::$subtotal = $displayed;
		add_filter( 'woocommerce_shipping_free_shipping_is_available', array( __CLASS__, 'free_shipping' ), 10, 3 );
		try {
			$calculated = WC()->shipping()->calculate_shipping_for_package( $package, self::PACKAGE_KEY );
		} finally {
			remove_filter( 'woocommerce_shipping_free_shipping_is_available', array( __CLASS__, 'free_shipping' ), 10 );
			self::$subtotal = null;
		}
		$rates = is_array( $calculated ) && isset( $calculated['rates'] ) ? array_values( $calculated['rates'] ) : array();
		return parcours_format_rates( $rates, 'incl' === get_option( 'woocommerce_tax_display_cart' ), wc_get_price_decimals(), $currency );
	}

	/**
	 * Free shipping's minimum amount compared with the estimated product, not the cart.
	 *
	 * @param bool   $available WooCommerce's verdict (from the cart).
	 * @param array  $package   Package.
	 * @param object $method    WC_Shipping_Free_Shipping.
	 * @return bool
	 */
	public static function free_shipping( $available, $package, $method ) {
		if ( null === self::$subtotal || ! is_object( $method ) || ! isset( $method->requires ) ) {
			return $available;
		}
		$has_coupon = false;
		foreach ( WC()->cart ? WC()->cart->get_coupons() : array() as $coupon ) {
			if ( $coupon->is_valid() && $coupon->get_free_shipping() ) {
				$has_coupon = true;
				break;
			}
		}
		return parcours_free_shipping_available( (string) $method->requires, $method->min_amount ?? 0, self::$subtotal, $has_coupon );
	}
}
