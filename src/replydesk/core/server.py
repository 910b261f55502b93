"""The HTTP server of ``replydesk serve``: uvicorn, configured from settings.

What uvicorn does not bound on its own, and this module does:

- **Forwarded headers.** uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by default, so any
  local client (or a proxy that passes the header through) could choose its own address and
  escape the per-IP login limit. Here they are read only from ``trusted_proxies``.
- **Time to send a request head.** uvicorn has a keep-alive timeout for idle connections
  between requests, but none while a request line and headers trickle in (a slowloris holds
  a connection open for ever). ``HeadGuardedProtocol`` closes a connection that has not
  delivered a complete head within ``http_header_timeout_s`` and refuses a head larger than
  ``http_max_header_bytes`` (httptools, unlike h11, has no limit of its own).

- **Malformed requests.** What uvicorn's parser refuses (an over-long request line, a bad
  Content-Length, broken headers) it answers itself, before the app sees anything, with a
  plain-text "Invalid HTTP request received.". The protocols here send the same 400 as JSON
  ``{"error": {"code", "message"}}`` with the security headers every other answer has
  (``core/edge.py``); an over-large head gets a 431 the same way.

- **Rolling restarts.** On SIGTERM uvicorn stops accepting connections at once, so a load
  balancer that has not yet noticed sends requests into refused connections. ``DrainingServer``
  first marks the app draining (``/readyz`` answers 503, the balancer's health check takes the
  process out), keeps serving in-flight and new requests for ``shutdown_drain_s``, and only then
  starts uvicorn's graceful shutdown (stop accepting, finish in-flight requests, lifespan end).
  A second SIGTERM, or SIGINT, shuts down at once.

Request bodies (size and read time) are bounded by the app's middleware, not here.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from replydesk.core.edge import CSP_API, SECURITY_HEADERS
from replydesk.core.errors import MalformedInput
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings

log = get_logger(__name__)


def _json_error(status_line: bytes, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 error answer in the API's shape, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()
    return b"".join(
        [
            b"HTTP/1.1 " + status_line + b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n",
            *(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS),
            b"content-security-policy: " + CSP_API + b"\r\n",
            b"\r\n",
            body,
        ]
    )


MALFORMED = _json_error(
    b"400 Bad Request",
    MalformedInput.code,
    "malformed HTTP request (request line, headers or Content-Length)",
)
HEAD_TOO_LARGE = _json_error(
    b"431 Request Header Fields Too Large",
    "headers_too_large",
    "request line and headers are too large",
)


def _send_json_400(transport: asyncio.Transport) -> None:
    transport.write(MALFORMED)
    transport.close()


class JsonErrorsH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        _send_json_400(self.transport)


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    """httptools (what uvicorn[standard] installs) with malformed requests answered as JSON."""

    def send_400_response(self, msg: str) -> None:
        _send_json_400(self.transport)


def head_guarded_protocol(timeout_s: float, max_head_bytes: int) -> type[asyncio.Protocol]:
    """``JsonErrorsHttpToolsProtocol`` with a deadline and a size cap on each request head."""

    class HeadGuardedProtocol(JsonErrorsHttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            awaiting = self._awaiting_head()
            super().data_received(data)
            if not awaiting or not self._awaiting_head():
                # The head completed in this chunk (or a request is in progress: its body is
                # the app's business).
                self._head_bytes = 0
                return
            self._head_bytes += len(data)
            if self._head_bytes > max_head_bytes and not self.transport.is_closing():
                log.info("http_head_too_large", bytes=self._head_bytes)
                self.transport.write(HEAD_TOO_LARGE)
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()  # the next request's head starts its own clock

        def _awaiting_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(timeout_s, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self._awaiting_head() and not self.transport.is_closing():
                # A slow or silent client is an expected state, not an error.
                log.debug("http_head_timeout", timeout_s=timeout_s)
                self.transport.close()

    return HeadGuardedProtocol


def server_config(app: Any, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration ``replydesk serve`` runs with (tests start the same one)."""
    trusted = settings.trusted_proxy_list
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # Without trusted proxies uvicorn's ProxyHeadersMiddleware is not installed at all.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
        timeout_keep_alive=settings.http_keep_alive_timeout_s,
        http=head_guarded_protocol(settings.http_header_timeout_s, settings.http_max_header_bytes),
    )


class DrainingServer(uvicorn.Server):
    """uvicorn with a drain window before its graceful shutdown (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, drain_s: float, on_drain: Callable[[], None]):
        super().__init__(config)
        self.drain_s = drain_s
        self.on_drain = on_drain
        self.draining_since: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.draining_since is None and self.drain_s > 0:
            self._captured_signals.append(sig)  # re-raised after the shutdown, as uvicorn does
            self.draining_since = time.monotonic()
            self.on_drain()
            log.info("shutdown_draining", drain_s=self.drain_s)
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        since = self.draining_since
        if since is not None and not self.should_exit and time.monotonic() - since >= self.drain_s:
            log.info("shutdown_drained", drain_s=self.drain_s)
            self.should_exit = True
        return await super().on_tick(counter)


def serving(app: Any, settings: Settings, *, host: str, port: int) -> DrainingServer:
    """The server ``replydesk serve`` runs: ``server_config`` + the SIGTERM drain window;
    draining sets ``app.state.draining`` (``/readyz`` reads it)."""
    app.state.draining = False
    return DrainingServer(
        server_config(app, settings, host=host, port=port),
        settings.shutdown_drain_s,
        on_drain=lambda: setattr(app.state, "draining", True),
    )
