"""A small asyncio TCP proxy for failure drills: forward, add latency, blackhole, drop.

It listens on TCP and forwards to ``host:port`` or to a Unix socket path (the embedded PostgreSQL
listens on a socket only). Modes, switchable at any time:

- ``forward``   (default) bytes flow both ways, each chunk delayed by ``latency_s`` if set;
- ``blackhole`` new connections are accepted and never forwarded, existing ones stop moving
  data: like a dead host or a cut cable (clients hang until their own timeouts fire);
- ``drop``      existing connections are closed and new ones closed on accept: like a restart.

``resume()`` returns to ``forward`` and closes every connection that lost data meanwhile (its
byte stream is no longer consistent), so clients see a clean disconnect and reconnect.

Use from code (``async with TcpProxy(target) as proxy: ...``) or from the shell::

    python -m replydesk.devtools.tcp_proxy --target /tmp/x/pg/.s.PGSQL.5432 --latency-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

CHUNK = 65_536

Target = str | tuple[str, int]  # a Unix socket path, or (host, port)


@dataclass(eq=False)
class _Link:
    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    upstream_writer: asyncio.StreamWriter | None = None
    tainted: bool = False  # lost data during a blackhole: closed on resume
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def close(self) -> None:
        for writer in (self.client_writer, self.upstream_writer):
            if writer is not None:
                writer.transport.abort()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()


class TcpProxy:
    def __init__(
        self,
        target: Target,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        self.target = target
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.latency_s = latency_s
        self.mode = "forward"
        self.connections_total = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "proxy not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.close()
        self._links.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- modes -----------------------------------------------------------------------------

    def blackhole(self) -> None:
        self.mode = "blackhole"
        for link in self._links:
            link.tainted = True

    def drop(self) -> None:
        self.mode = "drop"
        for link in list(self._links):
            link.close()
        self._links.clear()

    def resume(self) -> None:
        self.mode = "forward"
        for link in [link for link in self._links if link.tainted]:
            link.close()
            self._links.discard(link)

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # --- plumbing --------------------------------------------------------------------------

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if isinstance(self.target, str):
            return await asyncio.open_unix_connection(self.target)
        host, port = self.target
        return await asyncio.open_connection(host, port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        if self.mode == "drop":
            writer.transport.abort()
            return
        link = _Link(reader, writer)
        self._links.add(link)
        if self.mode == "blackhole":
            link.tainted = True
            await self._swallow(link)
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(self._open_upstream(), 5)
        except (OSError, TimeoutError):
            link.close()
            self._links.discard(link)
            return
        link.upstream_writer = up_writer
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer)),
            asyncio.create_task(self._pump(link, up_reader, writer)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        link.close()
        self._links.discard(link)

    async def _swallow(self, link: _Link) -> None:
        """Read and discard whatever a blackholed client sends, until it or we close."""
        with contextlib.suppress(Exception):
            while await link.client_reader.read(CHUNK):
                pass

    async def _pump(
        self, link: _Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] | None = None
        sender: asyncio.Task[None] | None = None
        try:
            while True:
                chunk = await src.read(CHUNK)
                if not chunk:
                    break
                if link.tainted or self.mode == "blackhole":
                    link.tainted = True
                    continue  # the cable is cut: data vanishes
                if self.latency_s > 0:
                    if queue is None:
                        queue = asyncio.Queue()
                        sender = asyncio.create_task(self._delayed_sender(queue, dst))
                    queue.put_nowait((time.monotonic() + self.latency_s, chunk))
                    continue
                dst.write(chunk)
                await dst.drain()
            if queue is not None:
                await queue.join()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if sender is not None:
                sender.cancel()
            if link.tainted:
                dst.transport.abort()
            else:
                _close_quietly(dst)

    @staticmethod
    async def _delayed_sender(
        queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter
    ) -> None:
        """Chunks leave in order, each ``latency`` after it arrived (latency does not add up)."""
        while True:
            due, chunk = await queue.get()
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                dst.write(chunk)
                await dst.drain()
            finally:
                queue.task_done()


def _close_quietly(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


# --- PostgreSQL URL helpers (used by tests and the drill) ----------------------------------


def pg_target(url: str) -> Target:
    """Where a libpq URL points: a Unix socket path or (host, port)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    port = parts.port or int(query.get("port", 5432))
    host = query.get("host") or parts.hostname or "/var/run/postgresql"
    if host.startswith("/"):
        return os.path.join(host, f".s.PGSQL.{port}")
    return (host, port)


def url_via_proxy(url: str, host: str, port: int) -> str:
    """The same URL (user, password, database) but connecting to ``host:port`` over TCP."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")]
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))


def _parse_target(value: str) -> Target:
    if "/" in value:
        return value
    host, _, port = value.rpartition(":")
    return (host or "127.0.0.1", int(port))


async def _serve(args: argparse.Namespace) -> None:
    host, _, port = args.listen.rpartition(":")
    proxy = TcpProxy(
        _parse_target(args.target),
        listen_host=host or "127.0.0.1",
        listen_port=int(port),
        latency_s=args.latency_ms / 1000,
    )
    async with proxy:
        print(f"proxy listening on {proxy.listen_host}:{proxy.port} → {args.target}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port to listen on")
    parser.add_argument("--target", required=True, help="host:port or a Unix socket path")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added delay per chunk")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
