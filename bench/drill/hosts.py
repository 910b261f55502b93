"""``--hosts N``: the drill's API and worker processes spread over N network namespaces.

Each namespace is a "host" with its own loopback and a veth link to this one (10.77.k.2 inside,
10.77.k.1 here). Nothing is shared between hosts but the database, reached through a TCP
forwarder listening on each host's gateway address, so every process has to cope with what a
real second machine means: its own caches, its own spool folder, its own connections.
The drill's load generator and checks keep talking to 127.0.0.1:PORT; a forwarder per API
process carries that to the API inside its namespace. Needs root (``ip netns``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy

SUBNET = "10.77"


@dataclass(frozen=True)
class Host:
    index: int
    namespace: str

    @property
    def address(self) -> str:  # inside the namespace
        return f"{SUBNET}.{self.index + 1}.2"

    @property
    def gateway(self) -> str:  # this side of the veth link
        return f"{SUBNET}.{self.index + 1}.1"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class HostNetwork:
    count: int
    hosts: list[Host] = field(default_factory=list)
    _proxies: list[TcpProxy] = field(default_factory=list)
    _database_urls: dict[int, str] = field(default_factory=dict)

    def create(self) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("--hosts needs root (ip netns)")
        tag = os.getpid() % 10_000
        try:
            for k in range(self.count):
                host = Host(k, f"rd-drill-{tag}-{k}")
                outside, inside = f"rd{tag}h{k}", f"rd{tag}n{k}"
                _ip("netns", "add", host.namespace)
                self.hosts.append(host)
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                _ip("link", "set", inside, "netns", host.namespace)
                _ip("addr", "add", f"{host.gateway}/24", "dev", outside)
                _ip("link", "set", outside, "up")
                ns = ["netns", "exec", host.namespace, "ip"]
                _ip(*ns, "addr", "add", f"{host.address}/24", "dev", inside)
                _ip(*ns, "link", "set", inside, "up")
                _ip(*ns, "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise

    def destroy(self) -> None:
        # Deleting a namespace deletes its end of the veth pair, and with it the other end.
        for host in self.hosts:
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
        self.hosts.clear()

    def host_of(self, process_index: int) -> Host:
        return self.hosts[process_index % len(self.hosts)]

    async def start_forwarders(self, database_url: str, api_ports: list[int]) -> None:
        """The database on every host's gateway address; each API port from here to its host."""
        target = pg_target(database_url)
        for host in self.hosts:
            proxy = await TcpProxy(target, listen_host=host.gateway).start()
            self._proxies.append(proxy)
            self._database_urls[host.index] = url_via_proxy(database_url, host.gateway, proxy.port)
        for i, port in enumerate(api_ports):
            host = self.host_of(i)
            self._proxies.append(await TcpProxy((host.address, port), listen_port=port).start())

    async def stop_forwarders(self) -> None:
        for proxy in self._proxies:
            await proxy.close()
        self._proxies.clear()

    def database_url(self, process_index: int) -> str:
        return self._database_urls[self.host_of(process_index).index]

    def prefix(self, process_index: int) -> list[str]:
        return ["ip", "netns", "exec", self.host_of(process_index).namespace]
