"""Who may use the till screen, and protection against requests forged by other sites.

Two modes:

- **loopback** (the default, ``--host 127.0.0.1``): only this machine can
  connect. Requests must name a loopback host in ``Host`` (a web page that
  rebinds its own domain to 127.0.0.1 is refused).
- **LAN** (any other ``--host``): every request needs a session, obtained by
  typing the access token (``config.ui_token``, printed at start) into the
  login page; the session is an HttpOnly, SameSite=Strict cookie signed with
  the token (a new token signs every device out). Scripts may send the token
  as ``Authorization: Bearer``.

In both modes every state-changing request (anything but GET/HEAD/OPTIONS)
must carry the page's CSRF token in ``X-CSRF-Token`` and, when the browser
sends an ``Origin``, come from this very origin. The webhook route is left
to its own signature check. Every answer carries headers that keep the
screen out of frames and scripts from elsewhere out of the page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

__all__ = ["COOKIE", "Guard", "GuardMiddleware", "normalize_token"]

COOKIE = "onetill_session"
SESSION_DAYS = 30
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Paths a LAN device reaches before it has a session.
_PUBLIC = ("/login", "/static/")
_EXEMPT = ("/webhooks/",)  # their own HMAC signature check
_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # "same-origin", not "no-referrer": with the latter a form posts `Origin: null`.
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def normalize_token(text: str) -> str:
    """The token as printed, from what a person typed (case, spaces and dashes ignored)."""
    raw = "".join(c for c in text.upper() if c.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """Sessions and CSRF tokens for one running till screen.

    ``token`` None: loopback mode. The signing key is derived from the token,
    so sessions survive a restart and die with the token.
    """

    def __init__(self, token: str | None) -> None:
        self.token = token
        secret = token.encode() if token else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"onetill-ui:" + secret).digest()
        self._failures: dict[str, list[float]] = {}

    @property
    def lan(self) -> bool:
        return self.token is not None

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def new_session(self) -> str:
        """A signed session id for the cookie."""
        sid = secrets.token_urlsafe(18)
        return f"{sid}.{self._sign('session:' + sid)}"

    def session(self, cookie_value: str | None) -> str | None:
        """The session id of a cookie, if it is one of ours."""
        if not cookie_value or "." not in cookie_value:
            return None
        sid, _, sig = cookie_value.rpartition(".")
        return sid if hmac.compare_digest(sig, self._sign("session:" + sid)) else None

    def csrf(self, sid: str | None) -> str:
        """The CSRF token of a session (loopback mode: of this process)."""
        return self._sign("csrf:" + (sid or "local"))

    def check_token(self, typed: str, client: str) -> bool:
        """Whether ``typed`` is the access token; failures are rate-limited per client."""
        now = time.monotonic()
        recent = [t for t in self._failures.get(client, []) if now - t < 60]
        if len(recent) >= 10:
            self._failures[client] = recent
            return False
        ok = self.token is not None and hmac.compare_digest(
            normalize_token(typed).encode(), self.token.encode()
        )
        if not ok:
            recent.append(now)
        self._failures[client] = recent
        return ok

    def locked_out(self, client: str) -> bool:
        now = time.monotonic()
        return len([t for t in self._failures.get(client, []) if now - t < 60]) >= 10

    def cookie_header(self, value: str, *, secure: bool) -> bytes:
        parts = [
            f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict",
            f"Max-Age={SESSION_DAYS * 86400}",
        ]  # fmt: skip
        if secure:
            parts.append("Secure")
        return "; ".join(parts).encode()


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def session_of(scope: Scope, guard: Guard) -> str | None:
    cookies = SimpleCookie()
    try:
        cookies.load(_headers(scope).get("cookie", ""))
    except Exception:  # a malformed Cookie header: no session
        return None
    morsel = cookies.get(COOKIE)
    return guard.session(morsel.value if morsel else None)


class GuardMiddleware:
    """Applies :class:`Guard` to every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        problem = self._refusal(scope, path)
        if problem is not None:
            await self._refuse(scope, send, *problem)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, path: str) -> tuple[int, str, str] | None:
        headers = _headers(scope)
        method = scope["method"]
        guard = self.guard
        if not guard.lan and _host_name(headers.get("host", "")) not in _LOOPBACK_NAMES:
            return 403, "host", (
                "this till screen answers on 127.0.0.1 only; to use it from another device, "
                "start it with --host 0.0.0.0 and log in with the access token"
            )
        sid = session_of(scope, guard)
        if guard.lan and sid is None and not path.startswith(_PUBLIC):
            bearer = headers.get("authorization", "")
            ok = bearer.startswith("Bearer ") and guard.token is not None and hmac.compare_digest(
                normalize_token(bearer[7:]).encode(), guard.token.encode()
            )
            if not ok:
                return 401, "login", "log in with the till's access token first"
            if method not in _SAFE:
                return None  # a script with the token: no ambient credentials to forge
        if method in _SAFE:
            return None
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            parts = urlsplit(origin)
            if parts.netloc.lower() != headers.get("host", "").lower():
                return 403, "csrf", "refused: this request came from another site"
        elif origin == "null" or headers.get("sec-fetch-site", "same-origin") not in (
            "same-origin", "none",
        ):
            return 403, "csrf", "refused: this request came from another site"
        if path == "/login":
            return None  # has no session yet; the origin check above protects it
        token = headers.get("x-csrf-token", "")
        if not hmac.compare_digest(token.encode(), guard.csrf(sid).encode()):
            return 403, "csrf", "the page is out of date (security token); reload it"
        return None

    async def _refuse(self, scope: Scope, send: Send, status: int, kind: str, text: str) -> None:
        headers = _headers(scope)
        wants_page = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
        if status == 401 and wants_page:
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/login"), *_HEADERS]})  # fmt: skip
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps({"error": kind, "message": text}).encode()
        await send({
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()), *_HEADERS],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})
