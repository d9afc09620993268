<?php
/**
 * The change journal: one row per change of a product, variation, tax rate or till-relevant setting.
 *
 * Rows are written after the change is in the database, so a till that reads a
 * row and then fetches the object sees that change (or a newer one). A product
 * save writes one row: stock actions fired inside a save, and the save_post
 * WordPress runs for it, are folded into the save's own row.
 *
 * Sequence numbers come from AUTO_INCREMENT. A row written inside a database
 * transaction (a checkout, a stock adjustment) takes its number at insert time
 * but is visible only at commit, so a reader could see seq N+1 before N. The
 * reader therefore stops at a gap in the sequence while the row after the gap
 * is younger than the settle window; an older gap is a rolled-back insert.
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

/**
 * Writes, reads and prunes the journal.
 */
class OneTill_Companion_Journal {

	const MAX_LIMIT      = 1000;
	const SETTLE_SECONDS = 120;

	/**
	 * Options whose changes the till must see (prices, taxes, money formatting, time zone).
	 *
	 * @var array<string, bool>
	 */
	const SETTINGS = array(
		'woocommerce_currency'                 => true,
		'woocommerce_price_num_decimals'       => true,
		'woocommerce_price_decimal_sep'        => true,
		'woocommerce_price_thousand_sep'       => true,
		'woocommerce_currency_pos'             => true,
		'woocommerce_calc_taxes'               => true,
		'woocommerce_prices_include_tax'       => true,
		'woocommerce_tax_based_on'             => true,
		'woocommerce_tax_round_at_subtotal'    => true,
		'woocommerce_tax_display_shop'         => true,
		'woocommerce_tax_display_cart'         => true,
		'woocommerce_default_country'          => true,
		'woocommerce_manage_stock'             => true,
		'woocommerce_enable_coupons'           => true,
		'woocommerce_tax_classes'              => true,
		'timezone_string'                      => true,
		'gmt_offset'                           => true,
	);

	/**
	 * Product objects being saved (spl_object_id => true): their stock actions are folded into the save's row.
	 *
	 * @var array<int, bool>
	 */
	private static $saving = array();

	/**
	 * Product objects whose stock is being set outside a save (spl_object_id => product).
	 *
	 * @var array<int, WC_Product>
	 */
	private static $stock_pending = array();

	/**
	 * How many WooCommerce product saves are running (save_post inside them is theirs).
	 *
	 * @var int
	 */
	private static $save_depth = 0;

	/**
	 * Posts being deleted (post id => array(type, parent id)), written once the delete is done.
	 *
	 * @var array<int, array{0: string, 1: int}>
	 */
	private static $deleting = array();

	/**
	 * Hook the journal into WordPress and WooCommerce.
	 */
	public static function register_hooks() {
		add_action( 'woocommerce_before_product_object_save', array( __CLASS__, 'before_save' ) );
		add_action( 'woocommerce_after_product_object_save', array( __CLASS__, 'after_save' ) );
		add_action( 'woocommerce_product_before_set_stock', array( __CLASS__, 'before_set_stock' ) );
		add_action( 'woocommerce_variation_before_set_stock', array( __CLASS__, 'before_set_stock' ) );
		add_action( 'woocommerce_product_set_stock', array( __CLASS__, 'set_stock' ) );
		add_action( 'woocommerce_variation_set_stock', array( __CLASS__, 'set_stock' ) );
		add_action( 'save_post', array( __CLASS__, 'save_post' ), 10, 2 );
		add_action( 'trashed_post', array( __CLASS__, 'post_status_changed' ) );
		add_action( 'untrashed_post', array( __CLASS__, 'post_status_changed' ) );
		add_action( 'before_delete_post', array( __CLASS__, 'before_delete_post' ), 10, 2 );
		add_action( 'deleted_post', array( __CLASS__, 'deleted_post' ) );
		add_action( 'woocommerce_tax_rate_added', array( __CLASS__, 'tax_rate_saved' ) );
		add_action( 'woocommerce_tax_rate_updated', array( __CLASS__, 'tax_rate_saved' ) );
		add_action( 'woocommerce_tax_rate_deleted', array( __CLASS__, 'tax_rate_deleted' ) );
		add_action( 'updated_option', array( __CLASS__, 'option_changed' ) );
		add_action( 'added_option', array( __CLASS__, 'option_changed' ) );
		add_action( 'deleted_option', array( __CLASS__, 'option_changed' ) );
		add_action( 'shutdown', array( __CLASS__, 'flush_pending' ) );
	}

	// --- writing ---------------------------------------------------------------

	/**
	 * A WooCommerce product or variation save begins.
	 *
	 * @param WC_Product $product The product being saved.
	 */
	public static function before_save( $product ) {
		self::$saving[ spl_object_id( $product ) ] = true;
		++self::$save_depth;
	}

	/**
	 * A WooCommerce product or variation save is done: one row.
	 *
	 * @param WC_Product $product The saved product.
	 */
	public static function after_save( $product ) {
		$key = spl_object_id( $product );
		unset( self::$saving[ $key ] );
		self::$save_depth = max( 0, self::$save_depth - 1 );
		if ( isset( self::$stock_pending[ $key ] ) ) {
			return; // wc_update_product_stock() saves, then fires set_stock: that writes the row.
		}
		self::record_product( $product );
	}

	/**
	 * Stock is about to change (wc_update_product_stock, or inside a save).
	 *
	 * @param WC_Product $product The product holding the stock.
	 */
	public static function before_set_stock( $product ) {
		if ( $product instanceof WC_Product ) {
			self::$stock_pending[ spl_object_id( $product ) ] = $product;
		}
	}

	/**
	 * Stock changed: a sale online, a refund with restock, an edit, a stock adjustment.
	 *
	 * @param WC_Product $product The product holding the stock.
	 */
	public static function set_stock( $product ) {
		if ( ! $product instanceof WC_Product ) {
			return;
		}
		$key = spl_object_id( $product );
		unset( self::$stock_pending[ $key ] );
		if ( isset( self::$saving[ $key ] ) ) {
			return; // inside a save: the save's own row follows.
		}
		self::record_product( $product );
	}

	/**
	 * A product post written without WooCommerce's product objects (another plugin, wp_update_post).
	 *
	 * @param int     $post_id The post id.
	 * @param WP_Post $post    The post.
	 */
	public static function save_post( $post_id, $post ) {
		if ( self::$save_depth > 0 || ! $post instanceof WP_Post || 'auto-draft' === $post->post_status ) {
			return;
		}
		self::record_post( $post, 'upsert' );
	}

	/**
	 * Trash or restore: the object still exists; fetching it shows its status.
	 *
	 * @param int $post_id The post id.
	 */
	public static function post_status_changed( $post_id ) {
		$post = get_post( $post_id );
		if ( $post instanceof WP_Post ) {
			self::record_post( $post, 'upsert' );
		}
	}

	/**
	 * A permanent delete begins: remember what it is (the post is gone afterwards).
	 *
	 * @param int     $post_id The post id.
	 * @param WP_Post $post    The post.
	 */
	public static function before_delete_post( $post_id, $post = null ) {
		if ( ! $post instanceof WP_Post ) {
			$post = get_post( $post_id );
		}
		$type = $post instanceof WP_Post ? self::post_type( $post->post_type ) : '';
		if ( '' !== $type ) {
			self::$deleting[ (int) $post_id ] = array( $type, (int) $post->post_parent );
		}
	}

	/**
	 * A permanent delete is done: a till that reads this row finds the object gone.
	 *
	 * @param int $post_id The post id.
	 */
	public static function deleted_post( $post_id ) {
		$post_id = (int) $post_id;
		if ( ! isset( self::$deleting[ $post_id ] ) ) {
			return;
		}
		list( $type, $parent ) = self::$deleting[ $post_id ];
		unset( self::$deleting[ $post_id ] );
		self::write( $type, $post_id, $parent, 'delete' );
	}

	/**
	 * A tax rate was added or updated.
	 *
	 * @param int $tax_rate_id The tax rate id.
	 */
	public static function tax_rate_saved( $tax_rate_id ) {
		self::write( 'tax_rate', (int) $tax_rate_id, 0, 'upsert' );
	}

	/**
	 * A tax rate was deleted.
	 *
	 * @param int $tax_rate_id The tax rate id.
	 */
	public static function tax_rate_deleted( $tax_rate_id ) {
		self::write( 'tax_rate', (int) $tax_rate_id, 0, 'delete' );
	}

	/**
	 * A setting the till uses changed (every option change passes here: one array lookup).
	 *
	 * @param string $option The option name.
	 */
	public static function option_changed( $option ) {
		if ( isset( self::SETTINGS[ $option ] ) ) {
			self::write( 'setting', 0, 0, 'upsert', (string) $option );
		}
	}

	/**
	 * End of request: a stock change announced but never completed still gets its row.
	 */
	public static function flush_pending() {
		$pending             = self::$stock_pending;
		self::$stock_pending = array();
		foreach ( $pending as $product ) {
			self::record_product( $product );
		}
	}

	/**
	 * One row for a product or variation object.
	 *
	 * @param WC_Product $product The product.
	 */
	private static function record_product( $product ) {
		$id = (int) $product->get_id();
		if ( $id <= 0 ) {
			return;
		}
		if ( $product->is_type( 'variation' ) ) {
			self::write( 'variation', $id, (int) $product->get_parent_id(), 'upsert' );
		} else {
			self::write( 'product', $id, 0, 'upsert' );
		}
	}

	/**
	 * One row for a product or variation post (other post types are ignored).
	 *
	 * @param WP_Post $post      The post.
	 * @param string  $operation upsert or delete.
	 */
	private static function record_post( $post, $operation ) {
		$type = self::post_type( $post->post_type );
		if ( '' !== $type ) {
			self::write( $type, (int) $post->ID, 'variation' === $type ? (int) $post->post_parent : 0, $operation );
		}
	}

	/**
	 * The journal's object type for a post type, or '' when not journaled.
	 *
	 * @param string $post_type The post type.
	 * @return string
	 */
	private static function post_type( $post_type ) {
		if ( 'product' === $post_type ) {
			return 'product';
		}
		return 'product_variation' === $post_type ? 'variation' : '';
	}

	/**
	 * Insert one row (one INSERT; $wpdb->insert prepares it).
	 *
	 * @param string $type      product, variation, tax_rate or setting.
	 * @param int    $id        The object id (0 for a setting).
	 * @param int    $parent    The parent product of a variation, else 0.
	 * @param string $operation upsert or delete.
	 * @param string $key       The option name of a setting, else ''.
	 */
	public static function write( $type, $id, $parent, $operation, $key = '' ) {
		global $wpdb;
		$wpdb->insert(
			OneTill_Companion_Install::changes_table(),
			array(
				'object_type' => $type,
				'object_id'   => $id,
				'parent_id'   => $parent,
				'object_key'  => $key,
				'operation'   => $operation,
				'changed_gmt' => gmdate( 'Y-m-d H:i:s' ),
			),
			array( '%s', '%d', '%d', '%s', '%s', '%s' )
		);
	}

	// --- reading ---------------------------------------------------------------

	/**
	 * The settle window: a younger gap in the sequence may be a transaction not yet committed.
	 *
	 * @return int
	 */
	public static function settle_seconds() {
		return max( 0, (int) apply_filters( 'onetill_companion_journal_settle_seconds', self::SETTLE_SECONDS ) );
	}

	/**
	 * The highest sequence number written (or pruned through, when the table is empty).
	 *
	 * @return int
	 */
	public static function max_seq() {
		global $wpdb;
		$table = OneTill_Companion_Install::changes_table();
		$max   = $wpdb->get_var( $wpdb->prepare( 'SELECT MAX(seq) FROM %i', $table ) );
		return null === $max ? self::pruned_through() : (int) $max;
	}

	/**
	 * Rows at or below this number were pruned.
	 *
	 * @return int
	 */
	public static function pruned_through() {
		return (int) get_option( OneTill_Companion_Install::OPTION_PRUNED_THROUGH, 0 );
	}

	/**
	 * The newest sequence number a till may start from: no row at or below it can still appear.
	 *
	 * @return int
	 */
	public static function head() {
		global $wpdb;
		$table  = OneTill_Companion_Install::changes_table();
		$cutoff = gmdate( 'Y-m-d H:i:s', time() - self::settle_seconds() );
		$first  = $wpdb->get_var( $wpdb->prepare( 'SELECT MIN(seq) FROM %i WHERE changed_gmt >= %s', $table, $cutoff ) );
		if ( null === $first ) {
			return self::max_seq(); // nothing recent: every gap is old, every row settled.
		}
		$before = $wpdb->get_var( $wpdb->prepare( 'SELECT seq FROM %i WHERE seq < %d ORDER BY seq DESC LIMIT 1', $table, (int) $first ) );
		$prev   = null === $before ? self::pruned_through() : (int) $before;
		$rows   = $wpdb->get_results( $wpdb->prepare( 'SELECT seq, changed_gmt FROM %i WHERE seq >= %d ORDER BY seq ASC', $table, (int) $first ), ARRAY_A );
		foreach ( (array) $rows as $row ) {
			if ( (int) $row['seq'] !== $prev + 1 && $row['changed_gmt'] >= $cutoff ) {
				break;
			}
			$prev = (int) $row['seq'];
		}
		return $prev;
	}

	/**
	 * Rows after $after, at most $limit, stopping at an unsettled gap.
	 *
	 * @param int $after Sequence number already seen.
	 * @param int $limit Maximum rows.
	 * @return array{changes: array<int, array<string, mixed>>, next: int, more: bool}
	 */
	public static function read( $after, $limit ) {
		global $wpdb;
		$table  = OneTill_Companion_Install::changes_table();
		$rows   = $wpdb->get_results(
			$wpdb->prepare(
				'SELECT seq, object_type, object_id, parent_id, object_key, operation, changed_gmt FROM %i WHERE seq > %d ORDER BY seq ASC LIMIT %d',
				$table,
				$after,
				$limit + 1
			),
			ARRAY_A
		);
		$cutoff = gmdate( 'Y-m-d H:i:s', time() - self::settle_seconds() );
		$out    = array();
		$prev   = $after;
		$more   = false;
		foreach ( (array) $rows as $row ) {
			$seq = (int) $row['seq'];
			if ( count( $out ) >= $limit ) {
				$more = true;
				break;
			}
			if ( $seq !== $prev + 1 && $row['changed_gmt'] >= $cutoff ) {
				break; // the missing number may be a transaction about to commit.
			}
			$out[] = array(
				'seq'       => $seq,
				'type'      => $row['object_type'],
				'id'        => (int) $row['object_id'],
				'parent_id' => (int) $row['parent_id'],
				'key'       => $row['object_key'],
				'op'        => $row['operation'],
				'at'        => str_replace( ' ', 'T', $row['changed_gmt'] ),
			);
			$prev  = $seq;
		}
		return array(
			'changes' => $out,
			'next'    => $prev,
			'more'    => $more,
		);
	}

	// --- pruning ---------------------------------------------------------------

	/**
	 * Delete rows older than the retention period (daily, by WP-Cron).
	 *
	 * The newest row is always kept: InnoDB before MySQL 8 restarts AUTO_INCREMENT
	 * at MAX(seq)+1 after a server restart, and an empty table would hand out
	 * numbers a till has already passed. The pruned-through mark is raised before
	 * the delete, so a till behind it is told to re-baseline, never served a hole.
	 *
	 * @param int|null $retention_seconds Keep rows younger than this (default: the filtered 30 days).
	 * @return int Rows deleted.
	 */
	public static function prune( $retention_seconds = null ) {
		global $wpdb;
		if ( null === $retention_seconds ) {
			$days              = (int) apply_filters( 'onetill_companion_journal_retention_days', 30 );
			$retention_seconds = max( 1, $days ) * DAY_IN_SECONDS;
		}
		$table  = OneTill_Companion_Install::changes_table();
		$cutoff = gmdate( 'Y-m-d H:i:s', time() - (int) $retention_seconds );
		$max    = (int) $wpdb->get_var( $wpdb->prepare( 'SELECT MAX(seq) FROM %i', $table ) );
		$cut    = (int) $wpdb->get_var( $wpdb->prepare( 'SELECT MAX(seq) FROM %i WHERE changed_gmt < %s', $table, $cutoff ) );
		$cut    = min( $cut, $max - 1 );
		if ( $cut <= self::pruned_through() ) {
			return 0;
		}
		update_option( OneTill_Companion_Install::OPTION_PRUNED_THROUGH, (string) $cut );
		$deleted = 0;
		do {
			$n        = (int) $wpdb->query( $wpdb->prepare( 'DELETE FROM %i WHERE seq <= %d LIMIT 5000', $table, $cut ) );
			$deleted += $n;
		} while ( 5000 === $n );
		return $deleted;
	}
}
