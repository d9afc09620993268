<?php
/**
 * Idempotent order creation, and finding orders by idempotency key or sale UUID.
 *
 * POST orders reserves the key first (INSERT IGNORE under a primary key: of
 * two concurrent requests with one key exactly one gets the row), then hands
 * the body to WooCommerce's own wc/v3/orders handler through rest_do_request,
 * so validation, hooks, stock reduction and emails are WooCommerce's. The
 * order carries the key in its meta, which also finds it when the reservation
 * row was lost (a crash between creating and recording, a restored database).
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

/**
 * The order routes.
 */
class OneTill_Companion_Orders {

	const KEY_PATTERN      = '/^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/';
	const META_KEY         = '_onetill_idempotency_key';
	const META_UUID        = '_onetill_order_uuid';
	const META_SOLD_AT     = '_onetill_sold_at';
	const MAX_AGE_DAYS     = 30;
	const STALE_SECONDS    = 600;
	const MAX_UUIDS        = 100;
	const RETRY_AFTER_SECS = 2;

	/**
	 * The wc/v3 request this plugin is running (its order gets the key and the sale date).
	 *
	 * @var WP_REST_Request|null
	 */
	private static $inner = null;

	/**
	 * The idempotency key of the order being created.
	 *
	 * @var string
	 */
	private static $inner_key = '';

	/**
	 * The sale time of the order being created (UTC timestamp), or null for "now".
	 *
	 * @var int|null
	 */
	private static $inner_sold = null;

	/**
	 * POST orders: create once per Idempotency-Key.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function create( $request ) {
		$key = self::key_from( $request );
		if ( is_wp_error( $key ) ) {
			return $key;
		}
		$body = $request->get_json_params();
		if ( ! is_array( $body ) || ( ! empty( $body ) && array_keys( $body ) === range( 0, count( $body ) - 1 ) ) ) {
			return new WP_Error(
				'onetill_order_body_invalid',
				__( 'Send the order as a JSON object (Content-Type: application/json), as for POST /wc/v3/orders.', 'onetill-companion' ),
				array( 'status' => 400 )
			);
		}
		$hash = hash( 'sha256', (string) wp_json_encode( self::canonical( $body ) ) );

		$claimed = self::reserve( $key, $hash, $request );
		if ( true !== $claimed ) {
			return $claimed;
		}
		$existing = self::find_by_meta_key( $key );
		if ( $existing > 0 ) {
			self::mark_done( $key, $existing );
			return self::replay( $existing, $request );
		}
		$response = self::run_inner( $request, $body, $key );
		$data     = $response->get_data();
		if ( $response->is_error() || ! is_array( $data ) || empty( $data['id'] ) ) {
			$made = self::find_by_meta_key( $key );
			if ( $made > 0 ) {
				self::mark_done( $key, $made );
				return self::replay( $made, $request );
			}
			self::release( $key );
			return $response; // WooCommerce's own error; nothing was created, the key may be sent again.
		}
		self::mark_done( $key, (int) $data['id'] );
		$response->set_status( 201 );
		$response->header( 'Location', rest_url( 'wc/v3/orders/' . (int) $data['id'] ) );
		return $response;
	}

	/**
	 * GET orders/by-key/{key}: the order created for a key.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function by_key( $request ) {
		$key = strtolower( (string) $request['key'] );
		$row = self::reservation( $key );
		if ( null !== $row && 'pending' === $row['state'] ) {
			return self::in_progress();
		}
		$order_id = null !== $row ? (int) $row['order_id'] : self::find_by_meta_key( $key );
		if ( $order_id > 0 ) {
			$response = self::fetch( $order_id, $request );
			if ( 200 === $response->get_status() ) {
				return $response;
			}
		}
		return new WP_Error(
			'onetill_order_not_found',
			__( 'No order was created with this idempotency key.', 'onetill-companion' ),
			array(
				'status'   => 404,
				'order_id' => $order_id,
			)
		);
	}

	/**
	 * GET orders/by-uuid?uuids=a,b: every order carrying one of these sale UUIDs (_onetill_order_uuid).
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function by_uuid( $request ) {
		$uuids = self::uuid_list( (string) $request['uuids'] );
		if ( is_wp_error( $uuids ) ) {
			return $uuids;
		}
		$orders = wc_get_orders(
			array(
				'limit'      => -1,
				'status'     => self::all_statuses(),
				'orderby'    => 'ID',
				'order'      => 'ASC',
				'meta_query' => array( // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_query -- the point of the route.
					array(
						'key'     => self::META_UUID,
						'value'   => $uuids,
						'compare' => 'IN',
					),
				),
			)
		);
		$out    = array();
		foreach ( $orders as $order ) {
			if ( ! $order instanceof WC_Order ) {
				continue;
			}
			$created = $order->get_date_created();
			$out[]   = array(
				'uuid'             => (string) $order->get_meta( self::META_UUID ),
				'id'               => (int) $order->get_id(),
				'number'           => (string) $order->get_order_number(),
				'status'           => (string) $order->get_status(),
				'date_created_gmt' => $created ? gmdate( 'Y-m-d\TH:i:s', $created->getTimestamp() ) : null,
			);
		}
		return rest_ensure_response( $out );
	}

	/**
	 * Set the key and the sale date on the order our inner request creates (before it is saved).
	 *
	 * @param WC_Order|mixed  $order    The order about to be saved.
	 * @param WP_REST_Request $request  The wc/v3 request.
	 * @param bool            $creating Whether it is a new order.
	 * @return WC_Order|mixed
	 */
	public static function pre_insert( $order, $request, $creating ) {
		if ( ! $creating || null === self::$inner || $request !== self::$inner || ! $order instanceof WC_Order ) {
			return $order;
		}
		$order->update_meta_data( self::META_KEY, self::$inner_key );
		if ( null !== self::$inner_sold ) {
			$order->set_date_created( self::$inner_sold );
		}
		return $order;
	}

	/**
	 * Before each save of the order being created: paid and completed at the sale's time.
	 *
	 * WooCommerce stamps date_paid and date_completed with "now" when the status
	 * changes (after the pre-insert filter), so they are moved back on every save.
	 *
	 * @param WC_Order|mixed $order The order about to be saved.
	 */
	public static function before_order_save( $order ) {
		if ( null === self::$inner_sold || ! $order instanceof WC_Order || $order->get_meta( self::META_KEY ) !== self::$inner_key ) {
			return;
		}
		$paid = $order->get_date_paid( 'edit' );
		if ( $paid && $paid->getTimestamp() > self::$inner_sold ) {
			$order->set_date_paid( self::$inner_sold );
		}
		$completed = $order->get_date_completed( 'edit' );
		if ( $completed && $completed->getTimestamp() > self::$inner_sold ) {
			$order->set_date_completed( self::$inner_sold );
		}
	}

	// --- helpers ---------------------------------------------------------------

	/**
	 * The Idempotency-Key header (or the idempotency_key parameter, for proxies that drop headers).
	 *
	 * @param WP_REST_Request $request The request.
	 * @return string|WP_Error The key, lower-cased (keys compare case-insensitively).
	 */
	private static function key_from( $request ) {
		$key = $request->get_header( 'idempotency_key' );
		if ( null === $key || '' === $key ) {
			$key = $request->get_param( 'idempotency_key' );
		}
		if ( null === $key || '' === $key ) {
			return new WP_Error(
				'onetill_idempotency_key_missing',
				__( 'Send an Idempotency-Key header (the sale UUID): the same key always gives the same order.', 'onetill-companion' ),
				array( 'status' => 400 )
			);
		}
		if ( ! is_string( $key ) || ! preg_match( self::KEY_PATTERN, $key ) ) {
			return new WP_Error(
				'onetill_idempotency_key_invalid',
				__( 'The Idempotency-Key must be 8 to 128 characters: letters, digits and . _ : - (a UUID fits).', 'onetill-companion' ),
				array( 'status' => 400 )
			);
		}
		return strtolower( $key );
	}

	/**
	 * Take the key: true when this request owns it, else the answer to give.
	 *
	 * @param string          $key     The idempotency key.
	 * @param string          $hash    The request body's hash.
	 * @param WP_REST_Request $request The request (a replay honours its dp).
	 * @return true|WP_REST_Response|WP_Error
	 */
	private static function reserve( $key, $hash, $request ) {
		global $wpdb;
		$table = OneTill_Companion_Install::order_keys_table();
		$now   = gmdate( 'Y-m-d H:i:s' );
		for ( $attempt = 0; $attempt < 2; $attempt++ ) {
			$inserted = $wpdb->query(
				$wpdb->prepare(
					"INSERT IGNORE INTO %i (idempotency_key, request_hash, state, order_id, created_gmt, updated_gmt) VALUES (%s, %s, 'pending', 0, %s, %s)",
					$table,
					$key,
					$hash,
					$now,
					$now
				)
			);
			if ( 1 === $inserted ) {
				return true;
			}
			$row = self::reservation( $key );
			if ( null === $row ) {
				continue; // released by a failed attempt a moment ago: try to take it.
			}
			if ( ! hash_equals( $row['request_hash'], $hash ) ) {
				return new WP_Error(
					'onetill_idempotency_key_reused',
					__( 'This Idempotency-Key was already used with a different order body; a new sale needs a new key.', 'onetill-companion' ),
					array(
						'status'   => 422,
						'order_id' => (int) $row['order_id'],
					)
				);
			}
			if ( 'done' === $row['state'] ) {
				return self::replay( (int) $row['order_id'], $request );
			}
			$stale = gmdate( 'Y-m-d H:i:s', time() - self::stale_seconds() );
			if ( $row['updated_gmt'] < $stale ) {
				// The request that reserved it died (PHP fatal, killed worker). Take over, atomically.
				$taken = $wpdb->query(
					$wpdb->prepare(
						"UPDATE %i SET updated_gmt = %s WHERE idempotency_key = %s AND state = 'pending' AND updated_gmt = %s",
						$table,
						$now,
						$key,
						$row['updated_gmt']
					)
				);
				if ( 1 === $taken ) {
					return true;
				}
			}
			return self::in_progress();
		}
		return self::in_progress();
	}

	/**
	 * How long a reservation may stay pending before another request may take it over.
	 *
	 * @return int
	 */
	private static function stale_seconds() {
		return max( 60, (int) apply_filters( 'onetill_companion_order_reservation_stale_seconds', self::STALE_SECONDS ) );
	}

	/**
	 * The 409 answer: another request with this key is creating the order right now.
	 *
	 * @return WP_REST_Response
	 */
	private static function in_progress() {
		$response = rest_ensure_response(
			array(
				'code'    => 'onetill_idempotency_in_progress',
				'message' => __( 'An order with this Idempotency-Key is being created right now; ask again in a moment.', 'onetill-companion' ),
				'data'    => array(
					'status'      => 409,
					'retry_after' => self::RETRY_AFTER_SECS,
				),
			)
		);
		$response->set_status( 409 );
		$response->header( 'Retry-After', (string) self::RETRY_AFTER_SECS );
		return $response;
	}

	/**
	 * The reservation row for a key, or null.
	 *
	 * @param string $key The idempotency key.
	 * @return array<string, string>|null
	 */
	private static function reservation( $key ) {
		global $wpdb;
		$row = $wpdb->get_row(
			$wpdb->prepare(
				'SELECT idempotency_key, request_hash, state, order_id, created_gmt, updated_gmt FROM %i WHERE idempotency_key = %s',
				OneTill_Companion_Install::order_keys_table(),
				$key
			),
			ARRAY_A
		);
		return is_array( $row ) ? $row : null;
	}

	/**
	 * Record the order made for a key.
	 *
	 * @param string $key      The idempotency key.
	 * @param int    $order_id The order id.
	 */
	private static function mark_done( $key, $order_id ) {
		global $wpdb;
		$wpdb->query(
			$wpdb->prepare(
				"UPDATE %i SET state = 'done', order_id = %d, updated_gmt = %s WHERE idempotency_key = %s",
				OneTill_Companion_Install::order_keys_table(),
				$order_id,
				gmdate( 'Y-m-d H:i:s' ),
				$key
			)
		);
	}

	/**
	 * Give a key back after WooCommerce refused the order (nothing was created).
	 *
	 * @param string $key The idempotency key.
	 */
	private static function release( $key ) {
		global $wpdb;
		$wpdb->query(
			$wpdb->prepare(
				"DELETE FROM %i WHERE idempotency_key = %s AND state = 'pending'",
				OneTill_Companion_Install::order_keys_table(),
				$key
			)
		);
	}

	/**
	 * Run WooCommerce's own POST /wc/v3/orders with this body.
	 *
	 * @param WP_REST_Request      $outer The request we received.
	 * @param array<string, mixed> $body  The order body.
	 * @param string               $key   The idempotency key.
	 * @return WP_REST_Response
	 */
	private static function run_inner( $outer, $body, $key ) {
		$inner = new WP_REST_Request( 'POST', '/wc/v3/orders' );
		$inner->set_header( 'Content-Type', 'application/json' );
		$inner->set_body( (string) wp_json_encode( $body ) );
		if ( null !== $outer->get_param( 'dp' ) ) {
			$inner->set_query_params( array( 'dp' => $outer->get_param( 'dp' ) ) );
		}
		self::$inner      = $inner;
		self::$inner_key  = $key;
		self::$inner_sold = isset( $body['meta_data'] ) ? self::sold_at( $body['meta_data'] ) : null;
		add_filter( 'woocommerce_rest_pre_insert_shop_order_object', array( __CLASS__, 'pre_insert' ), 10, 3 );
		add_action( 'woocommerce_before_order_object_save', array( __CLASS__, 'before_order_save' ) );
		try {
			$response = rest_do_request( $inner );
		} finally {
			remove_filter( 'woocommerce_rest_pre_insert_shop_order_object', array( __CLASS__, 'pre_insert' ), 10 );
			remove_action( 'woocommerce_before_order_object_save', array( __CLASS__, 'before_order_save' ) );
			self::$inner      = null;
			self::$inner_key  = '';
			self::$inner_sold = null;
		}
		return $response;
	}

	/**
	 * The order as GET /wc/v3/orders/{id} shows it.
	 *
	 * @param int                  $order_id The order id.
	 * @param WP_REST_Request|null $outer    The request we received (for dp).
	 * @return WP_REST_Response
	 */
	private static function fetch( $order_id, $outer ) {
		$inner = new WP_REST_Request( 'GET', '/wc/v3/orders/' . (int) $order_id );
		if ( null !== $outer && null !== $outer->get_param( 'dp' ) ) {
			$inner->set_query_params( array( 'dp' => $outer->get_param( 'dp' ) ) );
		}
		return rest_do_request( $inner );
	}

	/**
	 * The answer to a key seen before: its order, now (200, Idempotent-Replayed: true).
	 *
	 * @param int                  $order_id The order id.
	 * @param WP_REST_Request|null $outer    The request we received.
	 * @return WP_REST_Response|WP_Error
	 */
	private static function replay( $order_id, $outer ) {
		$response = self::fetch( $order_id, $outer );
		if ( 200 !== $response->get_status() ) {
			return new WP_Error(
				'onetill_idempotency_order_deleted',
				__( 'An order was created with this Idempotency-Key but has since been deleted permanently; it is not created again.', 'onetill-companion' ),
				array(
					'status'   => 410,
					'order_id' => (int) $order_id,
				)
			);
		}
		$response->header( 'Idempotent-Replayed', 'true' );
		return $response;
	}

	/**
	 * The order (any status, trash included) carrying this idempotency key, or 0.
	 *
	 * @param string $key The idempotency key.
	 * @return int
	 */
	private static function find_by_meta_key( $key ) {
		$ids = wc_get_orders(
			array(
				'limit'      => 1,
				'return'     => 'ids',
				'status'     => self::all_statuses(),
				'orderby'    => 'ID',
				'order'      => 'ASC',
				'meta_query' => array( // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_query -- once per new order.
					array(
						'key'   => self::META_KEY,
						'value' => $key,
					),
				),
			)
		);
		return empty( $ids ) ? 0 : (int) reset( $ids );
	}

	/**
	 * Every order status, the trash included.
	 *
	 * @return string[]
	 */
	private static function all_statuses() {
		return array_merge( array_keys( wc_get_order_statuses() ), array( 'trash' ) );
	}

	/**
	 * The sale time from meta_data's _onetill_sold_at, clamped to [now - 30 days, now], or null.
	 *
	 * @param mixed $meta The request's meta_data.
	 * @return int|null A UTC timestamp.
	 */
	private static function sold_at( $meta ) {
		if ( ! is_array( $meta ) ) {
			return null;
		}
		foreach ( $meta as $entry ) {
			if ( ! is_array( $entry ) || ! isset( $entry['key'], $entry['value'] ) || self::META_SOLD_AT !== $entry['key'] ) {
				continue;
			}
			$value = $entry['value'];
			if ( ! is_string( $value ) || ! preg_match( '/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}/', $value ) ) {
				return null;
			}
			try {
				$moment = new DateTimeImmutable( $value, new DateTimeZone( 'UTC' ) );
			} catch ( Exception $e ) {
				return null;
			}
			$now = time();
			return max( $now - self::MAX_AGE_DAYS * DAY_IN_SECONDS, min( $now, $moment->getTimestamp() ) );
		}
		return null;
	}

	/**
	 * A comma list of sale UUIDs (1 to 100).
	 *
	 * @param string $raw The parameter.
	 * @return string[]|WP_Error
	 */
	private static function uuid_list( $raw ) {
		$uuids = array_values( array_unique( array_filter( array_map( 'trim', explode( ',', $raw ) ), 'strlen' ) ) );
		if ( empty( $uuids ) || count( $uuids ) > self::MAX_UUIDS ) {
			return new WP_Error(
				'rest_invalid_param',
				/* translators: %d: the largest number of UUIDs in one request. */
				sprintf( __( 'Invalid parameter(s): uuids (give 1 to %d sale UUIDs, separated by commas)', 'onetill-companion' ), self::MAX_UUIDS ),
				array(
					'status' => 400,
					'params' => array( 'uuids' => __( 'Give 1 to 100 sale UUIDs, separated by commas.', 'onetill-companion' ) ),
				)
			);
		}
		return $uuids;
	}

	/**
	 * The body with every object's keys sorted, so equal payloads hash equally.
	 *
	 * @param mixed $value A decoded JSON value.
	 * @return mixed
	 */
	private static function canonical( $value ) {
		if ( ! is_array( $value ) ) {
			return $value;
		}
		$is_list = array() === $value || array_keys( $value ) === range( 0, count( $value ) - 1 );
		$out     = array();
		foreach ( $value as $k => $v ) {
			$out[ $k ] = self::canonical( $v );
		}
		if ( ! $is_list ) {
			ksort( $out, SORT_STRING );
			return (object) $out; // an object even when it looks like a list after sorting.
		}
		return $out;
	}
}
