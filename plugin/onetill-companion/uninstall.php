<?php
/**
 * Uninstall: drop the plugin's tables and delete its options (every site of a network).
 *
 * Orders the plugin created stay: they are WooCommerce orders. Their
 * _onetill_idempotency_key meta stays with them.
 *
 * @package OneTill_Companion
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/class-onetill-companion-install.php';

/**
 * Remove everything the plugin stored for the current site.
 */
function onetill_companion_uninstall_site() {
	global $wpdb;
	foreach ( OneTill_Companion_Install::tables() as $table ) {
		$wpdb->query( $wpdb->prepare( 'DROP TABLE IF EXISTS %i', $table ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery.SchemaChange -- uninstall.
	}
	foreach ( OneTill_Companion_Install::OPTIONS as $option ) {
		delete_option( $option );
	}
	wp_clear_scheduled_hook( OneTill_Companion_Install::PRUNE_HOOK );
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $onetill_companion_site ) {
		switch_to_blog( (int) $onetill_companion_site );
		onetill_companion_uninstall_site();
		restore_current_blog();
	}
} else {
	onetill_companion_uninstall_site();
}
