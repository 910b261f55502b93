"""First run: on an instance without any user, a one-time setup link for the first owner.

The token lives only in this process's memory (printed once at start, never logged: the log
redaction would mask it anyway). Using it creates the first workspace and its owner through
``auth.service.create_first_owner``, which re-checks "no user yet" under an advisory lock, so
two processes' links cannot both succeed. After that the link is dead everywhere: every
process refuses setup once a user exists.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from replydesk.auth import service as auth_service
from replydesk.core.db import Database
from replydesk.core.security import hash_token, new_token, token_matches


@dataclass
class FirstRun:
    token: str | None = None

    def accepts(self, presented: str | None) -> bool:
        return bool(self.token and presented and token_matches(presented, hash_token(self.token)))

    def used(self) -> None:
        self.token = None


async def prepare(db: Database, base_url: str | None, *, announce: bool = True) -> FirstRun:
    """A setup token when the database has no user; printed (stderr) with its URL. Called by
    ``replydesk serve`` after migrating (never in the app's lifespan: an app must start while
    the database is away)."""
    async with db.session() as session:
        if await auth_service.has_users(session):
            return FirstRun()
    first = FirstRun(new_token("rdsetup"))
    if announce:
        where = base_url or ""
        print(
            f"\nReplyDesk has no users yet. Create the first owner and workspace at:\n"
            f"  {where}/setup?token={first.token}\n",
            file=sys.stderr,
            flush=True,
        )
    return first
