<?php
/**
 * Relative stock adjustments (returns, goods received at the till), each idempotent by key.
 *
 * A till never writes an absolute stock figure: that would erase sales made
 * online meanwhile. It sends "+2" or "-1"; WooCommerce applies it in SQL
 * (wc_update_product_stock with 'increase' or 'decrease'). The key row and the
 * stock change are written in one database transaction, so a request that dies
 * half-way leaves neither, and a key applied once is never applied again.
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

/**
 * POST stock/adjust.
 */
class OneTill_Companion_Stock {

	const MAX_ITEMS = 100;

	/**
	 * Apply every adjustment, or none when one of them is refused.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function adjust( $request ) {
		$items  = (array) $request['adjustments'];
		$reused = self::reused_key( $items );
		if ( null !== $reused ) {
			return $reused;
		}
		$errors = self::check( $items );
		if ( ! empty( $errors ) ) {
			return new WP_Error(
				'onetill_stock_adjust_refused',
				__( 'No stock was changed: some adjustments cannot be applied (see data.errors).', 'onetill-companion' ),
				array(
					'status' => 400,
					'errors' => $errors,
				)
			);
		}
		global $wpdb;
		$table = OneTill_Companion_Install::stock_keys_table();
		$wpdb->query( 'START TRANSACTION' );
		$results = array();
		foreach ( $items as $index => $item ) {
			$id       = (int) $item['id'];
			$delta    = (int) $item['delta'];
			$key      = strtolower( (string) $item['key'] );
			$inserted = $wpdb->query(
				$wpdb->prepare(
					'INSERT IGNORE INTO %i (adjustment_key, product_id, stock_item_id, delta, stock_after, created_gmt) VALUES (%s, %d, 0, %d, NULL, %s)',
					$table,
					$key,
					$id,
					$delta,
					gmdate( 'Y-m-d H:i:s' )
				)
			);
			if ( 1 !== $inserted ) {
				$row = $wpdb->get_row( $wpdb->prepare( 'SELECT product_id, stock_item_id, delta, stock_after FROM %i WHERE adjustment_key = %s', $table, $key ), ARRAY_A );
				if ( ! is_array( $row ) || (int) $row['product_id'] !== $id || (int) $row['delta'] !== $delta ) {
					// Only a concurrent request can get here (reused_key() checked first).
					$wpdb->query( 'ROLLBACK' );
					return self::key_reused_error( $index, $key );
				}
				$results[] = self::result( $id, $key, $delta, (int) $row['stock_item_id'], $row['stock_after'], true );
				continue;
			}
			$product  = wc_get_product( $id );
			$stock_id = (int) $product->get_stock_managed_by_id();
			$after    = wc_update_product_stock( $product, abs( $delta ), $delta > 0 ? 'increase' : 'decrease' );
			$wpdb->query(
				$wpdb->prepare(
					'UPDATE %i SET stock_item_id = %d, stock_after = %d WHERE adjustment_key = %s',
					$table,
					$stock_id,
					(int) $after,
					$key
				)
			);
			$results[] = self::result( $id, $key, $delta, $stock_id, $after, false );
		}
		$wpdb->query( 'COMMIT' );
		return rest_ensure_response( array( 'adjustments' => $results ) );
	}

	/**
	 * The 422 answer when a key was applied before with another product or delta, else null.
	 *
	 * Checked before the transaction starts: a refusal inside it would roll back
	 * journal rows already numbered, and a gap in the journal holds readers back.
	 *
	 * @param array<int, mixed> $items The adjustments.
	 * @return WP_Error|null
	 */
	private static function reused_key( $items ) {
		global $wpdb;
		$seen = array();
		foreach ( $items as $index => $item ) {
			$key  = strtolower( (string) $item['key'] );
			$want = array( (int) $item['id'], (int) $item['delta'] );
			if ( isset( $seen[ $key ] ) && $seen[ $key ] !== $want ) {
				return self::key_reused_error( $index, $key );
			}
			$seen[ $key ] = $want;
			$row          = $wpdb->get_row(
				$wpdb->prepare(
					'SELECT product_id, delta FROM %i WHERE adjustment_key = %s',
					OneTill_Companion_Install::stock_keys_table(),
					$key
				),
				ARRAY_A
			);
			if ( is_array( $row ) && array( (int) $row['product_id'], (int) $row['delta'] ) !== $want ) {
				return self::key_reused_error( $index, $key );
			}
		}
		return null;
	}

	/**
	 * 422: an adjustment key was used before for a different product or delta.
	 *
	 * @param int    $index The adjustment's position in the request.
	 * @param string $key   Its key.
	 * @return WP_Error
	 */
	private static function key_reused_error( $index, $key ) {
		return new WP_Error(
			'onetill_idempotency_key_reused',
			__( 'No stock was changed: an adjustment key was already used for a different product or quantity.', 'onetill-companion' ),
			array(
				'status' => 422,
				'index'  => $index,
				'key'    => $key,
			)
		);
	}

	/**
	 * Why each adjustment cannot be applied (empty when all can).
	 *
	 * @param array<int, mixed> $items The adjustments.
	 * @return array<int, array<string, mixed>>
	 */
	private static function check( $items ) {
		$errors = array();
		foreach ( $items as $index => $item ) {
			$id    = (int) $item['id'];
			$delta = (int) $item['delta'];
			$fail  = null;
			if ( 0 === $delta ) {
				$fail = array( 'onetill_stock_zero_delta', __( 'delta must not be 0.', 'onetill-companion' ) );
			} else {
				$product = wc_get_product( $id );
				if ( ! $product || ! in_array( get_post_status( $id ), array( 'publish', 'private', 'draft', 'pending', 'future' ), true ) ) {
					$fail = array( 'onetill_stock_unknown_product', __( 'No product or variation has this id.', 'onetill-companion' ) );
				} elseif ( ! $product->managing_stock() ) {
					$fail = array( 'onetill_stock_not_managed', __( 'This product does not manage stock: turn on "Manage stock" for it first.', 'onetill-companion' ) );
				}
			}
			if ( null !== $fail ) {
				$errors[] = array(
					'index'   => $index,
					'id'      => $id,
					'code'    => $fail[0],
					'message' => $fail[1],
				);
			}
		}
		return $errors;
	}

	/**
	 * One adjustment's answer.
	 *
	 * @param int             $id       The product or variation adjusted.
	 * @param string          $key      Its key.
	 * @param int             $delta    The change.
	 * @param int             $stock_id The product holding the stock (a variation's parent when it manages it).
	 * @param int|string|null $after    The stock right after this adjustment.
	 * @param bool            $replayed Whether the key had been applied before.
	 * @return array<string, mixed>
	 */
	private static function result( $id, $key, $delta, $stock_id, $after, $replayed ) {
		return array(
			'id'             => $id,
			'key'            => $key,
			'delta'          => $delta,
			'stock_item_id'  => $stock_id,
			'stock_quantity' => null === $after ? null : (int) $after,
			'replayed'       => $replayed,
		);
	}
}
