"""Catalog tables: what the till sells and the store settings it prices with.

Products and variations share one table, ``products`` (``type`` is
``variation`` and ``parent_id`` is set for a variation), because the till
looks both up the same way (barcode, SKU, id) and stock may live on either.
Money is TEXT holding WooCommerce's decimal strings, never REAL.

The name index (FTS5) keeps no positions (``detail=none``): the till's
search is "every word as a prefix", which needs none, and the initial sync
writes it much faster.
"""

from __future__ import annotations

__all__ = ["STATEMENTS"]

STATEMENTS: list[str] = [
    """
    CREATE TABLE products (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER NOT NULL DEFAULT 0,
        type TEXT NOT NULL,                -- simple | variable | variation | grouped | external
        status TEXT NOT NULL,              -- publish | draft | pending | private | trash | deleted
        name TEXT NOT NULL DEFAULT '',
        sku TEXT NOT NULL DEFAULT '',
        barcode TEXT NOT NULL DEFAULT '',  -- global_unique_id, else SKU, else meta
        price TEXT NOT NULL DEFAULT '',
        regular_price TEXT NOT NULL DEFAULT '',
        sale_price TEXT NOT NULL DEFAULT '',
        sale_from_gmt TEXT,                -- naive UTC ISO, NULL when open
        sale_to_gmt TEXT,
        tax_status TEXT NOT NULL DEFAULT 'taxable',
        tax_class TEXT NOT NULL DEFAULT '', -- '' is the standard class; variations may say 'parent'
        manage_stock TEXT NOT NULL DEFAULT '0', -- '1', '0' or 'parent'
        stock_quantity INTEGER,            -- local view: store stock minus unsent sales
                                           -- (for manage_stock 'parent': the parent's)
        store_stock_quantity INTEGER,      -- the last value WooCommerce reported
        stock_status TEXT NOT NULL DEFAULT 'instock',
        backorders TEXT NOT NULL DEFAULT 'no',
        categories TEXT NOT NULL DEFAULT '[]', -- JSON list of category ids
        date_modified_gmt TEXT NOT NULL DEFAULT '', -- naive UTC ISO, as WooCommerce sends it
        purchasable INTEGER NOT NULL DEFAULT 1, -- WooCommerce's own flag
        sellable INTEGER NOT NULL DEFAULT 0, -- publish+purchasable(+parent publish)
        raw TEXT NOT NULL DEFAULT '{}'     -- the JSON object as received
    )
    """,
    "CREATE INDEX products_parent ON products(parent_id)",
    "CREATE INDEX products_sku ON products(sku) WHERE sku != ''",
    "CREATE INDEX products_barcode ON products(barcode) WHERE barcode != ''",
    """
    CREATE VIRTUAL TABLE products_fts USING fts5(
        name, sku, content='products', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', detail=none, columnsize=0
    )
    """,
    """
    CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN
        INSERT INTO products_fts(rowid, name, sku) VALUES (new.id, new.name, new.sku);
    END
    """,
    """
    CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, name, sku)
        VALUES ('delete', old.id, old.name, old.sku);
    END
    """,
    """
    CREATE TRIGGER products_fts_au AFTER UPDATE OF name, sku ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, name, sku)
        VALUES ('delete', old.id, old.name, old.sku);
        INSERT INTO products_fts(rowid, name, sku) VALUES (new.id, new.name, new.sku);
    END
    """,
    """
    CREATE TABLE tax_rates (
        id INTEGER PRIMARY KEY,
        country TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT '',
        postcodes TEXT NOT NULL DEFAULT '[]',
        cities TEXT NOT NULL DEFAULT '[]',
        rate TEXT NOT NULL,                -- percent as a decimal string, e.g. '19.0000'
        name TEXT NOT NULL DEFAULT '',
        priority INTEGER NOT NULL DEFAULT 1,
        compound INTEGER NOT NULL DEFAULT 0,
        shipping INTEGER NOT NULL DEFAULT 1,
        rate_order INTEGER NOT NULL DEFAULT 0,
        class TEXT NOT NULL DEFAULT 'standard',
        raw TEXT NOT NULL DEFAULT '{}'
    )
    """,
    """
    CREATE TABLE tax_classes (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE categories (
        id INTEGER PRIMARY KEY,
        parent INTEGER NOT NULL DEFAULT 0,
        name TEXT NOT NULL,
        slug TEXT NOT NULL DEFAULT '',
        raw TEXT NOT NULL DEFAULT '{}'
    )
    """,
    # WooCommerce settings as id -> value (groups 'general' and 'tax'), e.g.
    # ('general', 'woocommerce_currency', 'EUR'), ('tax', 'woocommerce_prices_include_tax', 'yes').
    """
    CREATE TABLE settings (
        grp TEXT NOT NULL,
        id TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (grp, id)
    )
    """,
    # Cursors and resume points: key -> value (JSON or text).
    """
    CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
    """,
    """
    CREATE TABLE discrepancies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        object_type TEXT NOT NULL,         -- product | variation | order | ...
        object_id TEXT NOT NULL,
        field TEXT NOT NULL,
        local_value TEXT,
        store_value TEXT,
        cause TEXT NOT NULL
    )
    """,
    "CREATE INDEX discrepancies_object ON discrepancies(object_type, object_id)",
]
