"""What operators add to leads: notes, workspace tags and per-user read marks.

The leads domain is the only writer of ``lead_notes``, ``tags``, ``lead_tags`` and
``lead_reads`` (statements in ``leads.repository``), so a merge of two leads can move them
in one place. Every statement is scoped by workspace; permissions (who may edit a note,
who may rename a tag) are decided by the caller and passed in as ``may_moderate``.
Everything runs in the caller's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db_errors import UNIQUE_VIOLATION, sqlstate
from replydesk.core.errors import Conflict, NotFound, PermissionDenied
from replydesk.leads import repository

LIST_MAX = 1000  # notes per lead and tags per workspace answered at most


def _dicts(rows: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in rows]


# --- notes ---------------------------------------------------------------------------------


async def add_note(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, author: uuid.UUID, body: str
) -> dict[str, Any]:
    params = {"ws": workspace_id, "lead_id": lead_id, "author": author, "body": body}
    row = await repository.row(session, repository.INSERT_NOTE, params)
    if row is None:
        raise NotFound("lead not found")
    return dict(row._mapping)


async def _own_note(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    note_id: int,
    user_id: uuid.UUID,
    may_moderate: bool,
) -> dict[str, Any]:
    """The note, locked, if ``user_id`` may change it (its author, or a moderator)."""
    params = {"ws": workspace_id, "lead_id": lead_id, "id": note_id}
    row = await repository.row(session, repository.LOCK_NOTE, params)
    if row is None:
        raise NotFound("note not found")
    note = dict(row._mapping)
    if note["author_user_id"] != user_id and not may_moderate:
        raise PermissionDenied("only the note's author or an admin/owner may change it")
    return note


async def edit_note(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    note_id: int,
    user_id: uuid.UUID,
    body: str,
    *,
    may_moderate: bool,
) -> dict[str, Any]:
    """Idempotent: the same text again changes nothing, not even ``updated_at``."""
    note = await _own_note(session, workspace_id, lead_id, note_id, user_id, may_moderate)
    params = {"ws": workspace_id, "id": note_id, "body": body}
    row = await repository.row(session, repository.UPDATE_NOTE, params)
    return note if row is None else dict(row._mapping)


async def delete_note(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    note_id: int,
    user_id: uuid.UUID,
    *,
    may_moderate: bool,
) -> None:
    await _own_note(session, workspace_id, lead_id, note_id, user_id, may_moderate)
    await session.execute(repository.DELETE_NOTE, {"ws": workspace_id, "id": note_id})


async def list_notes(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> list[dict[str, Any]]:
    """Newest first, at most ``LIST_MAX``."""
    params = {"ws": workspace_id, "lead_id": lead_id, "limit": LIST_MAX}
    return _dicts(await session.execute(repository.LIST_NOTES, params))


# --- tags ----------------------------------------------------------------------------------


async def create_tag(session: AsyncSession, workspace_id: uuid.UUID, name: str) -> dict[str, Any]:
    row = await repository.row(session, repository.INSERT_TAG, {"ws": workspace_id, "name": name})
    if row is None:
        raise Conflict(f"a tag named {name!r} already exists")
    return dict(row._mapping)


async def rename_tag(
    session: AsyncSession, workspace_id: uuid.UUID, tag_id: int, name: str
) -> dict[str, Any]:
    params = {"ws": workspace_id, "id": tag_id, "name": name}
    try:
        async with session.begin_nested():
            row = await repository.row(session, repository.RENAME_TAG, params)
    except IntegrityError as exc:
        if sqlstate(exc) != UNIQUE_VIOLATION:
            raise
        raise Conflict(f"a tag named {name!r} already exists") from None
    if row is None:
        raise NotFound("tag not found")
    return dict(row._mapping)


async def delete_tag(session: AsyncSession, workspace_id: uuid.UUID, tag_id: int) -> None:
    """Detaches it from every lead (FK cascade)."""
    params = {"ws": workspace_id, "id": tag_id}
    if await repository.scalar(session, repository.DELETE_TAG, params) is None:
        raise NotFound("tag not found")


async def get_tag(session: AsyncSession, workspace_id: uuid.UUID, tag_id: int) -> dict[str, Any]:
    row = await repository.row(session, repository.TAG_BY_ID, {"ws": workspace_id, "id": tag_id})
    if row is None:
        raise NotFound("tag not found")
    return dict(row._mapping)


async def list_tags(session: AsyncSession, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    """By name, at most ``LIST_MAX``."""
    params = {"ws": workspace_id, "limit": LIST_MAX}
    return _dicts(await session.execute(repository.LIST_TAGS, params))


async def lead_tags(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> list[dict[str, Any]]:
    params = {"ws": workspace_id, "lead_id": lead_id, "limit": LIST_MAX}
    return _dicts(await session.execute(repository.LEAD_TAGS, params))


async def attach_tag(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, tag_id: int
) -> None:
    """Idempotent; the caller has checked that lead and tag are the workspace's."""
    params = {"ws": workspace_id, "lead_id": lead_id, "tag_id": tag_id}
    await session.execute(repository.ATTACH_TAG, params)


async def detach_tag(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, tag_id: int
) -> None:
    params = {"ws": workspace_id, "lead_id": lead_id, "tag_id": tag_id}
    await session.execute(repository.DETACH_TAG, params)


# --- read marks ----------------------------------------------------------------------------


async def mark_read(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, user_id: uuid.UUID
) -> None:
    """Read up to the lead's newest inbound message (a newer one makes it unread again)."""
    params = {"ws": workspace_id, "lead_id": lead_id, "user_id": user_id}
    await session.execute(repository.MARK_READ, params)


async def mark_unread(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, user_id: uuid.UUID
) -> None:
    params = {"ws": workspace_id, "lead_id": lead_id, "user_id": user_id}
    await session.execute(repository.MARK_UNREAD, params)
