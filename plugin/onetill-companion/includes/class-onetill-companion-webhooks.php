<?php
/**
 * POST webhooks/ensure: the till's webhooks exist, are active and carry its secret; never twice.
 *
 * A webhook is the till's when it has the till's delivery URL and the topic.
 * Re-running it is harmless: it re-enables webhooks WooCommerce disabled after
 * failed deliveries, sets the secret again (WooCommerce never returns it) and
 * deletes duplicates. Unlike POST /wc/v3/webhooks it sends no ping, so it does
 * not wait for the till to answer.
 *
 * @package OneTill_Companion
 */

defined( 'ABSPATH' ) || exit;

/**
 * The webhooks route.
 */
class OneTill_Companion_Webhooks {

	/**
	 * Topics made when the request names none (the ones the till's engine listens to).
	 *
	 * @var string[]
	 */
	const DEFAULT_TOPICS = array( 'product.created', 'product.updated', 'product.deleted', 'product.restored', 'order.created', 'order.updated' );

	/**
	 * Topics a request may ask for.
	 *
	 * @var string[]
	 */
	const TOPICS = array( 'product.created', 'product.updated', 'product.deleted', 'product.restored', 'order.created', 'order.updated', 'order.deleted', 'order.restored' );

	/**
	 * Create, update or re-enable one webhook per topic for this delivery URL.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function ensure( $request ) {
		global $wpdb;
		$url = (string) $request['delivery_url'];
		if ( ! wc_is_valid_url( $url ) ) {
			return new WP_Error(
				'onetill_webhook_invalid_delivery_url',
				__( 'delivery_url must be a full URL starting with http:// or https://.', 'onetill-companion' ),
				array( 'status' => 400 )
			);
		}
		$topics = empty( $request['topics'] ) ? self::DEFAULT_TOPICS : array_values( array_unique( (array) $request['topics'] ) );
		$prefix = empty( $request['name'] ) ? 'OneTill' : (string) $request['name'];
		$lock   = 'onetill_webhooks_' . md5( $url );
		// Two tills (or two clicks) at once must not both create: MySQL's named lock serialises them.
		$wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', $lock, 10 ) );
		try {
			$out = array();
			foreach ( $topics as $topic ) {
				$out[] = self::ensure_one( $url, (string) $topic, (string) $request['secret'], $prefix );
			}
		} finally {
			$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
		}
		return rest_ensure_response(
			array(
				'delivery_url' => $url,
				'webhooks'     => $out,
			)
		);
	}

	/**
	 * One topic: the oldest matching webhook is kept and made active; the others are deleted.
	 *
	 * @param string $url    The delivery URL.
	 * @param string $topic  The topic.
	 * @param string $secret The signing secret.
	 * @param string $prefix The name prefix.
	 * @return array<string, mixed>
	 */
	private static function ensure_one( $url, $topic, $secret, $prefix ) {
		global $wpdb;
		$ids = $wpdb->get_col(
			$wpdb->prepare(
				'SELECT webhook_id FROM %i WHERE delivery_url = %s AND topic = %s ORDER BY webhook_id ASC',
				$wpdb->prefix . 'wc_webhooks',
				$url,
				$topic
			)
		);
		$deleted = 0;
		$hook    = empty( $ids ) ? null : wc_get_webhook( (int) array_shift( $ids ) );
		foreach ( $ids as $extra ) {
			$dup = wc_get_webhook( (int) $extra );
			if ( $dup ) {
				$dup->delete( true );
				++$deleted;
			}
		}
		if ( ! $hook ) {
			$hook = new WC_Webhook();
			$hook->set_name( $prefix . ' ' . $topic );
			$hook->set_user_id( get_current_user_id() );
			$hook->set_topic( $topic );
			$hook->set_delivery_url( $url );
			$hook->set_api_version( 'wp_api_v3' );
			$action = 'created';
		} else {
			$action = 'active' === $hook->get_status() ? 'updated' : 'reactivated';
		}
		$hook->set_secret( $secret );
		$hook->set_status( 'active' );
		$hook->set_failure_count( 0 );
		$hook->save();
		return array(
			'id'                 => (int) $hook->get_id(),
			'topic'              => $topic,
			'status'             => $hook->get_status(),
			'action'             => $action,
			'deleted_duplicates' => $deleted,
		);
	}
}
