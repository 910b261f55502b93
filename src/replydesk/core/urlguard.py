"""The outbound URL guard: every URL a user can set is called through it.

Two checks, both needed:

- ``check_url`` (when a URL is stored, and on every request, redirects included): https only,
  a host, no user-info; an IP literal or ``localhost`` must already be a public address.
- ``GuardedBackend`` (when connecting): the host is resolved, **every** address must be public,
  and the socket is opened to the checked address, so a DNS answer that changes between the
  check and the connect (DNS rebinding) cannot reach an internal address. TLS still uses the
  URL's host name for SNI and certificate checks, and the ``Host`` header is unchanged,
  because only the TCP connect is redirected to the checked IP.

``guarded_client(settings)`` builds an ``httpx.AsyncClient`` that does both; it does not
follow redirects, and if a caller turns them on, each hop passes the same checks.
``REPLYDESK_OUTBOUND_ALLOW_PRIVATE=true`` lifts the address rule and allows http (simulator,
tests, on-premise). This module imports no domain.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

from replydesk.core.errors import InvalidInput
from replydesk.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port → the addresses it resolves to (a hook so tests can play DNS).
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Cloud metadata endpoints, named so the error says what was refused (they are link-local or
# unique-local anyway).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
LOCAL_NAMES = ("localhost", "localhost.localdomain")


class OutboundURLRefused(InvalidInput):
    """A user-set URL points where ReplyDesk must not connect (see the module docstring)."""

    code = "outbound_url_refused"


@dataclass(frozen=True)
class OutboundPolicy:
    allow_private: bool = False
    # Extra networks treated as public (tests, a known on-premise gateway).
    trusted_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(allow_private=settings.outbound_allow_private)

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https", "http") if self.allow_private else ("https",)


def address_problem(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why ``address`` is refused, or None when it may be connected to."""
    if policy.allow_private or any(address in net for net in policy.trusted_networks):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_problem(address.ipv4_mapped, policy)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, what in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, test):
            return what
    if not address.is_global:
        return "not a public address"
    return None


def _refuse_address(host: str, address: IPAddress, policy: OutboundPolicy) -> None:
    problem = address_problem(address, policy)
    if problem is not None:
        where = host if host == str(address) else f"{host} (resolves to {address})"
        raise OutboundURLRefused(
            f"outbound connections to {where} are refused: {problem}; only public addresses "
            "are allowed (REPLYDESK_OUTBOUND_ALLOW_PRIVATE=true lifts this)"
        )


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, policy: OutboundPolicy, *, name: str = "url") -> SplitResult:
    """Refuse a URL that can never be called: scheme, host, user-info, local literals.
    Host names are resolved only when connecting (``GuardedBackend``)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundURLRefused(f"{name} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes:
        allowed = " or ".join(policy.schemes)
        raise OutboundURLRefused(f"{name} must use {allowed}, not {scheme or 'no scheme'}://")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundURLRefused(f"{name} has no host")
    if parts.username is not None or parts.password is not None:
        raise OutboundURLRefused(f"{name} must not carry a user name or password")
    if port == 0:
        raise OutboundURLRefused(f"{name} has port 0")
    literal = _ip_literal(host)
    if literal is not None:
        _refuse_address(host, literal, policy)
    elif not policy.allow_private and (
        host in LOCAL_NAMES or host.endswith(".localhost") or "." not in host
    ):
        raise OutboundURLRefused(
            f"outbound connections to {host} are refused: a local host name; only public "
            "addresses are allowed (REPLYDESK_OUTBOUND_ALLOW_PRIVATE=true lifts this)"
        )
    return parts


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, connects to a checked one (never resolves again)."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy, self.resolver = policy, resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = _ip_literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = [ipaddress.ip_address(a) for a in await self.resolver(host, port)]
            except (OSError, ValueError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in found:
            _refuse_address(host, address, self.policy)
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.checked_addresses(host, port):
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundURLRefused("outbound connections to unix sockets are refused")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context every outbound client shares. Building one loads the CA
    bundle (28 ms of CPU here, twice per client before: httpx's own pool and ours), which
    made each AI call or provider client cost more CPU than the work it did; a context may
    serve any number of connections."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with the guarded network backend; each request's URL (and so
    each redirect hop) is checked first. No proxies from the environment."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or default_ssl_context()
        super().__init__(verify=context, trust_env=False)
        self.policy = policy
        # The one private attribute used: httpx builds its pool without a backend option.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy, resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url(str(request.url), self.policy, name="request URL")
        return await super().handle_async_request(request)


def guarded_client(
    settings: Settings | None = None,
    *,
    policy: OutboundPolicy | None = None,
    resolver: Resolver = system_resolver,
    ssl_context: ssl.SSLContext | None = None,
    timeout: httpx.Timeout | float = 10.0,
    **options: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for user-set URLs: guarded transport, no redirects followed
    (pass ``follow_redirects=True`` to follow them, each hop checked), explicit timeouts."""
    if policy is None:
        policy = OutboundPolicy.from_settings(settings) if settings else OutboundPolicy()
    options.setdefault("follow_redirects", False)
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, resolver, ssl_context),
        timeout=timeout,
        trust_env=False,
        **options,
    )
