<?php
/**
 * Star rating and review count under the product title, rendered on the server.
 *
 * Same markup as the Shopify review-stars block: no script, no request, no layout shift, and
 * search engines read it. Every value is escaped here, on output.
 *
 * @package Parcours
 * @var array $args parcours_review_stars().
 */

defined( 'ABSPATH' ) || exit;
?>
<div class="parcours-widget" data-parcours-widget="review_stars" data-product-id="<?php echo esc_attr( $args['product_id'] ); ?>" data-rating="<?php echo esc_attr( $args['rating'] ); ?>" data-count="<?php echo esc_attr( $args['count'] ); ?>">
	<span class="parcours-stars" role="img" aria-label="<?php echo esc_attr( $args['label'] ); ?>"><?php echo esc_html( $args['text'] ); ?></span>
	<?php if ( '' !== $args['link'] ) : ?>
		<a class="parcours-count" href="<?php echo esc_url( $args['link'] ); ?>"><?php echo esc_html( $args['count_text'] ); ?></a>
	<?php else : ?>
		<span class="parcours-count"><?php echo esc_html( $args['count_text'] ); ?></span>
	<?php endif; ?>
</div>
