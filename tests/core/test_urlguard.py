"""SSRF: user-set URLs reach public https addresses only, checked when connecting."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from replydesk.core.settings import Settings
from replydesk.core.urlguard import (
    OutboundPolicy,
    OutboundURLRefused,
    check_url,
    guarded_client,
)
from tests.support.fake_provider import running_fake
from tests.support.tls import https_server

STRICT = OutboundPolicy()
LOOPBACK = ipaddress.ip_network("127.0.0.1/32")


def fake_dns(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/api", "loopback"),
        ("https://[::1]:8443/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://192.168.0.10/", "private"),
        ("https://172.16.5.4/", "private"),
        ("https://169.254.10.1/", "link-local"),
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://[fd00:ec2::254]/", "cloud metadata"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://localhost:8000/", "local host name"),
        ("https://intranet/", "local host name"),
        ("http://send.meetinboxxia.com/", "must use https"),
        ("ftp://send.meetinboxxia.com/", "must use https"),
        ("https://user:pw@send.meetinboxxia.com/", "user name or password"),
        ("https:///nohost", "no host"),
    ],
)
def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(OutboundURLRefused) as refused:
        check_url(url, STRICT, name="base_url")
    assert reason in refused.value.message
    assert refused.value.code == "outbound_url_refused"


def test_check_url_accepts_public_https_and_the_setting_lifts_the_rule() -> None:
    assert check_url("https://send.meetinboxxia.com", STRICT).hostname == "send.meetinboxxia.com"
    assert check_url("https://93.184.216.34:8443/", STRICT).port == 8443
    lifted = OutboundPolicy.from_settings(Settings(outbound_allow_private=True))
    assert check_url("http://127.0.0.1:9000", lifted).port == 9000
    assert check_url("http://localhost:9000", lifted).hostname == "localhost"
    with pytest.raises(OutboundURLRefused):
        check_url("ftp://127.0.0.1", lifted)


async def test_a_name_resolving_to_loopback_is_refused_when_connecting() -> None:
    """DNS rebinding: check_url lets the name pass; the connect-time check refuses it."""
    dns = fake_dns({"rebind.example.com": ["127.0.0.1"]})
    check_url("https://rebind.example.com/", STRICT)
    async with guarded_client(policy=STRICT, resolver=dns) as client:
        with pytest.raises(OutboundURLRefused) as refused:
            await client.get("https://rebind.example.com/api/users")
    assert "rebind.example.com (resolves to 127.0.0.1)" in refused.value.message
    assert "loopback" in refused.value.message


async def test_every_resolved_address_must_be_public() -> None:
    dns = fake_dns({"mixed.example.com": ["93.184.216.34", "10.0.0.7"]})
    async with guarded_client(policy=STRICT, resolver=dns) as client:
        with pytest.raises(OutboundURLRefused, match=r"10\.0\.0\.7"):
            await client.get("https://mixed.example.com/")


async def test_real_dns_for_localhost_is_refused() -> None:
    """The system resolver's answer for localhost (127.0.0.1 / ::1) is refused at connect, even
    when the URL check is skipped (the transport checks the address itself)."""
    from replydesk.core.urlguard import GuardedBackend

    backend = GuardedBackend(STRICT)
    with pytest.raises(OutboundURLRefused, match="loopback"):
        await backend.connect_tcp("localhost", 443)


async def test_http_and_ip_literals_refused_by_the_client_before_any_connect() -> None:
    dns = fake_dns({})
    async with guarded_client(policy=STRICT, resolver=dns) as client:
        for url in ("http://example.com/", "https://169.254.169.254/latest/meta-data/"):
            with pytest.raises(OutboundURLRefused):
                await client.get(url)
    assert dns.calls == []  # type: ignore[attr-defined]


async def test_connects_to_the_checked_ip_with_the_name_for_tls_and_host(tmp_path: Path) -> None:
    """The socket goes to the address the check saw; SNI, certificate and Host use the name."""

    def respond(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, b"ok"

    with https_server("api.fake-provider.test", tmp_path, respond) as server:
        dns = fake_dns({"api.fake-provider.test": ["127.0.0.1"]})
        policy = OutboundPolicy(trusted_networks=(LOOPBACK,))
        async with guarded_client(
            policy=policy, resolver=dns, ssl_context=server.client_context()
        ) as client:
            response = await client.get(f"https://api.fake-provider.test:{server.port}/ping")
        assert response.status_code == 200
        assert server.seen == [("/ping", f"api.fake-provider.test:{server.port}")]
        assert dns.calls == ["api.fake-provider.test"]  # type: ignore[attr-defined]


async def test_redirects_are_not_followed_and_each_hop_is_checked(tmp_path: Path) -> None:
    def respond(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        targets = {
            "/to-metadata": "https://169.254.169.254/latest/meta-data/",
            "/to-http": "http://api.fake-provider.test/",
            "/to-rebind": "https://inside.example.com/",
        }
        return 302, {"location": targets[path]}, b""

    with https_server("api.fake-provider.test", tmp_path, respond) as server:
        dns = fake_dns(
            {"api.fake-provider.test": ["127.0.0.1"], "inside.example.com": ["10.9.8.7"]}
        )
        policy = OutboundPolicy(trusted_networks=(LOOPBACK,))
        base = f"https://api.fake-provider.test:{server.port}"
        context = server.client_context()
        async with guarded_client(policy=policy, resolver=dns, ssl_context=context) as client:
            response = await client.get(f"{base}/to-metadata")
            assert response.status_code == 302  # not followed by default
        async with guarded_client(
            policy=policy, resolver=dns, ssl_context=context, follow_redirects=True
        ) as client:
            for path, reason in (
                ("/to-metadata", "cloud metadata"),
                ("/to-http", "must use https"),
                ("/to-rebind", "private"),
            ):
                with pytest.raises(OutboundURLRefused, match=reason):
                    await client.get(f"{base}{path}")


async def test_allow_private_lets_the_guarded_client_reach_a_loopback_fake() -> None:
    async with running_fake() as fake:
        settings = Settings(outbound_allow_private=True)
        async with guarded_client(settings) as client:
            response = await client.get(f"{fake.base_url}/api/users")
        assert response.status_code == 200
        async with guarded_client(Settings()) as client:
            with pytest.raises(OutboundURLRefused):
                await client.get(f"{fake.base_url}/api/users")
    assert isinstance(response, httpx.Response)
