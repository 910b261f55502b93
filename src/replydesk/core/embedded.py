"""Embedded PostgreSQL through pgserver, used when no DATABASE_URL is configured."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from replydesk.core.logging import get_logger

log = get_logger(__name__)

_servers: dict[Path, Any] = {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last registered process exits; a process killed
    with SIGKILL never unregisters and would keep it running forever. Drop dead pids."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    from pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the cluster under ``data_dir/pg`` and return a libpq URL.

    pgserver reuses a postmaster already running on that directory and stops it when the
    last process holding a handle exits, so several ReplyDesk processes share one server.
    """
    pgdata = (data_dir / "pg").resolve()
    server = _servers.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            _forget_dead_handles(pgdata)
            server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        _servers[pgdata] = server
        log.info("embedded_postgres_ready", data_dir=str(pgdata))
    return str(server.get_uri())


def stop_embedded(data_dir: Path) -> None:
    """Stop the cluster that :func:`start_embedded` started under ``data_dir/pg``, and forget it.

    pgserver stops the postmaster only when this process holds the last handle on it; the files
    under ``data_dir`` are left alone (the caller removes them). Does nothing for a directory
    this process did not start.
    """
    server = _servers.pop((data_dir / "pg").resolve(), None)
    if server is not None:
        server.cleanup()
