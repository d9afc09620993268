"""``onetill connect`` end to end against the sandbox store served on 127.0.0.1.

Each failure must say what is wrong and what to do, exit non-zero, save
nothing and never print the secret.
"""

from __future__ import annotations

import contextlib
import json
import socket
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from onetill.cli import cli
from onetill.cli.connect import EXIT_AUTH, EXIT_NOT_WOOCOMMERCE, EXIT_UNREACHABLE
from onetill.config import load_config


@pytest.fixture(autouse=True)
def _no_os_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep test secrets out of the developer's real keyring: the 0600 file is used."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def run_connect(url: str, key: str, secret: str, home: Path, *extra: str) -> Result:
    args = ["connect", url, "--key", key, "--secret", secret, "--home", str(home), *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def assert_failed(result: Result, code: int, secret: str, home: Path, *words: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    for word in words:
        assert word in result.stderr
    assert secret not in result.output
    assert not (home / "config.json").exists()


def test_connect_over_http_with_oauth_saves_the_connection(
    start_sandbox: Any, tmp_path: Path
) -> None:
    srv = start_sandbox()
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "http, OAuth 1.0a signatures" in out
    assert "products     320" in out  # X-WP-Total of the recorded store
    assert "EUR" in out
    assert "not installed" in out  # no companion plugin
    assert "America/New_York (UTC-5)" in out
    assert "read/write" in out
    assert srv.secret not in result.output

    config = load_config(tmp_path)
    assert config.url == srv.url and config.key == srv.key and config.secret == srv.secret
    assert config.read_only is False
    assert config.timezone == "America/New_York" and config.gmt_offset == -5
    assert config.global_variations is True and config.plugin is False
    saved = (tmp_path / "config.json").read_text()
    assert srv.secret not in saved
    secrets_file = tmp_path / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600


def test_reconnecting_keeps_the_till_id(start_sandbox: Any, tmp_path: Path) -> None:
    srv = start_sandbox()
    assert run_connect(srv.url, srv.key, srv.secret, tmp_path).exit_code == 0
    first = load_config(tmp_path).till_id
    assert run_connect(srv.url, srv.key, srv.secret, tmp_path).exit_code == 0
    assert load_config(tmp_path).till_id == first


def test_a_wrong_secret_is_named(start_sandbox: Any, tmp_path: Path) -> None:
    srv = start_sandbox()
    result = run_connect(srv.url, srv.key, "cs_wrong_secret_value", tmp_path)
    assert_failed(
        result, EXIT_AUTH, "cs_wrong_secret_value", tmp_path, "Invalid signature", "--secret"
    )


def test_an_unknown_key_is_named(start_sandbox: Any, tmp_path: Path) -> None:
    srv = start_sandbox()
    result = run_connect(srv.url, "ck_nobody", srv.secret, tmp_path)
    assert_failed(result, EXIT_AUTH, srv.secret, tmp_path, "--key")


def test_a_read_only_key_is_named_read_only_and_saved_as_such(
    start_sandbox: Any, tmp_path: Path
) -> None:
    srv = start_sandbox(read_only_keys={"ck_readonly": "cs_readonly_secret"})
    result = run_connect(srv.url, "ck_readonly", "cs_readonly_secret", tmp_path)
    assert result.exit_code == 0, result.output
    assert "read-only" in result.stdout
    assert "READ-ONLY" in result.stderr and "Read/Write" in result.stderr
    assert load_config(tmp_path).read_only is True


def test_a_read_only_key_is_found_on_a_store_that_speaks_german(
    start_sandbox: Any, tmp_path: Path
) -> None:
    """The refusal of the write is worded in German ("keine Schreibberechtigung"): the key
    is still found read-only, from the status of the write after a successful read."""
    srv = start_sandbox(read_only_keys={"ck_readonly": "cs_readonly_secret"}, locale="de_DE")
    result = run_connect(srv.url, "ck_readonly", "cs_readonly_secret", tmp_path)
    assert result.exit_code == 0, result.output
    assert "READ-ONLY" in result.stderr
    assert load_config(tmp_path).read_only is True


def test_a_skewed_store_clock_is_corrected_and_reported(start_sandbox: Any, tmp_path: Path) -> None:
    """The store's clock is 20 minutes ahead: beyond WooCommerce's 15-minute window."""
    srv = start_sandbox(clock_offset_s=1200)
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert result.exit_code == 0, result.output
    assert "behind the store's" in result.stdout
    assert "signed with the store's time" in result.stdout


def test_https_with_basic_auth_and_the_stores_ca(
    start_sandbox: Any, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = tls_cert
    srv = start_sandbox(ssl_certfile=cert, ssl_keyfile=key)
    assert srv.url.startswith("https://")
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path, "--ca-file", str(cert))
    assert result.exit_code == 0, result.output
    assert "https, Basic auth" in result.stdout
    assert load_config(tmp_path).ca_file == str(cert.resolve())


def test_a_self_signed_certificate_is_named(
    start_sandbox: Any, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = tls_cert
    srv = start_sandbox(ssl_certfile=cert, ssl_keyfile=key)
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert_failed(result, EXIT_UNREACHABLE, srv.secret, tmp_path, "certificate", "--ca-file")
    insecure = run_connect(srv.url, srv.key, srv.secret, tmp_path, "--insecure")
    assert insecure.exit_code == 0, insecure.output
    assert load_config(tmp_path).insecure is True


def test_a_wrong_secret_over_https_is_named(
    start_sandbox: Any, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = tls_cert
    srv = start_sandbox(ssl_certfile=cert, ssl_keyfile=key)
    result = run_connect(srv.url, srv.key, "cs_not_it", tmp_path, "--ca-file", str(cert))
    assert_failed(result, EXIT_AUTH, "cs_not_it", tmp_path, "--secret")


def test_keys_in_the_query_over_plain_http_are_refused(start_sandbox: Any, tmp_path: Path) -> None:
    srv = start_sandbox()
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path, "--auth-in-query")
    assert_failed(result, 1, srv.secret, tmp_path, "plain http", "OAuth")


def test_an_unreachable_host_is_named(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_connect(f"http://127.0.0.1:{port}", "ck_a", "cs_b_secret", tmp_path)
    assert_failed(result, EXIT_UNREACHABLE, "cs_b_secret", tmp_path, "cannot reach", "online")


@contextlib.contextmanager
def html_site(status: int, body: str) -> Iterator[str]:
    """A loopback web server that is not WordPress (or hides it behind HTML)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_site_that_is_not_wordpress_is_named(tmp_path: Path) -> None:
    with html_site(404, "<html><body><h1>Not Found</h1></body></html>") as url:
        result = run_connect(url, "ck_a", "cs_b_secret", tmp_path)
    assert_failed(result, EXIT_NOT_WOOCOMMERCE, "cs_b_secret", tmp_path, "WordPress")


def test_a_rest_api_blocked_by_a_firewall_is_named(tmp_path: Path) -> None:
    with html_site(
        403, "<html><title>Attention Required</title><body>blocked</body></html>"
    ) as url:
        result = run_connect(url, "ck_a", "cs_b_secret", tmp_path)
    assert_failed(result, EXIT_NOT_WOOCOMMERCE, "cs_b_secret", tmp_path, "blocked", "/wp-json/")


def test_wordpress_without_woocommerce_is_named(tmp_path: Path) -> None:
    index = json.dumps({"name": "Blog", "home": "x", "namespaces": ["oembed/1.0", "wp/v2"]})

    with html_site(200, index) as url:
        result = run_connect(url, "ck_a", "cs_b_secret", tmp_path)
    assert_failed(result, EXIT_NOT_WOOCOMMERCE, "cs_b_secret", tmp_path, "wc/v3", "WooCommerce")


def test_ca_file_and_insecure_exclude_each_other(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("x")
    result = run_connect(
        "https://shop.test", "ck", "cs_x", tmp_path, "--ca-file", str(pem), "--insecure"
    )
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_a_url_without_scheme_is_refused_with_an_example(tmp_path: Path) -> None:
    result = run_connect("shop.example.com", "ck", "cs_x", tmp_path)
    assert_failed(result, 1, "cs_x", tmp_path, "https://")


def test_a_firewall_in_front_of_the_products_route_is_named(
    start_sandbox: Any, tmp_path: Path
) -> None:
    """/wp-json/ answers, but a WAF challenges the product listing with HTML."""
    srv = start_sandbox(faults="GET /products*:waf=403")
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert_failed(result, EXIT_NOT_WOOCOMMERCE, srv.secret, tmp_path, "HTTP 403", "firewall")


def test_the_api_url_is_cut_back_to_the_sites_address(start_sandbox: Any, tmp_path: Path) -> None:
    srv = start_sandbox()
    result = run_connect(srv.url + "/wp-json/wc/v3/", srv.key, srv.secret, tmp_path)
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path).url == srv.url


def test_a_broken_optional_route_does_not_break_connect(start_sandbox: Any, tmp_path: Path) -> None:
    """A PHP fatal page on /variations only means per-product variations, not a crash."""
    srv = start_sandbox(faults="GET /variations*:html=500")
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert result.exit_code == 0, result.output
    assert "per product" in result.stdout
    assert load_config(tmp_path).global_variations is False


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[::1", ["not a store URL", "https://"]),
        ("http://admin:pw-hunter2@127.0.0.1:9", ["user name or password", "without"]),
        ("ftp://shop.example.com", ["not a store URL", "https://"]),
    ],
)
def test_a_malformed_store_url_is_a_clear_error_not_a_traceback(
    tmp_path: Path, url: str, words: list[str]
) -> None:
    result = run_connect(url, "ck_a", "cs_b_secret", tmp_path)
    assert_failed(result, 1, "cs_b_secret", tmp_path, *words)
    assert "pw-hunter2" not in result.output


@pytest.mark.parametrize(
    ("faults", "status"),
    [("GET /products*:status=503", "503"), ("GET /wp-json/:html=500", "500")],
    ids=["products overloaded", "site failing"],
)
def test_a_failing_or_overloaded_site_is_named_as_such(
    start_sandbox: Any, tmp_path: Path, faults: str, status: str
) -> None:
    """A 5xx that outlasts the retries is "try again later", not "not WordPress" or "blocked"."""
    srv = start_sandbox(faults=faults)
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert_failed(result, EXIT_UNREACHABLE, srv.secret, tmp_path, f"HTTP {status}", "try again")
    assert "does not look like WordPress" not in result.stderr
    assert "blocked" not in result.stderr


def test_new_keys_lift_the_pause_of_the_order_queue(start_sandbox: Any, tmp_path: Path) -> None:
    """After the store rejected the keys, connecting again with good keys resumes uploads."""
    from onetill.store import open_database
    from onetill.store.sync_state import get_state, set_state

    srv = start_sandbox()
    with open_database(tmp_path) as db, db.write() as conn:
        set_state(conn, "outbox.paused", "the store rejected the API keys (401)")
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path)
    assert result.exit_code == 0, result.output
    assert "paused order queue will be retried" in result.output
    with open_database(tmp_path) as db:
        assert get_state(db.conn, "outbox.paused") is None


def test_a_url_that_never_answers_says_it_waits_and_gives_up_at_the_timeout(
    tmp_path: Path,
) -> None:
    """It used to be silent for 122 s (four attempts of 30 s); now it says it is waiting and
    stops at --timeout with a clear message."""
    import time

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = run_connect(url, "ck_a", "cs_b_secret", tmp_path, "--timeout", "2")
        took = time.monotonic() - started
    assert result.exit_code == EXIT_UNREACHABLE, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"waiting for {url} to answer")
    assert lines[1] == f"error: {url} did not answer within 2 s"
    assert lines[2].startswith("hint: ") and "--timeout" in lines[2]
    assert "cs_b_secret" not in result.output and not (tmp_path / "config.json").exists()
    assert took < 6


def test_insecure_with_basic_auth_warns_that_the_keys_can_be_taken(
    start_sandbox: Any, tls_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = tls_cert
    srv = start_sandbox(ssl_certfile=cert, ssl_keyfile=key)
    result = run_connect(srv.url, srv.key, srv.secret, tmp_path, "--insecure")
    assert result.exit_code == 0, result.output
    assert "--insecure with Basic auth" in result.stderr
    checked = run_connect(srv.url, srv.key, srv.secret, tmp_path, "--ca-file", str(cert))
    assert "--insecure" not in checked.stderr
