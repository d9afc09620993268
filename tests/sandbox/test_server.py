"""The sandbox as a real server: in a thread, over https, as a restartable process, from the CLI."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner
from woocommerce.oauth import OAuth

from onetill.cli.sandbox import sandbox as sandbox_command
from onetill.sandbox import SandboxConfig
from onetill.sandbox.control import ControlError, SandboxControl
from onetill.sandbox.server import SandboxProcess, running_sandbox
from support import RECORDED_STORE


def _refused(url: str) -> bool:
    try:
        httpx2.get(url, timeout=2)
    except httpx2.ConnectError:
        return True
    return False


def test_running_sandbox_serves_the_index_on_its_bound_url_and_stops() -> None:
    config = SandboxConfig(store_dir=RECORDED_STORE)
    with running_sandbox(config) as srv:
        assert srv.url.startswith("http://127.0.0.1:")
        assert config.home_url == srv.url
        index = httpx2.get(srv.url + "/wp-json/", timeout=5)
        assert index.status_code == 200
        assert "wc/v3" in index.json()["namespaces"]
        # Signed by the official WooCommerce Python client's OAuth code: a third
        # party's reading of the protocol, not ours.
        url = OAuth(srv.url + "/wp-json/wc/v3/products?per_page=10", srv.key, srv.secret,
                    method="GET").get_oauth_url()  # fmt: skip
        page = httpx2.get(url, timeout=5)
        assert page.status_code == 200
        assert page.headers["x-wp-total"] == "320"
        assert srv.store is srv.app.state.sandbox
    assert _refused(srv.url + "/wp-json/")


def test_server_stops_even_when_the_block_fails() -> None:
    with pytest.raises(ZeroDivisionError), running_sandbox(
        SandboxConfig(store_dir=RECORDED_STORE)
    ) as srv:
        url = srv.url
        1 / 0  # noqa: B018 - the failure under test
    assert _refused(url + "/wp-json/")


def test_every_answer_carries_exactly_one_date_header(sandbox_server: Any) -> None:
    """The store writes Date from its own clock; uvicorn must not add a second one."""
    response = httpx2.get(sandbox_server.url + "/wp-json/", timeout=5)
    assert len(response.headers.get_list("date")) == 1


def test_server_clock_offset_shows_in_date(sandbox_server: Any) -> None:
    import email.utils
    import time

    sandbox_server.control.set_clock_offset(-86400)
    response = httpx2.get(sandbox_server.url + "/wp-json/", timeout=5)
    shown = email.utils.parsedate_to_datetime(response.headers["date"]).timestamp()
    assert abs(shown - (time.time() - 86400)) < 5


def test_https_with_basic_auth_and_a_verified_certificate(
    start_sandbox: Callable[..., Any], tls_cert: tuple[Path, Path]
) -> None:
    cert, key = tls_cert
    srv = start_sandbox(ssl_certfile=cert, ssl_keyfile=key)
    assert srv.url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(cert))
    with httpx2.Client(verify=context, auth=(srv.key, srv.secret), timeout=5) as client:
        response = client.get(srv.url + "/wp-json/wc/v3/products/10")
    assert response.status_code == 200
    assert response.json()["id"] == 10
    assert srv.control.stock(10) == {10: 7}


def test_control_client_sync_and_async(sandbox_server: Any) -> None:
    import anyio

    control = sandbox_server.control
    order = control.place_online_order([{"product_id": 10, "quantity": 3}])
    assert control.stock(10, 11) == {10: 4, 11: sandbox_server.store.stock_of([11])[11]}

    async def async_side() -> list[dict[str, Any]]:
        await control.aupdate_product(10, stock_quantity=20)
        return await control.aorders()

    orders = anyio.run(async_side)
    assert [o["id"] for o in orders] == [order["id"]]
    assert control.stock(10) == {10: 20}
    assert control.cost()["requests"] == 0  # control calls are not costed


def test_control_client_raises_a_clear_error(sandbox_server: Any) -> None:
    with pytest.raises(ControlError) as caught:
        sandbox_server.control.add_faults("/orders:explode")
    assert caught.value.status == 400
    assert "unknown fault kind" in str(caught.value)


def test_control_api_refuses_a_client_uvicorn_sees_as_remote(sandbox_server: Any) -> None:
    """Through the real server: a client address that is not loopback gets 403."""
    response = httpx2.get(
        sandbox_server.url + "/__sandbox__/orders",
        headers={"X-Forwarded-For": "203.0.113.50"},
        timeout=5,
    )
    assert response.status_code == 403
    direct = httpx2.get(sandbox_server.url + "/__sandbox__/orders", timeout=5)
    assert direct.status_code == 200


def test_control_api_is_absent_when_disabled(start_sandbox: Callable[..., Any]) -> None:
    srv = start_sandbox(control=False)
    response = httpx2.get(srv.url + "/__sandbox__/orders", timeout=5)
    assert response.status_code == 404


def test_a_busy_port_is_reported_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"), running_sandbox(
            SandboxConfig(store_dir=RECORDED_STORE), port=port
        ):
            pass


# --- the CLI ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "/orders:explode"], "unknown fault kind 'explode'"),
        (["--key", "ck_x"], "give --key and --secret together"),
        (["--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
        (["--read-only-key", "ck_only"], "expected CK:CS"),
        (["--store", str(RECORDED_STORE), "--products", "5"], "do not combine"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_cli_refuses_bad_options_before_starting(args: list[str], message: str) -> None:
    result = CliRunner().invoke(sandbox_command, args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.slow
def test_state_file_survives_a_restart_on_the_same_port(tmp_path: Path) -> None:
    """The store as a separate process: stopped and started again, it remembers."""
    state = tmp_path / "store.sqlite"
    args = ["--store", str(RECORDED_STORE), "--state", str(state)]
    first = SandboxProcess(args)
    first.start()
    try:
        assert first.url is not None
        assert "consumer key:    ck_" in first.output
        control = SandboxControl(first.url)
        order = control.place_online_order([{"product_id": 10, "quantity": 2}])
        control.update_product(11, regular_price="4.44")
    finally:
        first.kill()  # no graceful shutdown: the store must have written through
    assert _refused(first.url + "/wp-json/")
    second = SandboxProcess(args, port=first.port)
    with second:
        assert second.url == first.url
        control = SandboxControl(second.url)
        assert [o["id"] for o in control.orders()] == [order["id"]]
        assert control.stock(10) == {10: 5}
        assert control.update_product(11, sale_price="")["regular_price"] == "4.44"


@pytest.mark.slow
def test_sandbox_process_prints_url_and_keys_and_serves(tmp_path: Path) -> None:
    proc = SandboxProcess(["--products", "50", "--variable", "5", "--key", "ck_e2e",
                           "--secret", "cs_e2e", "--faults", "GET /products/1:status=503",
                           "--workers", "3", "--latency", "20"])  # fmt: skip
    with proc:
        assert "consumer key:    ck_e2e" in proc.output
        assert "consumer secret: cs_e2e" in proc.output
        index = httpx2.get(f"{proc.url}/wp-json/", timeout=5)
        assert index.status_code == 200
        faulted = httpx2.get(f"{proc.url}/wp-json/wc/v3/products/1", timeout=5)
        assert faulted.status_code == 503
        cost = SandboxControl(str(proc.url)).cost()
        assert (cost["workers"], cost["requests"]) == (3, 1)  # the 503 came from the "host"
        assert cost["modelled_s"] == pytest.approx(0.02)
    assert not proc.running


@pytest.mark.slow
def test_cli_https_read_only_key_timezone_and_no_control(tls_cert: tuple[Path, Path]) -> None:
    """The CLI serves https with a read-only key and the site timezone, and keeps the
    control API off unless asked for it."""
    cert, key = tls_cert
    proc = SandboxProcess(["--store", str(RECORDED_STORE), "--https-cert", str(cert),
                           "--https-key", str(key), "--read-only-key", "ck_ro:cs_ro",
                           "--timezone", "Europe/Berlin"], control=False)  # fmt: skip
    with proc:
        assert str(proc.url).startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        with httpx2.Client(verify=context, auth=("ck_ro", "cs_ro"), timeout=5) as client:
            index = client.get(f"{proc.url}/wp-json/")
            read = client.get(f"{proc.url}/wp-json/wc/v3/products/10")
            write = client.put(f"{proc.url}/wp-json/wc/v3/products/10", json={"name": "x"})
            control = client.get(f"{proc.url}/__sandbox__/orders")
    assert index.json()["timezone_string"] == "Europe/Berlin"
    assert read.status_code == 200
    assert write.status_code == 401
    assert "write permissions" in write.json()["message"]
    assert control.status_code == 404


@pytest.mark.slow
def test_sandbox_process_on_a_busy_port_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = SandboxProcess(["--products", "1"], port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"cannot listen on 127\.0\.0\.1"):
            proc.start()
    assert not proc.running


def test_control_error_for_an_unreachable_sandbox_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx2.ConnectError):
        SandboxControl(f"http://127.0.0.1:{port}", timeout=2).orders()


def test_public_api_is_pinned() -> None:
    import onetill.sandbox

    assert onetill.sandbox.__all__ == ["SandboxConfig", "create_app"]


def test_the_sandbox_imports_nothing_else_of_ours() -> None:
    """It is the other side of the wire: a bug shared with the client would hide itself."""
    import ast

    import onetill.sandbox

    folder = Path(onetill.sandbox.__file__).parent
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
                if node.level > 1:
                    offenders.append(f"{path.name}: relative import above the package")
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "onetill" and not name.startswith("onetill.sandbox"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
