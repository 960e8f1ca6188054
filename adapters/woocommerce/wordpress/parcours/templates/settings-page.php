<?php
/**
 * WooCommerce › Parcours: the server URL (Settings API form), then the connection.
 *
 * @package Parcours
 * @var array $args {
 *     @type string $server      Saved Parcours URL ('' when none).
 *     @type string $store_key   Store key ('' when not connected).
 *     @type string $connect_url Where Connect goes ('' without a server URL).
 * }
 */

defined( 'ABSPATH' ) || exit;
?>
<div class="wrap">
	<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
	<?php settings_errors(); // Pages outside Settings do not print them by themselves. ?>

	<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
		<?php
		settings_fields( Parcours_Options::GROUP );
		do_settings_sections( Parcours_Settings::PAGE );
		submit_button();
		?>
	</form>

	<h2><?php esc_html_e( 'Connection', 'parcours' ); ?></h2>
	<?php if ( '' !== $args['store_key'] ) : ?>
		<p class="parcours-status parcours-status-connected">
			<?php
			/* translators: %s: the store key Parcours gave this store. */
			echo esc_html( sprintf( __( 'Connected as store %s', 'parcours' ), $args['store_key'] ) );
			?>
		</p>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" target="_blank">
			<input type="hidden" name="action" value="<?php echo esc_attr( Parcours_Dashboard::ACTION ); ?>" />
			<?php wp_nonce_field( Parcours_Dashboard::ACTION ); ?>
			<?php submit_button( __( 'Open Parcours dashboard', 'parcours' ), 'primary', 'submit', false ); ?>
		</form>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="<?php echo esc_attr( Parcours_Settings::DISCONNECT_ACTION ); ?>" />
			<?php wp_nonce_field( Parcours_Settings::DISCONNECT_ACTION ); ?>
			<?php submit_button( __( 'Disconnect', 'parcours' ), 'secondary', 'submit', false ); ?>
		</form>
	<?php else : ?>
		<p class="parcours-status parcours-status-disconnected"><?php esc_html_e( 'Not connected', 'parcours' ); ?></p>
		<?php if ( '' !== $args['connect_url'] ) : ?>
			<p><?php esc_html_e( 'Connect sends you to Parcours, which asks WooCommerce to approve an API key for it, then brings you back here.', 'parcours' ); ?></p>
			<p><a class="button button-primary" href="<?php echo esc_url( $args['connect_url'] ); ?>"><?php esc_html_e( 'Connect', 'parcours' ); ?></a></p>
		<?php else : ?>
			<p><?php esc_html_e( 'Save the address of your Parcours server first.', 'parcours' ); ?></p>
		<?php endif; ?>
	<?php endif; ?>
</div>
