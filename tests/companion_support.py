"""The companion plugin inside the real WooCommerce store: install, activate, run PHP, watch logs.

PHP runs with php-cli and WordPress loaded from the store's own
``wp-load.php`` (as the kit's ``wp-setup.php`` does), as user 1 (the
administrator the API keys belong to); no WP-CLI. ``reset_db.sh`` restores a
dump taken before the plugin existed: after a reset the plugin is inactive
and its tables and options are gone, so a test that needs it activates it
again (``activate``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from onetill.cli.plugin import build_zip
from onetill.woo import WooClient
from onetill.woo.errors import WooAPIError
from realstore_support import ROOT, RealStore

PLUGIN_SRC = ROOT / "plugin" / "onetill-companion"
SLUG = "onetill-companion/onetill-companion.php"
NAMESPACE = "wc-onetill/v1"
TABLES = ("wp_onetill_changes", "wp_onetill_order_keys", "wp_onetill_stock_keys")
OPTIONS = (
    "onetill_companion_db_version",
    "onetill_companion_journal_epoch",
    "onetill_companion_journal_pruned_through",
)
# php-fpm's OPcache looks at a file's timestamp at most every 2 s.
OPCACHE_REVALIDATE_S = 2.2
_DEBUG_OFF = "define('WP_DEBUG', false);"
_DEBUG_ON = "define('WP_DEBUG', true); define('WP_DEBUG_DISPLAY', false);"


def www(store: RealStore) -> Path:
    return store.prefix / "www"


def plugin_dir(store: RealStore) -> Path:
    return www(store) / "wp-content" / "plugins" / "onetill-companion"


def install_files(store: RealStore) -> None:
    """Unpack the zip ``onetill plugin zip`` builds into the store's plugins folder (fresh).

    The zip, not the source folder: what the tests prove is what a merchant uploads.
    """
    target = plugin_dir(store)
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "onetill-companion.zip"
        build_zip(PLUGIN_SRC, archive)
        with zipfile.ZipFile(archive) as z:
            z.extractall(target.parent)


def remove_files(store: RealStore) -> None:
    shutil.rmtree(plugin_dir(store), ignore_errors=True)


def wp_php(store: RealStore, code: str, *, timeout: float = 120) -> Any:
    """Run ``code`` with WordPress loaded; it must ``echo wp_json_encode(...)`` last.

    Returns the decoded JSON of the last line printed. A PHP error (exit
    status, or anything on stderr) fails loudly with what PHP said.
    """
    host = urlsplit(store.url).netloc
    prelude = (
        f"$_SERVER['HTTP_HOST'] = '{host}'; $_SERVER['SERVER_NAME'] = '127.0.0.1'; "
        "$_SERVER['REQUEST_URI'] = '/'; "
        f"require '{www(store)}/wp-load.php'; "
        "require_once ABSPATH . 'wp-admin/includes/plugin.php'; wp_set_current_user( 1 ); "
        # The store has no sendmail; php-fpm logs that to its own log, php-cli to stderr.
        "add_filter( 'pre_wp_mail', '__return_false' ); "
    )
    done = subprocess.run(
        ["php", "-d", "display_errors=stderr", "-r", prelude + code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0 or done.stderr.strip():
        raise AssertionError(
            f"PHP failed (exit {done.returncode}):\n{done.stderr.strip()}\n{done.stdout[-2000:]}"
        )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def activate(store: RealStore) -> None:
    """Activate the plugin as an administrator would (runs its activation hook)."""
    result = wp_php(
        store,
        f"$r = activate_plugin( '{SLUG}' ); "
        "echo wp_json_encode( is_wp_error( $r ) ? $r->get_error_message() : 'ok' );",
    )
    assert result == "ok", f"activation failed: {result}"


def deactivate(store: RealStore) -> None:
    wp_php(store, f"deactivate_plugins( '{SLUG}' ); echo wp_json_encode( 'ok' );")


def uninstall(store: RealStore) -> None:
    """Deactivate, then run the plugin's uninstall.php as WordPress's "Delete" does."""
    deactivate(store)
    wp_php(store, f"uninstall_plugin( '{SLUG}' ); echo wp_json_encode( 'ok' );")


def tables(store: RealStore) -> list[str]:
    found = wp_php(
        store,
        "global $wpdb; echo wp_json_encode( $wpdb->get_col( \"SHOW TABLES LIKE '%onetill%'\" ) );",
    )
    return sorted(found)


def options(store: RealStore) -> dict[str, Any]:
    names = json.dumps(list(OPTIONS))
    return wp_php(
        store,
        f"$o = array(); foreach ( json_decode( '{names}' ) as $n ) "
        "{ $v = get_option( $n, null ); if ( null !== $v ) { $o[ $n ] = $v; } } "
        "echo wp_json_encode( (object) $o );",
    )


@contextmanager
def wp_debug(store: RealStore) -> Iterator[None]:
    """``WP_DEBUG`` on (logged to ``log/wp-debug.log``, not displayed), off again afterwards."""
    config = www(store) / "wp-config.php"
    text = config.read_text(encoding="utf-8")
    if _DEBUG_ON not in text:
        assert _DEBUG_OFF in text, "wp-config.php does not define WP_DEBUG as the kit writes it"
        config.write_text(text.replace(_DEBUG_OFF, _DEBUG_ON, 1), encoding="utf-8")
        time.sleep(OPCACHE_REVALIDATE_S)
    try:
        yield
    finally:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(_DEBUG_ON, _DEBUG_OFF, 1), encoding="utf-8")


class LogWatch:
    """New lines in the store's PHP logs since the last look."""

    def __init__(self, store: RealStore) -> None:
        self.files = [store.prefix / "log" / "wp-debug.log", store.prefix / "log" / "php-error.log"]
        self.offsets = {f: (f.stat().st_size if f.exists() else 0) for f in self.files}

    def new_lines(self) -> list[str]:
        out: list[str] = []
        for f in self.files:
            if not f.exists():
                continue
            with f.open("rb") as handle:
                handle.seek(self.offsets[f])
                data = handle.read()
            self.offsets[f] += len(data)
            out += data.decode("utf-8", "replace").splitlines()
        return out

    def ours(self) -> list[str]:
        """New lines naming the plugin (its files, classes or functions)."""
        return [line for line in self.new_lines() if "onetill" in line.lower()]


def client(store: RealStore, *, read_only: bool = False, **kwargs: Any) -> WooClient:
    """Our client over https (Basic auth, the store's CA), as a till would connect."""
    key, secret = (store.ro_key, store.ro_secret) if read_only else (store.key, store.secret)
    return WooClient(store.url_https, key, secret, verify=store.ca_cert, **kwargs)


async def call(
    c: WooClient,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    authenticate: bool | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One plugin request: (status, body, headers), error answers included."""
    try:
        r = await c.request(
            method,
            path,
            params,
            json=json,
            namespace=NAMESPACE,
            headers=headers,
            authenticate=authenticate,
        )
    except WooAPIError as exc:
        return exc.status, {"code": exc.code, "message": exc.message, "data": exc.data}, {}
    return r.status, r.data, dict(r.headers)


async def head(c: WooClient) -> int:
    status, body, _ = await call(c, "GET", "status")
    assert status == 200, body
    return int(body["journal"]["head"])


async def changes_since(c: WooClient, after: int) -> list[dict[str, Any]]:
    """Every journal row after ``after`` (following ``more``)."""
    out: list[dict[str, Any]] = []
    while True:
        status, body, _ = await call(c, "GET", "changes", {"after": after, "limit": 1000})
        assert status == 200, body
        out += body["changes"]
        after = body["next"]
        if not body["more"]:
            return out
