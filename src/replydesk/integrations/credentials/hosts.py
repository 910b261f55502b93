"""The EmailBison host allowlist (instance level): the only writer of ``emailbison_hosts``.

Entries are ``host`` or ``host:port``, lower-case, without a trailing dot. A base URL with no
explicit port matches a ``host`` entry; one with a port matches ``host:port``.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput, NotFound
from replydesk.integrations.credentials import repository

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})+(:(?P<port>\d{{1,5}}))?$")


def normalise_host(value: str) -> str:
    """``HOST[:PORT]`` as stored, or InvalidInput naming the problem."""
    host = value.strip().lower()
    name, sep, port = host.partition(":")
    host = name.rstrip(".") + (sep + port if sep else "")
    match = _HOST.match(host)
    if match is None:
        raise InvalidInput(
            f"{value!r} is not a host name with an optional port (HOST[:PORT], e.g. "
            "send.meetinboxxia.com or mail.example.com:8443)"
        )
    if match.group("port") is not None and not 1 <= int(match.group("port")) <= 65535:
        raise InvalidInput(f"{value!r}: the port must be between 1 and 65535")
    return host


def url_host(parts: SplitResult) -> str:
    """The allowlist entry a URL needs."""
    host = (parts.hostname or "").rstrip(".").lower()
    return f"{host}:{parts.port}" if parts.port is not None else host


async def list_hosts(session: AsyncSession) -> list[str]:
    return await repository.list_hosts(session)


async def add_host(session: AsyncSession, value: str) -> tuple[str, bool]:
    """(the stored entry, whether it was new)."""
    host = normalise_host(value)
    return host, await repository.add_host(session, host)


async def remove_host(session: AsyncSession, value: str) -> str:
    host = normalise_host(value)
    if not await repository.remove_host(session, host):
        raise NotFound(f"{host} is not on the EmailBison host allowlist")
    return host


async def require_allowed(session: AsyncSession, parts: SplitResult) -> None:
    allowed = await repository.list_hosts(session)
    host = url_host(parts)
    if host not in allowed:
        names = (
            ", ".join(allowed)
            if allowed
            else "none (add one with `replydesk integrations hosts add HOST`)"
        )
        raise InvalidInput(
            f"base_url host {host} is not on the EmailBison host allowlist; allowed hosts: {names}"
        )
