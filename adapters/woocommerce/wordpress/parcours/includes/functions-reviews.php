<?php
/**
 * Ratings for search engines and the stars under the title: pure functions.
 *
 * WooCommerce's own numbers are the truth (Parcours publishes the reviews it collects into
 * WooCommerce as product reviews), so these functions only shape them.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

const PARCOURS_BEST_RATING  = 5;
const PARCOURS_WORST_RATING = 1;

/**
 * The schema.org AggregateRating for a product, or null when it has no rated review.
 *
 * @param mixed $average WC_Product::get_average_rating() (a decimal string such as "4.50").
 * @param mixed $count   WC_Product::get_review_count().
 * @return array|null
 */
function parcours_aggregate_rating( $average, $count ): ?array {
	$count   = is_numeric( $count ) ? (int) $count : 0;
	$average = is_numeric( $average ) ? round( (float) $average, 2 ) : 0.0;
	if ( $count < 1 || $average < PARCOURS_WORST_RATING || $average > PARCOURS_BEST_RATING ) {
		return null;
	}
	return array(
		'@type'       => 'AggregateRating',
		'ratingValue' => $average,
		'reviewCount' => $count,
		'bestRating'  => PARCOURS_BEST_RATING,
		'worstRating' => PARCOURS_WORST_RATING,
	);
}

/**
 * WooCommerce's Product markup with its aggregateRating present and complete.
 *
 * WooCommerce already adds aggregateRating (ratingValue, reviewCount) to products with ratings;
 * this sets it from the same numbers with the scale (bestRating, worstRating) that it leaves
 * out, or adds it when WooCommerce did not. Without a rating the markup is returned unchanged.
 *
 * @param array $markup  What the woocommerce_structured_data_product filter receives.
 * @param mixed $average Average rating.
 * @param mixed $count   Review count.
 * @return array
 */
function parcours_with_aggregate_rating( array $markup, $average, $count ): array {
	$rating = parcours_aggregate_rating( $average, $count );
	if ( null !== $rating ) {
		$markup['aggregateRating'] = $rating;
	}
	return $markup;
}

/**
 * The JSON text of a <script type="application/ld+json"> block: safe inside the tag.
 *
 * @param array $data Structured data.
 * @return string
 */
function parcours_json_ld( array $data ): string {
	return (string) wp_json_encode( $data, JSON_HEX_TAG | JSON_HEX_AMP | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
}

/**
 * A standalone Product block (only when WooCommerce's structured data is off, see Parcours_Reviews).
 *
 * @param string $name      Product name (untrusted text).
 * @param string $permalink Product URL.
 * @param mixed  $average   Average rating.
 * @param mixed  $count     Review count.
 * @return string JSON, or '' without a rating.
 */
function parcours_product_json_ld( string $name, string $permalink, $average, $count ): string {
	$rating = parcours_aggregate_rating( $average, $count );
	if ( null === $rating ) {
		return '';
	}
	return parcours_json_ld(
		array(
			'@context'        => 'https://schema.org/',
			'@type'           => 'Product',
			'@id'             => $permalink . '#product',
			'name'            => $name,
			'url'             => $permalink,
			'aggregateRating' => $rating,
		)
	);
}

/**
 * What the review-stars template shows, or null when there is nothing to show.
 *
 * The markup mirrors the Shopify review-stars block (same class names and data attributes),
 * so one stylesheet and one widget script serve both platforms.
 *
 * @param int   $product_id  Product.
 * @param mixed $average     Average rating.
 * @param mixed $count       Review count.
 * @param bool  $reviews_tab Whether the page has the #reviews tab to link to.
 * @return array|null
 */
function parcours_review_stars( int $product_id, $average, $count, bool $reviews_tab ): ?array {
	$rating = parcours_aggregate_rating( $average, $count );
	if ( null === $rating ) {
		return null;
	}
	$value = number_format_i18n( $rating['ratingValue'], 1 );
	return array(
		'product_id' => $product_id,
		'rating'     => $rating['ratingValue'],
		'count'      => $rating['reviewCount'],
		/* translators: 1: average rating such as 4.5, 2: best rating (5). */
		'label'      => sprintf( __( 'Rated %1$s out of %2$s', 'parcours' ), $value, PARCOURS_BEST_RATING ),
		'text'       => $value . ' / ' . PARCOURS_BEST_RATING,
		/* translators: %s: number of reviews. */
		'count_text' => sprintf( _n( '(%s review)', '(%s reviews)', $rating['reviewCount'], 'parcours' ), number_format_i18n( $rating['reviewCount'] ) ),
		'link'       => $reviews_tab ? '#reviews' : '',
	);
}
