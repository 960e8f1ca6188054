<?php
/**
 * Review stars under the product title and the product's AggregateRating for search engines.
 *
 * Both come from WooCommerce's own numbers (get_average_rating, get_review_count): Parcours
 * publishes the reviews it collects into WooCommerce as product reviews.
 *
 * Structured data: WooCommerce (WC_Structured_Data::generate_product_data) already adds
 * aggregateRating {ratingValue, reviewCount} to a product's JSON-LD when it has ratings and
 * ratings are enabled, and prints one Product block in the footer. A second Product block would
 * be a duplicate, so the plugin completes WooCommerce's through the
 * woocommerce_structured_data_product filter (bestRating 5, worstRating 1, the same numbers),
 * which SEO plugins that reuse WooCommerce's markup (Yoast WooCommerce SEO) also pick up.
 * A standalone block is printed only when a site turns WooCommerce's off and asks for it with
 * the parcours_standalone_json_ld filter.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * Stars and structured data.
 */
final class Parcours_Reviews {

	/** Where the stars go when WooCommerce's rating line is not hooked: right after the title (5). */
	const STARS_PRIORITY = 6;

	/**
	 * Hook the stars and the structured data.
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'wp', array( __CLASS__, 'place_stars' ) );
		add_filter( 'woocommerce_structured_data_product', array( __CLASS__, 'structured_data' ), 20, 2 );
		add_action( 'wp_footer', array( __CLASS__, 'standalone_json_ld' ), 20 );
	}

	/**
	 * Put the Parcours stars where WooCommerce's rating line is (replacing it: one rating line),
	 * or right after the title when the theme removed it.
	 *
	 * WooCommerce hooks its rating and its price both at 10, the rating first. A callback added
	 * now at 10 would run after the price, so the stars take the priority just before the
	 * rating's: between the title (5) and the price, where the rating line was.
	 *
	 * @return void
	 */
	public static function place_stars(): void {
		if ( ! is_product() || ! Parcours_Options::connected() || ! wc_review_ratings_enabled() ) {
			return;
		}
		$priority = has_action( 'woocommerce_single_product_summary', 'woocommerce_template_single_rating' );
		if ( false === $priority ) {
			$priority = self::STARS_PRIORITY;
		} else {
			remove_action( 'woocommerce_single_product_summary', 'woocommerce_template_single_rating', $priority );
			--$priority;
		}
		add_action( 'woocommerce_single_product_summary', array( __CLASS__, 'render_stars' ), $priority );
	}

	/**
	 * Print the stars of the current product (nothing without a review).
	 *
	 * @return void
	 */
	public static function render_stars(): void {
		global $product;
		if ( ! $product instanceof WC_Product ) {
			return;
		}
		$stars = parcours_review_stars(
			$product->get_id(),
			$product->get_average_rating(),
			$product->get_review_count(),
			comments_open( $product->get_id() )
		);
		if ( null !== $stars ) {
			parcours_print_template( 'review-stars', $stars );
		}
	}

	/**
	 * Complete WooCommerce's Product markup with the full AggregateRating.
	 *
	 * @param mixed $markup  Product markup.
	 * @param mixed $product WC_Product.
	 * @return mixed
	 */
	public static function structured_data( $markup, $product ) {
		if ( ! is_array( $markup ) || ! $product instanceof WC_Product || ! wc_review_ratings_enabled() || ! Parcours_Options::connected() ) {
			return $markup;
		}
		return parcours_with_aggregate_rating( $markup, $product->get_average_rating(), $product->get_review_count() );
	}

	/**
	 * The standalone Product block, for sites that turned WooCommerce's structured data off.
	 *
	 * @return void
	 */
	public static function standalone_json_ld(): void {
		/**
		 * Whether to print a Product JSON-LD block with the AggregateRating. Off by default:
		 * WooCommerce prints one, and the filter above completes it.
		 *
		 * @param bool $print Print it.
		 */
		if ( ! is_product() || ! Parcours_Options::connected() || ! wc_review_ratings_enabled() || ! apply_filters( 'parcours_standalone_json_ld', false ) ) {
			return;
		}
		$product = wc_get_product( get_queried_object_id() );
		if ( ! $product instanceof WC_Product ) {
			return;
		}
		$json = parcours_product_json_ld(
			wp_strip_all_tags( $product->get_name() ),
			(string) get_permalink( $product->get_id() ),
			$product->get_average_rating(),
			$product->get_review_count()
		);
		if ( '' !== $json ) {
			// The JSON holds no <, > or & (JSON_HEX_TAG, JSON_HEX_AMP): nothing can close the tag.
			echo '<script type="application/ld+json" id="parcours-json-ld">' . wc_esc_json( $json, true ) . '</script>';
		}
	}
}
