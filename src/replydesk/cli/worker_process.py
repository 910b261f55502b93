"""The queue worker of ``replydesk serve``, as a supervised child process.

On one event loop the worker's groups and a webhook burst took turns: a sustained stream with
the worker draining alongside answered webhooks at p99 1,287 ms (issue 14). As a child
process at a lower CPU priority, the kernel schedules request handling first and the worker
uses what is left (figures in docs/benchmarks.md). ``REPLYDESK_SERVE_WORKER=inline`` keeps the
old in-process worker.

The child is ``python -m replydesk worker`` on the parent's (already migrated) database URL;
it is restarted with a backoff when it exits by itself, sent SIGTERM (finish or release the
in-flight items) when ``serve`` stops, and on Linux gets SIGTERM when its parent dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings

log = get_logger("replydesk.cli.worker_process")

_PR_SET_PDEATHSIG = 1
PARENT_ENV = "_REPLYDESK_SERVE_PID"  # set for the child only; not a setting
_MAX_BACKOFF_S = 30.0


class WorkerProcess:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.env = {**os.environ, "DATABASE_URL": database_url, PARENT_ENV: str(os.getpid())}
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        self.proc = self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="worker-process", daemon=True)
        self._monitor.start()
        log.info("worker_process_started", pid=self.proc.pid, nice=self.settings.serve_worker_nice)

    def stop(self) -> None:
        """SIGTERM, then wait the worker's grace period (+5 s) before SIGKILL."""
        self._stopping.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.settings.worker_shutdown_grace_s + 5)
        except subprocess.TimeoutExpired:
            log.warning("worker_process_killed", pid=proc.pid, reason="shutdown grace exceeded")
            proc.kill()
            proc.wait()
        if self._monitor is not None:
            self._monitor.join(timeout=2)

    def _spawn(self) -> subprocess.Popen[bytes]:
        # No preexec_fn (unsafe once the monitor thread runs): the priority is set from here,
        # the parent-death signal by the child itself (die_with_parent).
        proc = subprocess.Popen([sys.executable, "-m", "replydesk", "worker"], env=self.env)
        if self.settings.serve_worker_nice:
            try:
                os.setpriority(os.PRIO_PROCESS, proc.pid, self.settings.serve_worker_nice)
            except OSError as exc:  # the worker still runs, at the API's priority
                log.warning("worker_process_priority_unset", error=type(exc).__name__)
        return proc

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            proc = self.proc
            if proc is None:
                return
            try:
                code = proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                continue
            if self._stopping.is_set():
                return
            log.error(
                "worker_process_exited",
                category=LogCategory.OTHER,
                error_class="worker_exited",
                exit_code=code,
                restart_in_s=backoff,
            )
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF_S)
            self.proc = self._spawn()
            self.restarts += 1
            log.info("worker_process_started", pid=self.proc.pid, restarts=self.restarts)


def die_with_parent() -> None:
    """In a worker started by ``serve``: on Linux, SIGTERM (graceful) when ``serve`` dies."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def worker_process(settings: Settings, database_url: str) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(settings, database_url)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
