"""Tenant isolation checks shared by the isolation suites."""

from __future__ import annotations

from typing import Any

from tests.support.http import Send

WORKSPACE_NOT_FOUND = {"error": {"code": "not_found", "message": "workspace not found"}}


async def assert_404_like_nowhere(
    send: Send,
    method: str,
    url: str,
    nowhere_url: str,
    body: dict[str, Any] | None,
    *,
    workspace: bool,
) -> None:
    """``url`` (another tenant's workspace or object) is 404 — ``workspace not found`` when
    ``workspace`` — and answers exactly like ``nowhere_url`` (ids that do not exist)."""
    resp = await send(method, url, body)
    assert resp.status_code == 404, resp.text
    if workspace:
        assert resp.json() == WORKSPACE_NOT_FOUND
    else:
        assert resp.json()["error"]["code"] == "not_found"
    nowhere = await send(method, nowhere_url, body)
    assert (nowhere.status_code, nowhere.json()) == (resp.status_code, resp.json())
