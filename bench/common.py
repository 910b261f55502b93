"""What the bench scripts share: where results go, scratch folders, SIGTERM, embedded PostgreSQL.

By default a script writes nothing tracked: its JSON goes to ``results/<name>-<UTC>.json``
(untracked, git-ignored); ``--record`` also appends to docs/benchmarks.md. Scratch folders
(embedded PostgreSQL, server logs) are deleted on exit, also on an exception, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def add_output_args(parser: argparse.ArgumentParser, noop_flags: Sequence[str] = ()) -> None:
    """``--record``, ``--results-dir``, and old opt-out flags kept as no-ops."""
    parser.add_argument(
        "--record", action="store_true", help="also append the figures to docs/benchmarks.md"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS,
        help="where the run's JSON file goes (default: results/ at the repository root)",
    )
    for flag in noop_flags:
        parser.add_argument(
            flag, action="store_true", help="no-op (not recording is the default; see --record)"
        )


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process on this host has used; 0 when it is gone.
    Less dependent on what else the shared cores run than wall time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_result(results_dir: Path, name: str, data: Any, stamp: str | None = None) -> Path:
    """``results_dir/<name>-<stamp>.json``; never overwrites another run's file."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = stamp or utc_stamp()
    for n in itertools.count():
        path = results_dir / (f"{name}-{stamp}.json" if n == 0 else f"{name}-{stamp}-{n}.json")
        try:
            with path.open("x", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, default=str)
                fh.write("\n")
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def sigterm_like_ctrl_c() -> None:
    """SIGTERM does what Ctrl-C does, so ``finally`` blocks stop servers and delete folders.

    Under ``asyncio.run`` the SIGINT handler is asyncio's (it cancels the main task first).
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        current = signal.getsignal(signal.SIGINT)
        if callable(current):
            current(signal.SIGINT, frame)
        else:  # SIGINT ignored (a background job): still end the run
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh folder in the temporary directory, deleted on exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def embedded_server(prefix: str = "replydesk-bench-") -> Iterator[str]:
    """An embedded PostgreSQL in a scratch folder: stopped, then deleted, on exit."""
    from replydesk.core.embedded import start_embedded, stop_embedded  # not for bench's helpers

    with scratch_dir(prefix) as data_dir:
        try:
            yield start_embedded(data_dir)
        finally:
            stop_embedded(data_dir)


@contextmanager
def scratch_database(server_url: str, prefix: str = "rd_bench_") -> Iterator[str]:
    """A new empty database on ``server_url``'s server, dropped on exit: a run given a server
    (``DATABASE_URL``) starts from nothing as on the embedded one, and leaves nothing behind
    (a shared database grows run after run, so later runs would pay for earlier ones)."""
    from replydesk.core.db import plain_url, with_database  # not for bench's helpers

    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = plain_url(with_database(server_url, "postgres"))

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
