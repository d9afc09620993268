<?php
/**
 * The REST routes under wc-onetill/v1.
 *
 * The namespace starts with "wc-" on purpose: WooCommerce authenticates its API
 * keys (Basic over https, OAuth 1.0a over http) only for routes under wc/ and
 * wc-*, so the till's existing key reaches these routes, and a read-only key is
 * refused every write by WooCommerce before these handlers run.
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

/**
 * Route registration, permissions, and the read routes (status, changes, ids).
 */
class OneTill_Companion_Rest {

	const NAMESPACE_V1 = 'wc-onetill/v1';
	const IDS_PER_PAGE = 5000;
	const KEY_REGEX    = '[A-Za-z0-9][A-Za-z0-9._:-]{7,127}';

	/**
	 * Register every route.
	 */
	public static function register_routes() {
		$read_products = array( __CLASS__, 'can_read_products' );
		register_rest_route(
			self::NAMESPACE_V1,
			'/status',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'status' ),
				'permission_callback' => $read_products,
				'args'                => array(),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/changes',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'changes' ),
				'permission_callback' => $read_products,
				'args'                => array(
					'after' => self::int_arg( __( 'Return changes with a sequence number above this one.', 'onetill-companion' ), null, 0, null, true ),
					'limit' => self::int_arg( __( 'The most changes to return.', 'onetill-companion' ), 500, 1, OneTill_Companion_Journal::MAX_LIMIT ),
					'epoch' => array(
						'description'       => __( 'The journal epoch the till knows; another epoch means the till must sync in full.', 'onetill-companion' ),
						'type'              => 'string',
						'pattern'           => '^[a-f0-9]{1,64}$',
						'validate_callback' => 'rest_validate_request_arg',
					),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/ids',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'ids' ),
				'permission_callback' => $read_products,
				'args'                => array(
					'type'     => array(
						'description'       => __( 'Which objects to list.', 'onetill-companion' ),
						'type'              => 'string',
						'enum'              => array( 'product', 'variation' ),
						'required'          => true,
						'validate_callback' => 'rest_validate_request_arg',
					),
					'page'     => self::int_arg( __( 'The page (1 is the lowest ids).', 'onetill-companion' ), 1, 1, null ),
					'per_page' => self::int_arg( __( 'Ids per page.', 'onetill-companion' ), self::IDS_PER_PAGE, 1, self::IDS_PER_PAGE ),
					'after_id' => self::int_arg( __( 'Instead of page: ids above this one (a delete while paging cannot shift the pages).', 'onetill-companion' ), null, 0, null ),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/orders',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( 'OneTill_Companion_Orders', 'create' ),
				'permission_callback' => array( __CLASS__, 'can_create_orders' ),
				'args'                => array(
					'idempotency_key' => array(
						'description'       => __( 'The Idempotency-Key, for clients whose proxy drops that header.', 'onetill-companion' ),
						'type'              => 'string',
						'pattern'           => '^' . self::KEY_REGEX . '$',
						'validate_callback' => 'rest_validate_request_arg',
					),
					'dp'              => self::int_arg( __( 'Number of decimal points to use in each resource.', 'onetill-companion' ), null, 0, null ),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/orders/by-key/(?P<key>' . self::KEY_REGEX . ')',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( 'OneTill_Companion_Orders', 'by_key' ),
				'permission_callback' => array( __CLASS__, 'can_read_orders' ),
				'args'                => array(
					'key' => array(
						'description' => __( 'The Idempotency-Key the order was created with.', 'onetill-companion' ),
						'type'        => 'string',
					),
					'dp'  => self::int_arg( __( 'Number of decimal points to use in each resource.', 'onetill-companion' ), null, 0, null ),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/orders/by-uuid',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( 'OneTill_Companion_Orders', 'by_uuid' ),
				'permission_callback' => array( __CLASS__, 'can_read_orders' ),
				'args'                => array(
					'uuids' => array(
						'description'       => __( 'Sale UUIDs (_onetill_order_uuid), separated by commas; at most 100.', 'onetill-companion' ),
						'type'              => 'string',
						'required'          => true,
						'minLength'         => 1,
						'validate_callback' => 'rest_validate_request_arg',
					),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/stock/adjust',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( 'OneTill_Companion_Stock', 'adjust' ),
				'permission_callback' => array( __CLASS__, 'can_edit_products' ),
				'args'                => array(
					'adjustments' => array(
						'description'       => __( 'Relative stock changes, each with its own idempotency key.', 'onetill-companion' ),
						'type'              => 'array',
						'required'          => true,
						'minItems'          => 1,
						'maxItems'          => OneTill_Companion_Stock::MAX_ITEMS,
						'items'             => array(
							'type'                 => 'object',
							'required'             => array( 'id', 'delta', 'key' ),
							'additionalProperties' => false,
							'properties'           => array(
								'id'    => array(
									'type'    => 'integer',
									'minimum' => 1,
								),
								'delta' => array( 'type' => 'integer' ),
								'key'   => array(
									'type'    => 'string',
									'pattern' => '^' . self::KEY_REGEX . '$',
								),
							),
						),
						'validate_callback' => 'rest_validate_request_arg',
					),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/webhooks/ensure',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( 'OneTill_Companion_Webhooks', 'ensure' ),
				'permission_callback' => array( __CLASS__, 'can_manage_webhooks' ),
				'args'                => array(
					'delivery_url' => array(
						'description'       => __( 'Where WooCommerce delivers the webhooks.', 'onetill-companion' ),
						'type'              => 'string',
						'format'            => 'uri',
						'required'          => true,
						'validate_callback' => 'rest_validate_request_arg',
					),
					'secret'       => array(
						'description'       => __( 'The secret WooCommerce signs deliveries with.', 'onetill-companion' ),
						'type'              => 'string',
						'required'          => true,
						'minLength'         => 8,
						'validate_callback' => 'rest_validate_request_arg',
					),
					'topics'       => array(
						'description'       => __( 'Topics (default: product created/updated/deleted/restored, order created/updated).', 'onetill-companion' ),
						'type'              => 'array',
						'items'             => array(
							'type' => 'string',
							'enum' => OneTill_Companion_Webhooks::TOPICS,
						),
						'validate_callback' => 'rest_validate_request_arg',
					),
					'name'         => array(
						'description'       => __( 'Name prefix of the webhooks (default OneTill).', 'onetill-companion' ),
						'type'              => 'string',
						'maxLength'         => 100,
						'validate_callback' => 'rest_validate_request_arg',
					),
				),
			)
		);
	}

	/**
	 * An integer argument with bounds.
	 *
	 * @param string   $description What it is.
	 * @param int|null $default_value Its default (null: none).
	 * @param int|null $minimum    The lowest value.
	 * @param int|null $maximum    The highest value.
	 * @param bool     $required   Whether it must be given.
	 * @return array<string, mixed>
	 */
	private static function int_arg( $description, $default_value, $minimum, $maximum, $required = false ) {
		$arg = array(
			'description'       => $description,
			'type'              => 'integer',
			'validate_callback' => 'rest_validate_request_arg',
		);
		if ( null !== $default_value ) {
			$arg['default'] = $default_value;
		}
		if ( null !== $minimum ) {
			$arg['minimum'] = $minimum;
		}
		if ( null !== $maximum ) {
			$arg['maximum'] = $maximum;
		}
		if ( $required ) {
			$arg['required'] = true;
		}
		return $arg;
	}

	// --- permissions -------------------------------------------------------------

	/**
	 * Read routes about the catalog: whoever may read private products (as GET /wc/v3/products).
	 *
	 * @return true|WP_Error
	 */
	public static function can_read_products() {
		return self::allow( wc_rest_check_post_permissions( 'product', 'read' ), 'woocommerce_rest_cannot_view', __( 'Sorry, you cannot list resources.', 'onetill-companion' ) );
	}

	/**
	 * Order lookups: whoever may read private orders.
	 *
	 * @return true|WP_Error
	 */
	public static function can_read_orders() {
		return self::allow( wc_rest_check_post_permissions( 'shop_order', 'read' ), 'woocommerce_rest_cannot_view', __( 'Sorry, you cannot view this resource.', 'onetill-companion' ) );
	}

	/**
	 * Creating orders: whoever may create them through POST /wc/v3/orders.
	 *
	 * @return true|WP_Error
	 */
	public static function can_create_orders() {
		return self::allow( wc_rest_check_post_permissions( 'shop_order', 'create' ), 'woocommerce_rest_cannot_create', __( 'Sorry, you are not allowed to create resources.', 'onetill-companion' ) );
	}

	/**
	 * Stock adjustments: whoever may edit every product.
	 *
	 * @return true|WP_Error
	 */
	public static function can_edit_products() {
		return self::allow( wc_rest_check_post_permissions( 'product', 'batch' ), 'woocommerce_rest_cannot_edit', __( 'Sorry, you are not allowed to edit this resource.', 'onetill-companion' ) );
	}

	/**
	 * Webhooks: shop managers and administrators (manage_woocommerce, as /wc/v3/webhooks).
	 *
	 * @return true|WP_Error
	 */
	public static function can_manage_webhooks() {
		return self::allow( wc_rest_check_manager_permissions( 'webhooks', 'create' ), 'woocommerce_rest_cannot_create', __( 'Sorry, you are not allowed to create resources.', 'onetill-companion' ) );
	}

	/**
	 * True, or WooCommerce's permission error (401 anonymous, 403 signed in without the capability).
	 *
	 * @param bool   $allowed Whether the capability check passed.
	 * @param string $code    The error code.
	 * @param string $message The error message.
	 * @return true|WP_Error
	 */
	private static function allow( $allowed, $code, $message ) {
		if ( $allowed ) {
			return true;
		}
		return new WP_Error( $code, $message, array( 'status' => rest_authorization_required_code() ) );
	}

	// --- read routes -------------------------------------------------------------

	/**
	 * GET status: versions, the server's clock, the journal's head and epoch, features.
	 *
	 * @return WP_REST_Response
	 */
	public static function status() {
		$hpos = false;
		if ( class_exists( '\Automattic\WooCommerce\Utilities\OrderUtil' ) ) {
			$hpos = \Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled();
		}
		return rest_ensure_response(
			array(
				'plugin_version'      => ONETILL_COMPANION_VERSION,
				'woocommerce_version' => defined( 'WC_VERSION' ) ? WC_VERSION : '',
				'wordpress_version'   => get_bloginfo( 'version' ),
				'server_time_gmt'     => gmdate( 'Y-m-d\TH:i:s' ),
				'journal'             => array(
					'epoch'          => OneTill_Companion_Install::epoch(),
					'head'           => OneTill_Companion_Journal::head(),
					'pruned_through' => OneTill_Companion_Journal::pruned_through(),
					'max_limit'      => OneTill_Companion_Journal::MAX_LIMIT,
				),
				'hpos'                => (bool) $hpos,
				'features'            => array(
					'changes'           => true,
					'ids'               => true,
					'idempotent_orders' => true,
					'orders_by_uuid'    => true,
					'stock_adjust'      => true,
					'webhooks_ensure'   => true,
				),
			)
		);
	}

	/**
	 * GET changes?after=SEQ&limit=N[&epoch=E]: journal rows after a sequence number.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function changes( $request ) {
		$after  = (int) $request['after'];
		$limit  = (int) $request['limit'];
		$epoch  = OneTill_Companion_Install::epoch();
		$asked  = $request['epoch'];
		$reason = '';
		if ( null !== $asked && '' !== $asked && $asked !== $epoch ) {
			$reason = 'epoch';
		} elseif ( $after < OneTill_Companion_Journal::pruned_through() ) {
			$reason = 'expired';
		} elseif ( $after > OneTill_Companion_Journal::max_seq() ) {
			$reason = 'ahead';
		}
		if ( '' !== $reason ) {
			return new WP_Error(
				'onetill_journal_rebaseline',
				__( 'The change journal no longer covers this position: sync everything once, then follow the journal from data.head.', 'onetill-companion' ),
				array(
					'status' => 410,
					'reason' => $reason,
					'epoch'  => $epoch,
					'head'   => OneTill_Companion_Journal::head(),
				)
			);
		}
		$page = OneTill_Companion_Journal::read( $after, $limit );
		return rest_ensure_response(
			array(
				'epoch'   => $epoch,
				'head'    => OneTill_Companion_Journal::head(),
				'next'    => $page['next'],
				'more'    => $page['more'],
				'changes' => $page['changes'],
			)
		);
	}

	/**
	 * GET ids?type=product|variation&page=N: every id with its status and date_modified_gmt.
	 *
	 * Every status is listed except auto-draft (the trash included): the audit
	 * looks for objects that are gone, and a trashed one is not gone.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response
	 */
	public static function ids( $request ) {
		global $wpdb;
		$post_type = 'variation' === $request['type'] ? 'product_variation' : 'product';
		$per_page  = (int) $request['per_page'];
		$page      = (int) $request['page'];
		$after_id  = $request['after_id'];
		$total     = (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM %i WHERE post_type = %s AND post_status <> 'auto-draft'", $wpdb->posts, $post_type ) );
		if ( null !== $after_id ) {
			$rows = $wpdb->get_results(
				$wpdb->prepare(
					"SELECT ID, post_parent, post_status, post_modified_gmt FROM %i WHERE post_type = %s AND post_status <> 'auto-draft' AND ID > %d ORDER BY ID ASC LIMIT %d",
					$wpdb->posts,
					$post_type,
					(int) $after_id,
					$per_page
				),
				ARRAY_A
			);
		} else {
			$rows = $wpdb->get_results(
				$wpdb->prepare(
					"SELECT ID, post_parent, post_status, post_modified_gmt FROM %i WHERE post_type = %s AND post_status <> 'auto-draft' ORDER BY ID ASC LIMIT %d OFFSET %d",
					$wpdb->posts,
					$post_type,
					$per_page,
					( $page - 1 ) * $per_page
				),
				ARRAY_A
			);
		}
		$items = array();
		foreach ( (array) $rows as $row ) {
			$modified = (string) $row['post_modified_gmt'];
			$items[]  = array(
				'id'                => (int) $row['ID'],
				'parent_id'         => (int) $row['post_parent'],
				'status'            => (string) $row['post_status'],
				'date_modified_gmt' => 0 === strpos( $modified, '0000' ) ? null : str_replace( ' ', 'T', $modified ),
			);
		}
		$pages    = (int) ceil( $total / $per_page );
		$last     = end( $items );
		$response = rest_ensure_response(
			array(
				'type'          => (string) $request['type'],
				'page'          => null === $after_id ? $page : null,
				'per_page'      => $per_page,
				'total'         => $total,
				'total_pages'   => $pages,
				'next_after_id' => count( $items ) === $per_page && $last ? $last['id'] : null,
				'items'         => $items,
			)
		);
		$response->header( 'X-WP-Total', (string) $total );
		$response->header( 'X-WP-TotalPages', (string) $pages );
		return $response;
	}
}
