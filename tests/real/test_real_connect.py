"""``onetill connect`` against the real WooCommerce: what it accepts, refuses and warns about.

Nothing here writes to the store (connect's write check is an empty batch),
so the store is not reset between these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from onetill.cli import cli
from onetill.cli.connect import EXIT_AUTH
from onetill.config import load_config
from real.real_support import Admin
from realstore_support import RealStore

pytestmark = pytest.mark.real


def run_connect(url: str, key: str, secret: str, home: Path, *extra: str) -> Result:
    args = ["connect", url, "--key", key, "--secret", secret, "--home", str(home), *extra]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def products_in(admin: Admin) -> str:
    """The store's own product count (these tests do not reset the store)."""
    return str(admin.call("GET", "products", {"per_page": 1}).headers["X-WP-Total"])


def test_http_with_oauth_connects_and_saves_what_the_store_is(
    realstore_session: RealStore, admin: Admin, tmp_path: Path
) -> None:
    """Plain http: OAuth 1.0a signatures are accepted; the summary shows the real store."""
    store = realstore_session
    result = run_connect(store.url, store.key, store.secret, tmp_path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "RealWoo Test Store" in out
    assert "11.0.1 (wc/v3)" in out
    assert "http, OAuth 1.0a signatures" in out
    assert f"products     {products_in(admin)}" in out
    assert "EUR" in out
    assert "America/New_York (UTC-5)" in out
    assert "global /variations route" in out
    assert "read/write" in out
    assert "warning" not in result.stderr
    assert store.secret not in result.output
    config = load_config(tmp_path)
    assert (config.url, config.key, config.secret) == (store.url, store.key, store.secret)
    assert config.read_only is False and config.global_variations is True
    assert (config.timezone, config.gmt_offset, config.wc_version) == (
        "America/New_York",
        -5,
        "11.0.1",
    )


def test_https_with_basic_auth_and_the_store_ca(
    realstore_session: RealStore, admin: Admin, tmp_path: Path
) -> None:
    """https: Basic auth, the certificate verified against the CA file given."""
    store = realstore_session
    result = run_connect(
        store.url_https, store.key, store.secret, tmp_path, "--ca-file", store.ca_cert
    )
    assert result.exit_code == 0, result.output
    assert "https, Basic auth" in result.stdout
    assert f"products     {products_in(admin)}" in result.stdout
    config = load_config(tmp_path)
    assert config.url == store.url_https and config.ca_file == store.ca_cert


def test_https_without_the_ca_is_refused_as_untrusted(
    realstore_session: RealStore, tmp_path: Path
) -> None:
    """Without the store's CA the certificate is not trusted: a clear error, nothing saved."""
    store = realstore_session
    result = run_connect(store.url_https, store.key, store.secret, tmp_path)
    assert result.exit_code != 0
    assert result.stderr.startswith("error: ") and "hint: " in result.stderr
    assert "certificate" in result.stderr.lower()
    assert store.secret not in result.output
    assert not (tmp_path / "config.json").exists()


@pytest.mark.parametrize("https", [False, True], ids=["http-oauth", "https-basic"])
def test_a_wrong_secret_is_refused_and_nothing_is_saved(
    realstore_session: RealStore, tmp_path: Path, https: bool
) -> None:
    """The store's 401 becomes one line saying the keys were refused, and a hint."""
    store = realstore_session
    wrong = "cs_" + "0" * 40
    extra = ("--ca-file", store.ca_cert) if https else ()
    url = store.url_https if https else store.url
    result = run_connect(url, store.key, wrong, tmp_path, *extra)
    assert result.exit_code == EXIT_AUTH, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: the store refused the keys")
    assert lines[1].startswith("hint: ")
    assert wrong not in result.output and store.secret not in result.output
    assert not (tmp_path / "config.json").exists()


def test_a_read_only_key_connects_with_a_warning(
    realstore_session: RealStore, tmp_path: Path
) -> None:
    """A read-only key reads the catalog; connect says it cannot upload sales and saves it so."""
    store = realstore_session
    result = run_connect(store.url, store.ro_key, store.ro_secret, tmp_path)
    assert result.exit_code == 0, result.output
    assert "keys         read-only" in result.stdout
    assert "READ-ONLY" in result.stderr and "cannot upload sales" in result.stderr
    assert load_config(tmp_path).read_only is True


def test_an_address_that_is_not_the_sites_own_is_explained(
    realstore_session: RealStore, tmp_path: Path
) -> None:
    """``localhost`` instead of the site's ``127.0.0.1``: WooCommerce signs OAuth over its home
    URL, so the keys are refused; the error names the site's own address to use instead."""
    store = realstore_session
    other = store.url.replace("127.0.0.1", "localhost")
    result = run_connect(other, store.key, store.secret, tmp_path)
    assert result.exit_code == EXIT_AUTH, result.output
    assert f"connect with {store.url}" in result.stderr
    assert not (tmp_path / "config.json").exists()
    fixed = run_connect(store.url, store.key, store.secret, tmp_path)
    assert fixed.exit_code == 0, fixed.output


def test_the_api_url_instead_of_the_site_is_corrected(
    realstore_session: RealStore, tmp_path: Path
) -> None:
    """A pasted ``.../wp-json/wc/v3`` URL is cut back to the site address, and works."""
    store = realstore_session
    result = run_connect(store.url + "/wp-json/wc/v3/", store.key, store.secret, tmp_path)
    assert result.exit_code == 0, result.output
    assert "using the site's address" in result.stderr
    assert load_config(tmp_path).url == store.url
