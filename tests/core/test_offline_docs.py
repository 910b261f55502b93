"""/docs and /redoc load only assets installed with the package: no CDN, no network."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

URL_ATTRIBUTE = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connection beyond loopback (the test database) fails the test."""
    connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else "unix"
        if host not in ("127.0.0.1", "::1", "localhost", "unix"):
            raise AssertionError(f"network access attempted: {address!r}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    yield


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    resp = await client.get(page)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text
    assert "cdn." not in html and "unpkg" not in html and "googleapis" not in html
    urls = URL_ATTRIBUTE.findall(html)
    assert urls, html
    for url in urls:
        assert url.startswith("/"), f"{page} references {url}"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    # The page's own CSP allows only its own origin (plus inline bootstrapping).
    csp = resp.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
