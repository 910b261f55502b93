"""Running Alembic migrations from code (CLI, serve start-up, tests)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = database_url
    return cfg


def _in_thread(fn: object, *args: object) -> None:
    """Alembic's env.py calls asyncio.run(); run it in a thread when a loop is running."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)  # type: ignore[operator]
        return
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(database_url: str, revision: str = "head") -> None:
    _in_thread(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    _in_thread(command.downgrade, alembic_config(database_url), revision)
