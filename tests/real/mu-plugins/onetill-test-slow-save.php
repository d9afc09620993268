<?php
/**
 * OneTill test helper (installed by tests/real/test_poll_cost_real.py, removed after): a
 * slow save, as plugins hooked on saving make one on shared hosting. Only a request
 * carrying the header X-OneTill-Slow-Save: SECONDS is slowed: before the first write of a
 * product's _regular_price it waits that long. WooCommerce's data store has already
 * written (and committed) the product's new date_modified by then.
 */
add_filter(
	'update_post_metadata',
	function ( $check, $object_id, $meta_key ) {
		static $slept = false;
		$delay = isset( $_SERVER['HTTP_X_ONETILL_SLOW_SAVE'] ) ? (float) $_SERVER['HTTP_X_ONETILL_SLOW_SAVE'] : 0.0;
		if ( $delay > 0 && ! $slept && '_regular_price' === $meta_key ) {
			$slept = true;
			usleep( (int) ( min( $delay, 20.0 ) * 1000000 ) );
		}
		return $check;
	},
	10,
	3
);
