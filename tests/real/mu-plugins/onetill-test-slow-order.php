<?php
/**
 * OneTill test helper (installed by tests/real/test_companion_engine.py, removed after): an
 * order creation that PHP is still working on when the till gives up waiting, as on an
 * overloaded shared host. Only orders made by the till "till-slow-test" are slowed: after
 * WooCommerce has saved the order (stock reduced), before the answer, PHP waits 4 s.
 */
add_action(
	'woocommerce_rest_insert_shop_order_object',
	function ( $order ) {
		if ( 'till-slow-test' === $order->get_meta( '_onetill_till_id' ) ) {
			sleep( 4 );
		}
	}
);
