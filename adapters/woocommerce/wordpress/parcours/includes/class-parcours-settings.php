<?php
/**
 * WooCommerce › Parcours: the server URL, Connect, and the connection status.
 *
 * Connect sends the merchant to {server}/woocommerce/connect?store_url=…&return_url=…&state=…;
 * Parcours has WooCommerce approve a REST key for it (/wc-auth/v1/authorize), then sends the
 * merchant back to return_url with parcours_connected=1, store_key=<key> and the same state.
 * The state is a nonce of this user, so a link crafted elsewhere cannot connect the store.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * The settings page.
 */
final class Parcours_Settings {

	/** Page slug: wp-admin/admin.php?page=parcours. */
	const PAGE = 'parcours';

	/** Shop managers run the store; they need not be administrators. */
	const CAPABILITY = 'manage_woocommerce';

	/** Nonce action of the Connect round trip (the `state` parameter). */
	const CONNECT_NONCE = 'parcours_connect';

	/** admin-post.php action (and nonce action) of Disconnect. */
	const DISCONNECT_ACTION = 'parcours_disconnect';

	/**
	 * Hook the page, the setting and the actions.
	 *
	 * @return void
	 */
	public static function register(): void {
		add_action( 'admin_menu', array( __CLASS__, 'add_page' ), 60 );
		add_action( 'admin_init', array( __CLASS__, 'register_setting' ) );
		// options.php asks for manage_options by default; this page's setting is the shop manager's.
		add_filter( 'option_page_capability_' . Parcours_Options::GROUP, array( __CLASS__, 'capability' ) );
		add_action( 'update_option_' . Parcours_Options::SERVER_URL, array( __CLASS__, 'server_changed' ), 10, 2 );
		add_action( 'admin_post_' . self::DISCONNECT_ACTION, array( __CLASS__, 'disconnect' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( PARCOURS_FILE ), array( __CLASS__, 'action_links' ) );
	}

	/**
	 * The capability the settings form needs.
	 *
	 * @return string
	 */
	public static function capability(): string {
		return self::CAPABILITY;
	}

	/**
	 * This page's URL, with extra query arguments.
	 *
	 * @param array $args Query arguments.
	 * @return string
	 */
	public static function page_url( array $args = array() ): string {
		return add_query_arg( array_map( 'rawurlencode', array( 'page' => self::PAGE ) + $args ), admin_url( 'admin.php' ) );
	}

	/**
	 * Add WooCommerce › Parcours.
	 *
	 * @return void
	 */
	public static function add_page(): void {
		$hook = add_submenu_page(
			'woocommerce',
			__( 'Parcours', 'parcours' ),
			__( 'Parcours', 'parcours' ),
			self::CAPABILITY,
			self::PAGE,
			array( __CLASS__, 'render' )
		);
		if ( $hook ) {
			add_action( 'load-' . $hook, array( __CLASS__, 'on_load' ) );
		}
	}

	/**
	 * Register the server URL setting, its section and field.
	 *
	 * @return void
	 */
	public static function register_setting(): void {
		register_setting(
			Parcours_Options::GROUP,
			Parcours_Options::SERVER_URL,
			array(
				'type'              => 'string',
				'default'           => '',
				'show_in_rest'      => false,
				'sanitize_callback' => array( __CLASS__, 'sanitize_server_url' ),
			)
		);
		add_settings_section(
			'parcours_server',
			__( 'Parcours server', 'parcours' ),
			array( __CLASS__, 'render_section' ),
			self::PAGE
		);
		add_settings_field(
			Parcours_Options::SERVER_URL,
			__( 'Parcours server URL', 'parcours' ),
			array( __CLASS__, 'render_url_field' ),
			self::PAGE,
			'parcours_server',
			array( 'label_for' => Parcours_Options::SERVER_URL )
		);
	}

	/**
	 * Keep only an https URL; anything else keeps the saved one and says why.
	 *
	 * @param mixed $value Submitted value.
	 * @return string
	 */
	public static function sanitize_server_url( $value ): string {
		if ( is_string( $value ) && '' === trim( $value ) ) {
			return ''; // Emptied on purpose: the store disconnects (see server_changed()).
		}
		$url = parcours_normalize_server_url( is_string( $value ) ? $value : '' );
		if ( '' === $url ) {
			add_settings_error(
				Parcours_Options::SERVER_URL,
				'parcours_url_invalid',
				__( 'The Parcours server URL must be an https address such as https://parcours.example.com, without query string.', 'parcours' )
			);
			return Parcours_Options::server_url();
		}
		return esc_url_raw( $url, array( 'https' ) );
	}

	/**
	 * A store key belongs to the server that gave it: a new server means connecting again.
	 *
	 * @param mixed $old_value Previous URL.
	 * @param mixed $new_value New URL.
	 * @return void
	 */
	public static function server_changed( $old_value, $new_value ): void {
		if ( $old_value !== $new_value ) {
			delete_option( Parcours_Options::STORE_KEY );
		}
	}

	/**
	 * Before the page renders: the return from Parcours, and notices.
	 *
	 * @return void
	 */
	public static function on_load(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- `state` is the nonce, checked in connect_return().
		if ( isset( $_GET['parcours_connected'] ) ) {
			self::connect_return();
		}
		if ( isset( $_GET['parcours_notice'] ) ) {
			$code = sanitize_key( wp_unslash( $_GET['parcours_notice'] ) );
			add_action(
				'admin_notices',
				static function () use ( $code ) {
					Parcours_Settings::notice( $code );
				}
			);
		}
		// phpcs:enable WordPress.Security.NonceVerification.Recommended
	}

	/**
	 * Parcours sent the merchant back: check the state, keep the store key, clean the URL.
	 *
	 * @return void
	 */
	private static function connect_return(): void {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- verified just below.
		$state     = isset( $_GET['state'] ) ? sanitize_text_field( wp_unslash( $_GET['state'] ) ) : '';
		$connected = sanitize_text_field( wp_unslash( $_GET['parcours_connected'] ?? '' ) );
		$key       = parcours_sanitize_store_key( isset( $_GET['store_key'] ) ? sanitize_text_field( wp_unslash( $_GET['store_key'] ) ) : '' );
		// phpcs:enable WordPress.Security.NonceVerification.Recommended
		if ( ! wp_verify_nonce( $state, self::CONNECT_NONCE ) ) {
			$notice = 'state';
		} elseif ( '1' !== $connected ) {
			$notice = 'failed';
		} elseif ( '' === $key ) {
			$notice = 'key';
		} else {
			update_option( Parcours_Options::STORE_KEY, $key, true );
			$notice = 'connected';
		}
		// Redirect so that the key and the nonce leave the address bar and a reload does nothing.
		wp_safe_redirect( self::page_url( array( 'parcours_notice' => $notice ) ) );
		exit;
	}

	/**
	 * Disconnect: forget the store key; the storefront stops loading the widgets.
	 *
	 * @return void
	 */
	public static function disconnect(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to change the Parcours connection.', 'parcours' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( self::DISCONNECT_ACTION );
		delete_option( Parcours_Options::STORE_KEY );
		wp_safe_redirect( self::page_url( array( 'parcours_notice' => 'disconnected' ) ) );
		exit;
	}

	/**
	 * Print one of the fixed notices (the code only picks a message; it is never printed).
	 *
	 * @param string $code Notice code.
	 * @return void
	 */
	public static function notice( string $code ): void {
		$notices = array(
			'connected'    => array( 'success', __( 'Parcours is connected: the widgets now load on product, cart and checkout pages.', 'parcours' ) ),
			'disconnected' => array( 'success', __( 'Parcours is disconnected: the storefront no longer loads its widgets.', 'parcours' ) ),
			'failed'       => array( 'error', __( 'The connection was cancelled or failed. Try Connect again.', 'parcours' ) ),
			'state'        => array( 'error', __( 'This connection was not started from this page or has expired. Try Connect again.', 'parcours' ) ),
			'key'          => array( 'error', __( 'Parcours sent back an invalid store key. Try Connect again.', 'parcours' ) ),
			'dashboard'    => array( 'error', __( 'The dashboard cannot be opened: this store holds no active Parcours webhook. Connect again.', 'parcours' ) ),
		);
		if ( isset( $notices[ $code ] ) ) {
			wp_admin_notice(
				esc_html( $notices[ $code ][1] ),
				array(
					'type'        => $notices[ $code ][0],
					'dismissible' => true,
				)
			);
		}
	}

	/**
	 * The section's introduction.
	 *
	 * @return void
	 */
	public static function render_section(): void {
		echo '<p>' . esc_html__( 'Parcours follows your shoppers through the customer journey and shows widgets on product, cart and checkout pages. Enter the address of your Parcours server, save, then connect.', 'parcours' ) . '</p>';
	}

	/**
	 * The URL field.
	 *
	 * @return void
	 */
	public static function render_url_field(): void {
		$value = (string) get_option( Parcours_Options::SERVER_URL, '' );
		echo '<input type="url" id="' . esc_attr( Parcours_Options::SERVER_URL ) . '" name="' . esc_attr( Parcours_Options::SERVER_URL ) . '" class="regular-text code" value="' . esc_attr( $value ) . '" placeholder="https://parcours.example.com" pattern="https://.+" />';
		echo '<p class="description">' . esc_html__( 'https only. Changing it disconnects the store.', 'parcours' ) . '</p>';
	}

	/**
	 * The page.
	 *
	 * @return void
	 */
	public static function render(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage Parcours.', 'parcours' ), '', array( 'response' => 403 ) );
		}
		$server = Parcours_Options::server_url();
		parcours_print_template(
			'settings-page',
			array(
				'server'      => $server,
				'store_key'   => '' === $server ? '' : Parcours_Options::store_key(),
				'connect_url' => '' === $server ? '' : parcours_connect_url( $server, home_url(), self::page_url(), wp_create_nonce( self::CONNECT_NONCE ) ),
			)
		);
	}

	/**
	 * "Settings" under the plugin's name in Plugins.
	 *
	 * @param array $links Action links.
	 * @return array
	 */
	public static function action_links( $links ): array {
		$links = is_array( $links ) ? $links : array();
		array_unshift( $links, '<a href="' . esc_url( self::page_url() ) . '">' . esc_html__( 'Settings', 'parcours' ) . '</a>' );
		return $links;
	}
}
