"""One health check per integration: a cheap authenticated read, through the URL guard.

The interface (``HealthCheck``) is what the provider clients (``integrations/<provider>/
client.py``) can later implement instead of these plain-httpx reads: ``async (credentials,
client) -> HealthResult``, never raising for a provider answer. Messages name host, endpoint,
status and a remedy; never the key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from replydesk.core.urlguard import OutboundURLRefused
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration

GHL_API_VERSION = "2021-07-28"


@dataclass(frozen=True)
class ProviderCredentials:
    """Decrypted credentials, only ever in memory: ``settings`` are the non-secret fields,
    ``secret`` the rest (``api_key`` or Slack's ``webhook_url``)."""

    provider: Integration
    settings: Mapping[str, str]
    secret: Mapping[str, str]

    def __repr__(self) -> str:  # never print the secret, whatever logs a repr
        return f"ProviderCredentials(provider={self.provider.value!r}, secret=<hidden>)"


@dataclass(frozen=True)
class HealthResult:
    status: HealthStatus
    category: str | None = None  # provider_auth, provider_disconnected, … (None when ok)
    message: str | None = None

    @classmethod
    def ok(cls) -> HealthResult:
        return cls(HealthStatus.OK)


HealthCheck = Callable[[ProviderCredentials, httpx.AsyncClient], Awaitable[HealthResult]]


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc} GET {parts.path}"


def _problem_type(response: httpx.Response) -> str:
    """Unipile's problem ``type`` (or ``error``), without the ``errors/`` prefix."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    value = body.get("type") or body.get("error") or ""
    return str(value).removeprefix("errors/")


def classify_common(response: httpx.Response, where: str) -> HealthResult | None:
    """The answers every provider shares: 429, 5xx, other unexpected statuses."""
    status = response.status_code
    if status == 429:
        retry = response.headers.get("retry-after")
        after = f"; retry after {retry} s" if retry else ""
        return HealthResult(
            HealthStatus.RATE_LIMITED,
            "provider_rate_limited",
            f"{where} answered 429 (rate limited){after}",
        )
    if status >= 500:
        return HealthResult(
            HealthStatus.DEGRADED,
            "provider_error",
            f"{where} answered {status}: the provider has a problem; checks continue",
        )
    if status >= 400:
        return HealthResult(
            HealthStatus.DEGRADED, "provider_error", f"{where} answered {status} unexpectedly"
        )
    return None


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> httpx.Response | HealthResult:
    where = _where(url)
    try:
        return await client.get(url, headers=headers)
    except OutboundURLRefused as exc:
        return HealthResult(HealthStatus.DEGRADED, "destination_refused", exc.message)
    except httpx.TimeoutException:
        return HealthResult(
            HealthStatus.DEGRADED, "provider_timeout", f"{where} did not answer in time"
        )
    except httpx.HTTPError as exc:
        return HealthResult(
            HealthStatus.DEGRADED,
            "provider_error",
            f"{where} could not be reached ({type(exc).__name__})",
        )


async def check_emailbison(creds: ProviderCredentials, client: httpx.AsyncClient) -> HealthResult:
    url = creds.settings["base_url"].rstrip("/") + "/api/users"
    answer = await _get(client, url, {"Authorization": f"Bearer {creds.secret['api_key']}"})
    if isinstance(answer, HealthResult):
        return answer
    if answer.status_code == 401:
        return HealthResult(
            HealthStatus.AUTH_FAILED,
            "provider_auth",
            f"{_where(url)} answered 401: the key does not exist for this host — check the "
            "workspace's EmailBison host and use an api-user key",
        )
    return classify_common(answer, _where(url)) or HealthResult.ok()


async def check_ghl(creds: ProviderCredentials, client: httpx.AsyncClient) -> HealthResult:
    location = quote(creds.settings["location_id"], safe="")
    url = creds.settings["base_url"].rstrip("/") + f"/locations/{location}"
    headers = {
        "Authorization": f"Bearer {creds.secret['api_key']}",
        "Version": GHL_API_VERSION,
        "Accept": "application/json",
    }
    answer = await _get(client, url, headers)
    if isinstance(answer, HealthResult):
        return answer
    if answer.status_code in (401, 403):
        trace = _trace_id(answer)
        return HealthResult(
            HealthStatus.AUTH_FAILED,
            "provider_auth",
            f"{_where(url)} answered {answer.status_code}: the token is invalid or has no access "
            f"to this location — create a Private Integration Token for it{trace}",
        )
    return classify_common(answer, _where(url)) or HealthResult.ok()


def _trace_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    trace = body.get("traceId") if isinstance(body, dict) else None
    return f" (traceId {trace})" if trace else ""


async def check_unipile(creds: ProviderCredentials, client: httpx.AsyncClient) -> HealthResult:
    account = quote(creds.settings["account_id"], safe="")
    url = creds.settings["base_url"].rstrip("/") + f"/api/v1/accounts/{account}"
    answer = await _get(client, url, {"X-API-KEY": creds.secret["api_key"]})
    if isinstance(answer, HealthResult):
        return answer
    problem = _problem_type(answer)
    if answer.status_code == 401 or (answer.status_code == 403 and problem == "account_restricted"):
        return HealthResult(
            HealthStatus.DISCONNECTED,
            "provider_disconnected",
            f"{_where(url)} answered {answer.status_code} {problem or 'unauthorized'}: reconnect "
            "the LinkedIn account in Unipile (or check the API key); LinkedIn sends are paused",
        )
    if answer.status_code == 200 and _source_needs_credentials(answer):
        return HealthResult(
            HealthStatus.DISCONNECTED,
            "provider_disconnected",
            f"{_where(url)} reports the account needs its credentials again: reconnect it in "
            "Unipile",
        )
    return classify_common(answer, _where(url)) or HealthResult.ok()


def _source_needs_credentials(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    sources = body.get("sources") if isinstance(body, dict) else None
    if not isinstance(sources, list):
        return False
    return any(isinstance(s, dict) and s.get("status") == "CREDENTIALS" for s in sources)


async def check_slack(creds: ProviderCredentials, client: httpx.AsyncClient) -> HealthResult:
    """No call: posting to an incoming webhook would post a message. The URL was checked
    (format and guard) when stored; delivery failures will show here once alerts exist."""
    return HealthResult.ok()


async def check_openai(creds: ProviderCredentials, client: httpx.AsyncClient) -> HealthResult:
    """``GET {base_url}/models``: authenticated, free, no generation."""
    url = creds.settings["base_url"].rstrip("/") + "/models"
    answer = await _get(client, url, {"Authorization": f"Bearer {creds.secret['api_key']}"})
    if isinstance(answer, HealthResult):
        return answer
    if answer.status_code in (401, 403):
        return HealthResult(
            HealthStatus.AUTH_FAILED,
            "provider_auth",
            f"{_where(url)} answered {answer.status_code}: the API key is invalid or revoked — "
            "drafts use templates until PUT integrations/openai stores a working key",
        )
    return classify_common(answer, _where(url)) or HealthResult.ok()


CHECKS: dict[Integration, HealthCheck] = {
    Integration.EMAILBISON: check_emailbison,
    Integration.GHL: check_ghl,
    Integration.UNIPILE: check_unipile,
    Integration.SLACK: check_slack,
    Integration.OPENAI: check_openai,
}
