<?php
/**
 * Tables, options and the scheduled pruning: created on activation, removed by uninstall.php.
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

/**
 * Activation, deactivation and schema upgrades.
 */
class OneTill_Companion_Install {

	const DB_VERSION            = '1';
	const OPTION_DB_VERSION     = 'onetill_companion_db_version';
	const OPTION_EPOCH          = 'onetill_companion_journal_epoch';
	const OPTION_PRUNED_THROUGH = 'onetill_companion_journal_pruned_through';
	const PRUNE_HOOK            = 'onetill_companion_prune_journal';

	/**
	 * Every option the plugin stores (uninstall.php deletes them).
	 *
	 * @var string[]
	 */
	const OPTIONS = array( self::OPTION_DB_VERSION, self::OPTION_EPOCH, self::OPTION_PRUNED_THROUGH );

	/**
	 * The change journal's table.
	 *
	 * @return string
	 */
	public static function changes_table() {
		global $wpdb;
		return $wpdb->prefix . 'onetill_changes';
	}

	/**
	 * The reservations of idempotent order creation.
	 *
	 * @return string
	 */
	public static function order_keys_table() {
		global $wpdb;
		return $wpdb->prefix . 'onetill_order_keys';
	}

	/**
	 * The keys of applied stock adjustments.
	 *
	 * @return string
	 */
	public static function stock_keys_table() {
		global $wpdb;
		return $wpdb->prefix . 'onetill_stock_keys';
	}

	/**
	 * Every table the plugin owns.
	 *
	 * @return string[]
	 */
	public static function tables() {
		return array( self::changes_table(), self::order_keys_table(), self::stock_keys_table() );
	}

	/**
	 * Activation (of this site, or of every site when network-activated).
	 *
	 * @param bool $network_wide Whether the plugin is being network-activated.
	 */
	public static function activate( $network_wide = false ) {
		if ( is_multisite() && $network_wide ) {
			foreach ( get_sites( array( 'fields' => 'ids' ) ) as $site_id ) {
				switch_to_blog( (int) $site_id );
				self::activate_site();
				restore_current_blog();
			}
			return;
		}
		self::activate_site();
	}

	/**
	 * Create the tables and start a new journal epoch for the current site.
	 *
	 * While the plugin was inactive nothing was journaled: a till following the
	 * journal must not assume it saw every change, so every activation starts a
	 * new epoch and tills that notice it sync in full once.
	 */
	public static function activate_site() {
		self::create_tables();
		update_option( self::OPTION_DB_VERSION, self::DB_VERSION );
		self::new_epoch();
		add_option( self::OPTION_PRUNED_THROUGH, '0' );
		self::ensure_pruning_scheduled();
	}

	/**
	 * Schedule the daily pruning if it is not (also on every load: a wp-cron run
	 * that saved its older copy of the cron option at the moment of activation
	 * loses the event, a known WordPress race).
	 */
	public static function ensure_pruning_scheduled() {
		if ( ! wp_next_scheduled( self::PRUNE_HOOK ) ) {
			wp_schedule_event( time() + HOUR_IN_SECONDS, 'daily', self::PRUNE_HOOK );
		}
	}

	/**
	 * Deactivation: the hooks stop with the plugin; the scheduled pruning stops here.
	 *
	 * @param bool $network_wide Whether the plugin is being network-deactivated.
	 */
	public static function deactivate( $network_wide = false ) {
		if ( is_multisite() && $network_wide ) {
			foreach ( get_sites( array( 'fields' => 'ids' ) ) as $site_id ) {
				switch_to_blog( (int) $site_id );
				wp_clear_scheduled_hook( self::PRUNE_HOOK );
				restore_current_blog();
			}
			return;
		}
		wp_clear_scheduled_hook( self::PRUNE_HOOK );
	}

	/**
	 * A newer plugin version with a changed schema: update the tables in place.
	 */
	public static function maybe_upgrade() {
		if ( get_option( self::OPTION_DB_VERSION ) === self::DB_VERSION ) {
			return;
		}
		self::activate_site();
	}

	/**
	 * A new random journal epoch (tills that knew the old one re-baseline).
	 */
	public static function new_epoch() {
		update_option( self::OPTION_EPOCH, bin2hex( random_bytes( 8 ) ) );
	}

	/**
	 * The current journal epoch (created when missing).
	 *
	 * @return string
	 */
	public static function epoch() {
		$epoch = get_option( self::OPTION_EPOCH );
		if ( ! is_string( $epoch ) || '' === $epoch ) {
			self::new_epoch();
			$epoch = (string) get_option( self::OPTION_EPOCH );
		}
		return $epoch;
	}

	/**
	 * Create or update the tables with dbDelta.
	 */
	public static function create_tables() {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$collate = $wpdb->get_charset_collate();
		$changes = self::changes_table();
		$orders  = self::order_keys_table();
		$stock   = self::stock_keys_table();
		// dbDelta's format: two spaces after PRIMARY KEY, one definition per line.
		dbDelta(
			"CREATE TABLE {$changes} (
  seq bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  object_type varchar(20) NOT NULL,
  object_id bigint(20) unsigned NOT NULL DEFAULT 0,
  parent_id bigint(20) unsigned NOT NULL DEFAULT 0,
  object_key varchar(191) NOT NULL DEFAULT '',
  operation varchar(10) NOT NULL,
  changed_gmt datetime NOT NULL,
  PRIMARY KEY  (seq),
  KEY changed_gmt (changed_gmt)
) {$collate};
CREATE TABLE {$orders} (
  idempotency_key varchar(128) NOT NULL,
  request_hash char(64) NOT NULL,
  state varchar(20) NOT NULL,
  order_id bigint(20) unsigned NOT NULL DEFAULT 0,
  created_gmt datetime NOT NULL,
  updated_gmt datetime NOT NULL,
  PRIMARY KEY  (idempotency_key),
  KEY order_id (order_id)
) {$collate};
CREATE TABLE {$stock} (
  adjustment_key varchar(128) NOT NULL,
  product_id bigint(20) unsigned NOT NULL,
  stock_item_id bigint(20) unsigned NOT NULL DEFAULT 0,
  delta bigint(20) NOT NULL,
  stock_after bigint(20) DEFAULT NULL,
  created_gmt datetime NOT NULL,
  PRIMARY KEY  (adjustment_key)
) {$collate};"
		);
	}
}
