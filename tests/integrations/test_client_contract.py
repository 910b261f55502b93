"""Every provider client against the simulator over real HTTP: each status class, the retry
matrix (reads retried, sends not), timeouts, our own cancellation, and no secret anywhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from replydesk.core.errors import ClientAbort, ProviderFailure
from replydesk.integrations.provider_client import ProviderClient
from replydesk.sim.server import SLACK_WEBHOOK_PATH, SimServer
from tests.integrations.cases import CASES, READ_CASES, Case, ids
from tests.support.logs import LogCapture
from tests.support.sim import SIM_KEYS, add_fault, sim_requests


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def client_for(case: Case, sim: SimServer, http: httpx.AsyncClient) -> ProviderClient:
    return case.build(sim, http)


async def failure_of(op: object) -> ProviderFailure:
    with pytest.raises(ProviderFailure) as caught:
        await op  # type: ignore[misc]
    return caught.value


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_success_sends_the_credential_and_answers(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    client = client_for(case, sim, http)
    if case.read is not None:
        assert await case.read(client) is not None
    await case.send(client)
    logged = await sim_requests(sim, case.provider)
    assert len(logged) == (2 if case.read else 1)
    assert all(e["status"] in (200, 201) and e["fault"] is None for e in logged)
    if case.provider != "slack":
        key = SIM_KEYS[case.provider]
        header = "x-api-key" if case.provider == "unipile" else "authorization"
        assert logged[-1]["headers"][header] == f"…{key[-4:]}"
    if case.provider == "ghl":
        assert logged[-1]["headers"]["version"] == "2021-07-28"


@pytest.mark.parametrize("status", [401, 403, 404])
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_refusals_are_typed_named_and_not_retried(
    case: Case, status: int, sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider=case.provider, endpoint=case.send_endpoint, status=status)
    failure = await failure_of(case.send(client_for(case, sim, http)))
    expected = {401: case.on_401, 403: case.on_403, 404: case.on_404}[status]
    assert failure.category == expected
    assert failure.retryable is False
    assert (failure.status, failure.provider) == (status, case.provider)
    assert f"127.0.0.1:{sim.port}" in failure.message and f"answered {status}" in failure.message
    assert failure.endpoint is not None and failure.endpoint in failure.message
    assert len(await sim_requests(sim, case.provider)) == 1


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_read_5xx_is_retried_until_it_succeeds(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    assert case.read is not None
    await add_fault(sim, provider=case.provider, endpoint=case.read_endpoint, status=503, times=2)
    assert await case.read(client_for(case, sim, http)) is not None
    assert [e["status"] for e in await sim_requests(sim, case.provider)] == [503, 503, 200]


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_read_5xx_ends_after_max_attempts(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    assert case.read is not None
    await add_fault(sim, provider=case.provider, endpoint=case.read_endpoint, status=500)
    failure = await failure_of(case.read(client_for(case, sim, http)))
    assert (failure.category, failure.status, failure.retryable) == ("provider_error", 500, True)
    assert len(await sim_requests(sim, case.provider)) == 3  # FAST.max_attempts


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_send_5xx_is_never_retried(
    case: Case, status: int, sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider=case.provider, endpoint=case.send_endpoint, status=status)
    failure = await failure_of(case.send(client_for(case, sim, http)))
    assert (failure.category, failure.status) == ("provider_error", status)
    assert len(await sim_requests(sim, case.provider)) == 1


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_read_429_honours_retry_after(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    assert case.read is not None
    await add_fault(
        sim, provider=case.provider, endpoint=case.read_endpoint, retry_after=1, times=1
    )
    client = client_for(case, sim, http)
    started = time.monotonic()
    if case.provider == "unipile":
        # LinkedIn's 429 means "stop for long": never waited out inside a call.
        failure = await failure_of(case.read(client))
        assert (failure.category, failure.retry_after_s) == ("provider_rate_limited", 1)
        assert len(await sim_requests(sim, case.provider)) == 1
        return
    assert await case.read(client) is not None
    assert time.monotonic() - started >= 0.95
    assert [e["status"] for e in await sim_requests(sim, case.provider)] == [429, 200]


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_send_429_is_not_retried_and_carries_retry_after(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider=case.provider, endpoint=case.send_endpoint, retry_after=1)
    failure = await failure_of(case.send(client_for(case, sim, http)))
    assert (failure.category, failure.retry_after_s, failure.retryable) == (
        "provider_rate_limited",
        1,
        True,
    )
    assert len(await sim_requests(sim, case.provider)) == 1


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_429_longer_than_the_wait_cap_ends_the_read(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    assert case.read is not None
    await add_fault(sim, provider=case.provider, endpoint=case.read_endpoint, retry_after=120)
    failure = await failure_of(case.read(client_for(case, sim, http)))
    assert (failure.category, failure.retry_after_s) == ("provider_rate_limited", 120)
    assert len(await sim_requests(sim, case.provider)) == 1


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_read_timeout_is_retried(case: Case, sim: SimServer, http: httpx.AsyncClient) -> None:
    assert case.read is not None
    await add_fault(sim, provider=case.provider, endpoint=case.read_endpoint, hang=True, times=1)
    assert await case.read(client_for(case, sim, http)) is not None
    assert len(await sim_requests(sim, case.provider)) == 2


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_read_that_always_hangs_ends_as_provider_timeout(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    assert case.read is not None
    await add_fault(sim, provider=case.provider, endpoint=case.read_endpoint, hang=True)
    failure = await failure_of(case.read(client_for(case, sim, http)))
    assert (failure.category, failure.unknown_delivery) == ("provider_timeout", False)
    assert len(await sim_requests(sim, case.provider)) == 3


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_send_timeout_is_not_retried_and_delivery_is_unknown(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider=case.provider, endpoint=case.send_endpoint, hang=True)
    failure = await failure_of(case.send(client_for(case, sim, http)))
    assert (failure.category, failure.unknown_delivery) == ("provider_timeout", True)
    assert "check before sending again" in failure.message
    assert len(await sim_requests(sim, case.provider)) == 1


CALLS = [(c, "read") for c in READ_CASES] + [(c, "send") for c in CASES]


@pytest.mark.parametrize(("case", "which"), CALLS, ids=[f"{c.provider}-{w}" for c, w in CALLS])
async def test_our_cancellation_is_client_abort_never_retried(
    case: Case, which: str, sim: SimServer, http: httpx.AsyncClient
) -> None:
    op = case.read if which == "read" else case.send
    assert op is not None
    endpoint = case.read_endpoint if which == "read" else case.send_endpoint
    await add_fault(sim, provider=case.provider, endpoint=endpoint, hang=True)
    client = client_for(case, sim, http)

    async def call() -> BaseException | None:
        try:
            await op(client)
        except ClientAbort as exc:
            return exc
        return None

    task = asyncio.create_task(call())
    await asyncio.sleep(0.1)  # well inside the 0.4 s read timeout
    task.cancel()
    abort = await task
    assert isinstance(abort, ClientAbort) and isinstance(abort, asyncio.CancelledError)
    assert abort.category == "client_abort"
    assert abort.unknown_delivery is (which == "send")
    assert len(await sim_requests(sim, case.provider)) == 1


@pytest.mark.parametrize("case", READ_CASES, ids=ids)
async def test_a_time_budget_around_the_call_is_client_abort(
    case: Case, sim: SimServer, http: httpx.AsyncClient
) -> None:
    """The worker's item budget (``asyncio.timeout``) cancelling a call is ours, not a
    provider timeout (Python 3.11 lets the ClientAbort through; 3.12+ wraps it in TimeoutError)."""
    assert case.read is not None
    await add_fault(sim, provider=case.provider, endpoint=case.read_endpoint, hang=True)
    with pytest.raises((ClientAbort, TimeoutError)) as caught:
        async with asyncio.timeout(0.1):
            await case.read(client_for(case, sim, http))
    exc = caught.value
    abort = exc if isinstance(exc, ClientAbort) else exc.__cause__
    assert isinstance(abort, ClientAbort) and abort.category == "client_abort"


class CountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        return await super().handle_async_request(request)


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_a_send_that_cannot_connect_is_retried_because_nothing_left(
    case: Case, sim: SimServer
) -> None:
    transport = CountingTransport()
    async with httpx.AsyncClient(transport=transport) as injected:
        client = case.build(sim, injected)
        client.base_url = client.base_url.replace(f":{sim.port}", ":9")  # discard port: refused
        failure = await failure_of(case.send(client))
    assert failure.category in ("provider_error", "provider_timeout")
    assert failure.unknown_delivery is False and "cannot connect" in failure.message
    assert transport.attempts == 3


@pytest.mark.parametrize("case", CASES, ids=ids)
async def test_no_secret_in_error_texts_or_logs(
    case: Case, sim: SimServer, http: httpx.AsyncClient, log_capture: LogCapture
) -> None:
    secret = SIM_KEYS.get(case.provider, SLACK_WEBHOOK_PATH.rsplit("/", 1)[-1])
    client = client_for(case, sim, http)
    texts: list[str] = []
    faults = [
        {"status": 401},
        {"status": 500},
        {"retry_after": 1},
        {"hang": True},
        {"status": 422, "message": f"echo {secret} back"},
    ]
    for fault in faults:
        await add_fault(sim, provider=case.provider, endpoint=case.send_endpoint, times=1, **fault)
        failure = await failure_of(case.send(client))
        texts += [str(failure), repr(failure), failure.message, str(vars(failure))]
    assert len(await sim_requests(sim, case.provider)) == len(faults)
    assert "provider_call_failed" in log_capture.text  # the failures were logged
    for text in [*texts, log_capture.text]:
        assert secret not in text
        assert secret[-12:] not in text
