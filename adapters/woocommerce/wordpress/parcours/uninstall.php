<?php
/**
 * Deleting the plugin (not deactivating it) removes what it stored: its options, its
 * transients and the session stamp it wrote on orders. Deactivation keeps everything, so that
 * reactivating finds the store connected.
 *
 * Runs without the plugin loaded: names are spelled out here, matching Parcours_Options and
 * Parcours_Stitching.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;
defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Remove the plugin's data from the current site.
 *
 * @return void
 */
function parcours_uninstall_site(): void {
	global $wpdb;

	foreach ( array( 'parcours_url', 'parcours_store_key' ) as $option ) {
		delete_option( $option );
	}

	// Rate-limit counters: transients named parcours_*; they expire anyway, this is tidiness.
	// phpcs:disable WordPress.DB.DirectDatabaseQuery -- no API deletes transients by prefix.
	$wpdb->query(
		$wpdb->prepare(
			"DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s",
			$wpdb->esc_like( '_transient_parcours_' ) . '%',
			$wpdb->esc_like( '_transient_timeout_parcours_' ) . '%'
		)
	);

	// The order stamp, in both order storages (HPOS tables and posts).
	$wpdb->delete( $wpdb->postmeta, array( 'meta_key' => '_parcours_session' ) ); // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
	$orders_meta = $wpdb->prefix . 'wc_orders_meta';
	if ( $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $orders_meta ) ) ) === $orders_meta ) {
		$wpdb->delete( $orders_meta, array( 'meta_key' => '_parcours_session' ) ); // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
	}
	// phpcs:enable WordPress.DB.DirectDatabaseQuery
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $parcours_site_id ) {
		switch_to_blog( (int) $parcours_site_id );
		parcours_uninstall_site();
		restore_current_blog();
	}
} else {
	parcours_uninstall_site();
}
