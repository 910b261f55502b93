from __future__ import annotations

import pytest

from replydesk.core.db import Database
from tests.support.members import Member, new_workspace_owner


@pytest.fixture
async def owner(db: Database) -> Member:
    return await new_workspace_owner(db, "Acme", "sam@acme.example")
