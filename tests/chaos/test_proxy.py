"""The chaos proxy does what each fault kind says (or the chaos suite proves nothing)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from chaos.procs import free_port
from chaos.proxy import FaultPlan, FaultProxy, request_class


class OnePlan(FaultPlan):
    """Every request of a class meets the same fault (``kind``)."""

    def __init__(self, kind: str | None) -> None:
        super().__init__(seed=0)
        self.kind = kind

    def decide(self, method: str, target: str) -> str | None:
        return self.kind


@pytest.fixture
def store(start_sandbox: Any) -> Any:
    return start_sandbox()


@pytest.fixture
def proxied(store: Any) -> Iterator[tuple[FaultProxy, str]]:
    host, port = httpx2.URL(store.url).host, httpx2.URL(store.url).port
    proxy = FaultProxy(("127.0.0.1", free_port()), (host, port), OnePlan(None), slow_s=1.5)
    proxy.start()
    yield proxy, f"http://127.0.0.1:{proxy.listen[1]}"
    proxy.stop()


def _control_orders(store: Any) -> int:
    return len(store.control.orders())


def _post(url: str, timeout: float = 5.0) -> httpx2.Response:
    # The control API needs no signature: a write the store commits, through the proxy.
    line = {"product_id": 50, "quantity": 1}
    return httpx2.post(f"{url}/__sandbox__/orders", json={"line_items": [line]},
                       timeout=timeout, trust_env=False)  # fmt: skip


def test_requests_are_classed_as_orders_writes_and_reads() -> None:
    assert request_class("POST", "/wp-json/wc/v3/orders?x=1") == "order"
    assert request_class("PUT", "/wp-json/wc/v3/products/5") == "write"
    assert request_class("GET", "/wp-json/wc/v3/orders") == "read"


def test_the_plan_is_a_function_of_the_seed_and_the_count() -> None:
    """The Nth request of a class meets the same fault in every run with the seed."""
    a, b = FaultPlan(7), FaultPlan(7)
    first = [a.decide("GET", "/x") for _ in range(200)]
    assert first == [b.decide("GET", "/x") for _ in range(200)]
    assert 40 < sum(k is not None for k in first) < 100  # about two reads in five


def test_a_clean_request_passes_through(proxied: Any, store: Any) -> None:
    proxy, url = proxied
    assert _post(url).status_code == 201
    assert _control_orders(store) == 1 and proxy.requests["order"] == 1


@pytest.mark.parametrize(
    ("kind", "committed"),
    [("reset_before_send", 0), ("reset_after_send", 1), ("cut_response", 1),
     ("status_429", 0), ("status_503", 0), ("html_200", 0), ("slow_response", 1)],
)  # fmt: skip
def test_each_fault_breaks_the_exchange_where_it_says(
    proxied: Any, store: Any, kind: str, committed: int
) -> None:
    """What the client sees, and whether the store committed the write behind it."""
    proxy, url = proxied
    proxy.plan.kind = kind
    try:
        response: httpx2.Response | None = _post(url, timeout=1.0)
    except httpx2.HTTPError:
        response = None
    if kind in ("status_429", "status_503"):
        assert response is not None and response.status_code in (429, 503)
        assert response.headers["retry-after"].isdigit()
    elif kind == "html_200":
        assert response is not None and response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
    else:
        assert response is None  # reset, cut off or too slow: no answer
    assert _control_orders(store) == committed
    assert proxy.counts[kind] == 1


def test_flap_resets_open_connections_and_refuses_new_ones(proxied: Any) -> None:
    proxy, url = proxied
    with httpx2.Client(trust_env=False, timeout=3) as client:
        assert client.get(f"{url}/__sandbox__/").status_code == 200
        proxy.down()
        with pytest.raises(httpx2.HTTPError):
            client.get(f"{url}/__sandbox__/")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.listen[1]), timeout=2)
    proxy.up()
    assert httpx2.get(f"{url}/__sandbox__/", trust_env=False).status_code == 200


def test_freeze_silences_open_connections_while_new_ones_work(proxied: Any) -> None:
    proxy, url = proxied
    with httpx2.Client(trust_env=False, timeout=1.0) as frozen:
        assert frozen.get(f"{url}/__sandbox__/").status_code == 200
        assert proxy.freeze() == 1
        with pytest.raises(httpx2.ReadTimeout):  # no RST, no FIN: silence
            frozen.get(f"{url}/__sandbox__/")
    assert httpx2.get(f"{url}/__sandbox__/", trust_env=False, timeout=2).status_code == 200
