<?php
/**
 * The widget loader on product, cart and checkout pages, with the store config inlined.
 *
 * As the Shopify app embed does: the config reaches the page inline as window.ParcoursConfig
 * (no request), then the loader comes from the Parcours server, deferred (never render
 * blocking), marked data-parcours="loader". Nothing is added before the store is connected.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * Storefront script and config.
 */
final class Parcours_Storefront {

	/** Script handle; WordPress prints it with id "parcours-loader-js". */
	const HANDLE = 'parcours-loader';

	/** The loader's path on the Parcours server (the same as the Shopify boot script loads). */
	const LOADER_PATH = '/widgets/loader.js';

	/**
	 * Hook the enqueue.
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'wp_enqueue_scripts', array( __CLASS__, 'enqueue' ) );
		add_filter( 'script_loader_tag', array( __CLASS__, 'mark_loader' ), 10, 2 );
		add_filter( 'woocommerce_add_to_cart_redirect', array( __CLASS__, 'buy_now_redirect' ) );
	}

	/**
	 * The express widget's "buy now" link (?add-to-cart=ID&quantity=N&parcours=buy_now) ends on
	 * the checkout, even where the store sends shoppers to the cart after adding a product.
	 *
	 * @param string $url Where WooCommerce would go after adding to the cart.
	 * @return string
	 */
	public static function buy_now_redirect( $url ) {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- chooses a redirect only; WooCommerce's own add-to-cart link has no nonce either.
		$marker = isset( $_GET['parcours'] ) ? sanitize_key( wp_unslash( $_GET['parcours'] ) ) : '';
		return 'buy_now' === $marker ? wc_get_checkout_url() : $url;
	}

	/**
	 * The page kind the widgets see, or null where Parcours shows nothing.
	 *
	 * The order-received and order-pay endpoints are checkout pages to WooCommerce, but no
	 * checkout widget belongs there.
	 *
	 * @return string|null
	 */
	public static function page(): ?string {
		if ( is_product() ) {
			return 'product';
		}
		if ( is_cart() ) {
			return 'cart';
		}
		if ( is_checkout() && ! is_wc_endpoint_url() ) {
			return 'checkout';
		}
		return null;
	}

	/**
	 * Enqueue the loader and inline the config before it.
	 *
	 * @return void
	 */
	public static function enqueue(): void {
		$page = self::page();
		if ( null === $page || ! Parcours_Options::connected() ) {
			return;
		}
		$server = Parcours_Options::server_url();
		wp_enqueue_script(
			self::HANDLE,
			$server . self::LOADER_PATH,
			array(),
			null, // The Parcours server versions and caches its loader; no ?ver= from WordPress.
			array(
				'strategy'  => 'defer',
				'in_footer' => true,
			)
		);
		wp_add_inline_script( self::HANDLE, parcours_config_script( self::config( $page, $server ) ), 'before' );
	}

	/**
	 * The config of this page.
	 *
	 * @param string $page   Page kind.
	 * @param string $server Parcours URL.
	 * @return array
	 */
	public static function config( string $page, string $server ): array {
		$facts = array(
			'origin'            => $server,
			'store'             => Parcours_Options::store_key(),
			'page'              => $page,
			'locale'            => get_locale(),
			'currency'          => get_woocommerce_currency(),
			'customer_id'       => get_current_user_id(),
			'session'           => self::session_identity(),
			'country'           => self::shipping_country(),
			'shipping_estimate' => Parcours_Shipping_Estimate::url(),
			'store_api'         => rest_url( 'wc/store/v1' ),
			'checkout_url'      => wc_get_checkout_url(),
		);
		if ( 'product' === $page ) {
			$product = wc_get_product( get_queried_object_id() );
			if ( $product instanceof WC_Product ) {
				$facts['product_id']    = $product->get_id();
				$facts['product_price'] = '' === $product->get_price() ? null : wc_format_decimal( wc_get_price_to_display( $product ), wc_get_price_decimals() );
			}
		}
		/**
		 * Filters the config given to the widgets as window.ParcoursConfig.
		 *
		 * @param array  $config Config.
		 * @param string $page   "product", "cart" or "checkout".
		 */
		return (array) apply_filters( 'parcours_storefront_config', parcours_storefront_config( $facts ), $page );
	}

	/**
	 * Where the shopper's parcels would go, as WooCommerce guesses it (their address, else the
	 * store's default customer location: base country or geolocation), for the first estimate.
	 *
	 * @return string Country code, or '' when unknown.
	 */
	public static function shipping_country(): string {
		$customer = function_exists( 'WC' ) ? WC()->customer : null;
		return is_object( $customer ) && method_exists( $customer, 'get_shipping_country' ) ? (string) $customer->get_shipping_country() : '';
	}

	/**
	 * The shopper's WooCommerce session as a pseudonymous identity, or null.
	 *
	 * Only when the session exists (a cookie or a logged-in user): otherwise WooCommerce makes up
	 * a new guest id on every page, which would stitch nothing.
	 *
	 * @return string|null
	 */
	public static function session_identity(): ?string {
		$session = function_exists( 'WC' ) ? WC()->session : null;
		if ( ! $session instanceof WC_Session || ! method_exists( $session, 'has_session' ) || ! $session->has_session() ) {
			return null;
		}
		return parcours_session_identity( (string) $session->get_customer_id(), wp_salt( 'auth' ) );
	}

	/**
	 * Add data-parcours="loader" to the loader's tag, as the Shopify boot script does.
	 *
	 * @param string $tag    Script tags of the handle (its inline "before" script included).
	 * @param string $handle Handle.
	 * @return string
	 */
	public static function mark_loader( $tag, $handle ) {
		if ( self::HANDLE !== $handle || ! is_string( $tag ) ) {
			return $tag;
		}
		return (string) preg_replace( '/(\sid=([\'"])' . preg_quote( self::HANDLE, '/' ) . '-js\2)/', '$1 data-parcours="loader"', $tag, 1 );
	}
}
