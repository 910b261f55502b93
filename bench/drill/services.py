"""Starting ReplyDesk in production shape: API processes and worker processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from drill.hosts import HostNetwork

REPLYDESK = [sys.executable, "-m", "replydesk"]
# Every process spawned and not yet reaped: `stop_leftovers` ends them when the drill's own
# stop did not run (an interrupt that unwound past the event loop's `finally`).
_SPAWNED: set[subprocess.Popen[bytes]] = set()


def stop_leftovers(grace_s: float = 15.0) -> None:
    """SIGTERM every spawned process still running, SIGKILL after ``grace_s``."""
    live = [p for p in _SPAWNED if p.poll() is None]
    for proc in live:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in live:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _SPAWNED.clear()


METRICS_TOKEN = "drill-metrics-token-0123456789abcdef"  # noqa: S105 (a throwaway drill token)


def vm_hwm_kb(pid: int) -> int | None:
    """A process's peak resident set size in kB (Linux /proc), None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def child_pids(pid: int) -> list[int]:
    """A process's direct children, of any of its threads (Linux /proc): `serve`'s worker."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Services:
    database_url: str  # what the processes use (maybe through the fault proxy)
    log_dir: Path
    direct_url: str = ""  # what the drill's own CLI calls use
    # database_url is a transaction-mode pooler (--pooler-url): the processes are told so.
    pooled: bool = False
    # Shared by every process (the outage spool lives in <data_dir>/spool, read by queue stats).
    data_dir: Path | None = None
    # API processes' SIGTERM drain window (REPLYDESK_SHUTDOWN_DRAIN_S).
    drain_s: float = 2.0
    spool: bool = True
    # --hosts N: process k runs in network namespace k % N, on that host's database address.
    network: HostNetwork | None = None
    planned_api_ports: list[int] = field(default_factory=list)
    api_ports: list[int] = field(default_factory=list)
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    restarting: set[int] = field(default_factory=set)  # workers being restarted on purpose
    revived: int = 0  # workers that had exited by themselves and were started again
    peak_rss_kb: dict[str, int] = field(default_factory=dict)  # "api" / "worker": highest VmHWM
    in_process_worker: bool = False  # `serve` with its worker (the --one-process drill)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. the --ai endpoint
    worker_nice: int = 0
    worker_concurrency: int = 4

    def env(self, direct: bool = False) -> dict[str, str]:
        # Worker tuning (REPLYDESK_WORKER_*, REPLYDESK_SERVE_WORKER*) passes through so it can
        # be compared in drills.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("REPLYDESK_")
            or k.startswith(("REPLYDESK_WORKER_", "REPLYDESK_SERVE_"))
        }
        env["DATABASE_URL"] = (
            (self.direct_url or self.database_url) if direct else self.database_url
        )
        if self.pooled and not direct:
            env["REPLYDESK_DATABASE_POOL_MODE"] = "transaction"
            env["REPLYDESK_DATABASE_DIRECT_URL"] = self.direct_url
        env["REPLYDESK_LOG_LEVEL"] = "warning"
        env["REPLYDESK_SHUTDOWN_DRAIN_S"] = str(self.drain_s)
        env["REPLYDESK_SPOOL_ENABLED"] = "true" if self.spool else "false"
        if self.data_dir is not None:
            env["REPLYDESK_DATA_DIR"] = str(self.data_dir)
        # Every process writes its metrics to one folder; any API's /metrics shows them all.
        env["REPLYDESK_METRICS_TOKEN"] = METRICS_TOKEN
        env["REPLYDESK_METRICS_DIR"] = str(self.log_dir / "metrics")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(self.extra_env)
        return env

    def cli(self, *args: str) -> str:
        proc = subprocess.run(
            [*REPLYDESK, *args],
            env=self.env(direct=True),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"replydesk {' '.join(args)} failed: {proc.stderr[-2000:]}")
        return proc.stdout

    def _spawn(
        self, name: str, *args: str, nice: int = 0, index: int = 0
    ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        prefix = ["nice", "-n", str(nice)] if nice else []
        env = self.env()
        if self.network is not None:
            prefix = [*self.network.prefix(index), *prefix]
            env["DATABASE_URL"] = self.network.database_url(index)
        proc = subprocess.Popen([*prefix, *REPLYDESK, *args], env=env, stdout=log, stderr=log)
        _SPAWNED.add(proc)
        return proc

    def sample_rss(self) -> None:
        """Record each live process's peak resident memory (VmHWM, its own high-water mark)
        by role; sampled on the supervisor's beat, so a process replaced mid-drill (restart,
        kill) keeps the peak of its last sample."""
        for role, procs in (("api", self.apis), ("worker", self.workers)):
            for proc in procs:
                if proc is None or proc.poll() is not None:
                    continue
                pids = [(role, proc.pid)]
                if role == "api" and self.in_process_worker:  # serve's worker child process
                    pids += [("worker", pid) for pid in child_pids(proc.pid)]
                for who, pid in pids:
                    kb = vm_hwm_kb(pid)
                    if kb is not None:
                        self.peak_rss_kb[who] = max(self.peak_rss_kb.get(who, 0), kb)

    def start(
        self,
        api_count: int,
        worker_count: int,
        worker_concurrency: int,
        worker_nice: int = 0,
        in_process_worker: bool = False,
    ) -> None:
        self.worker_nice = worker_nice
        self.in_process_worker = in_process_worker
        self.cli("migrate")
        for i in range(api_count):
            port = self.planned_api_ports[i] if self.planned_api_ports else free_port()
            self.api_ports.append(port)
            self.apis.append(self.start_api(i, port))
        self.worker_concurrency = worker_concurrency
        for i in range(worker_count):
            self.workers.append(self.start_worker(i))
        for port in self.api_ports:
            wait_ready(port)

    def start_api(self, index: int, port: int) -> subprocess.Popen[bytes]:
        bind = ["--host", self.network.host_of(index).address] if self.network else []
        worker = [] if self.in_process_worker else ["--no-worker"]
        return self._spawn(f"api{index}", "serve", *worker, "--port", str(port), *bind, index=index)

    def restart_api(self, index: int) -> None:
        """SIGTERM (the process drains: /readyz 503, then exits), then a new one, same port."""
        proc = self.apis[index]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=self.drain_s + 30)
        self.apis[index] = self.start_api(index, self.api_ports[index])
        wait_ready(self.api_ports[index])

    def restart_worker(self, index: int) -> None:
        """SIGTERM (in-flight items finish or are released), then a new worker."""
        self.restarting.add(index)
        try:
            proc = self.workers[index]
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            self.workers[index] = self.start_worker(index)
        finally:
            self.restarting.discard(index)

    def revive_workers(self) -> None:
        """What systemd's Restart=on-failure does: a worker that exited by itself (e.g. its
        startup migration check met the database outage) is started again."""
        for index, proc in enumerate(self.workers):
            if proc is not None and index not in self.restarting and proc.poll() is not None:
                self.workers[index] = self.start_worker(index)
                self.revived += 1

    def start_worker(self, index: int) -> subprocess.Popen[bytes]:
        return self._spawn(
            f"worker{index}",
            "worker",
            "--concurrency",
            str(self.worker_concurrency),
            nice=self.worker_nice,
            index=index,
        )

    def kill_worker(self, index: int) -> None:
        self.restarting.add(index)
        proc = self.workers[index]
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.workers[index] = None
        self.restarting.discard(index)

    def queue_stats(self) -> dict[str, dict[str, int]]:
        stats: dict[str, dict[str, int]] = json.loads(self.cli("queue", "stats", "--json"))
        return stats

    def stop(self) -> None:
        stop_leftovers()


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"API on port {port} not ready after {timeout} s")
