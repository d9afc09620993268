"""Moving data between WooCommerce and the till: catalog pull, deletions, stock, outbox."""
