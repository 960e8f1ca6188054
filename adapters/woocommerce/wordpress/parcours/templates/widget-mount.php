<?php
/**
 * A widget mount: the empty box a storefront widget renders into.
 *
 * Its min-height holds the widget's room before the widget script runs: nothing on the page
 * moves when the widget fills it. Same markup as the Shopify app blocks. Every value is escaped
 * here, on output.
 *
 * @package Parcours
 * @var array $args parcours_widget_mount().
 */

defined( 'ABSPATH' ) || exit;
?>
<div class="parcours-widget" data-parcours-widget="<?php echo esc_attr( $args['widget'] ); ?>"<?php if ( ! empty( $args['product_id'] ) ) : ?> data-product-id="<?php echo esc_attr( $args['product_id'] ); ?>"<?php endif; ?> style="min-height:<?php echo esc_attr( $args['min_height'] ); ?>px"></div>
