<?php
/**
 * Plugin Name:       OneTill Companion
 * Description:       Helps the OneTill point-of-sale till stay in step with WooCommerce: a change journal, an ID index, idempotent order creation with the sale's own date, and atomic stock adjustments, under the REST namespace wc-onetill/v1.
 * Version:           1.0.0
 * Requires at least: 6.4
 * Requires PHP:      7.4
 * Requires Plugins:  woocommerce
 * Author:            OneTill
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       onetill-companion
 * WC requires at least: 8.0
 * WC tested up to:   11.0
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

define( 'ONETILL_COMPANION_VERSION', '1.0.0' );
define( 'ONETILL_COMPANION_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-onetill-companion-install.php';
require_once __DIR__ . '/includes/class-onetill-companion-journal.php';
require_once __DIR__ . '/includes/class-onetill-companion-orders.php';
require_once __DIR__ . '/includes/class-onetill-companion-stock.php';
require_once __DIR__ . '/includes/class-onetill-companion-webhooks.php';
require_once __DIR__ . '/includes/class-onetill-companion-rest.php';

register_activation_hook( __FILE__, array( 'OneTill_Companion_Install', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'OneTill_Companion_Install', 'deactivate' ) );

/*
 * HPOS: the plugin reads and writes orders only through WooCommerce's own
 * APIs (wc_get_orders, WC_Order, the wc/v3 REST handler), never the posts table.
 */
add_action(
	'before_woocommerce_init',
	static function () {
		if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', ONETILL_COMPANION_FILE, true );
		}
	}
);

add_action( 'plugins_loaded', 'onetill_companion_boot' );

/**
 * Start the plugin once every plugin is loaded: only when WooCommerce is active.
 */
function onetill_companion_boot() {
	if ( ! class_exists( 'WooCommerce' ) ) {
		add_action( 'admin_notices', 'onetill_companion_missing_woocommerce_notice' );
		return;
	}
	OneTill_Companion_Install::maybe_upgrade();
	OneTill_Companion_Journal::register_hooks();
	add_action( 'rest_api_init', array( 'OneTill_Companion_Rest', 'register_routes' ) );
	add_action( OneTill_Companion_Install::PRUNE_HOOK, array( 'OneTill_Companion_Journal', 'prune' ) );
	add_action( 'init', array( 'OneTill_Companion_Install', 'ensure_pruning_scheduled' ) );
}

/**
 * The notice shown in wp-admin when WooCommerce is missing or inactive.
 */
function onetill_companion_missing_woocommerce_notice() {
	if ( ! current_user_can( 'activate_plugins' ) ) {
		return;
	}
	printf(
		'<div class="notice notice-error"><p>%s</p></div>',
		esc_html__( 'OneTill Companion needs WooCommerce: install and activate WooCommerce to use it.', 'onetill-companion' )
	);
}
