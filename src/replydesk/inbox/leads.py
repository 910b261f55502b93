"""Lead list, lead detail, operator updates and the conversation timeline.

Every statement is scoped by the workspace of the caller's membership and runs under
``inbox_statement_timeout_ms``; lists are keyset-paginated with a hard page-size cap.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, text, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth import service as auth
from replydesk.automation import drafts as automation
from replydesk.automation.sequences import service as sequences
from replydesk.automation.sequences.vocabulary import StopReason
from replydesk.core.errors import InvalidInput, NotFound
from replydesk.inbox import cursor, repository
from replydesk.inbox.budget import within_budget
from replydesk.inbox.schemas import CATEGORY_MAX_LENGTH, TAG_NAME_MAX_LENGTH, LeadPatch
from replydesk.leads import identity
from replydesk.leads import service as leads
from replydesk.leads.models import Lead, LeadIdentity, LeadRead, LeadTag, Message, Tag
from replydesk.leads.vocabulary import Channel, LeadCategory, LeadStatus

MESSAGE_CURSOR = "messages"
Q_MAX_LENGTH = 200


class LeadSort:
    """``sort=`` values; each has its own cursor kind, so a cursor cannot change the sort."""

    LAST_MESSAGE = "last_message"
    OLDEST_WAITING = "oldest_waiting"
    SCORE = "score"
    ALL = (LAST_MESSAGE, OLDEST_WAITING, SCORE)
    CURSORS = {LAST_MESSAGE: "leads", OLDEST_WAITING: "leads:oldest_waiting", SCORE: "leads:score"}


@dataclass(frozen=True)
class LeadQuery:
    filters: list[str]
    q: str | None
    assignee: str | None
    limit: int
    after: str | None
    statuses: list[str] = field(default_factory=list)
    sort: str = LeadSort.LAST_MESSAGE


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_tag(workspace_id: uuid.UUID, name: str) -> ColumnElement[bool]:
    return exists().where(
        LeadTag.lead_id == Lead.id,
        LeadTag.tag_id == Tag.id,
        Tag.workspace_id == workspace_id,
        Tag.name == name,
    )


def unread_for(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The lead has an inbound message newer than the user's read mark (or no mark)."""
    read = exists().where(
        LeadRead.user_id == user_id,
        LeadRead.lead_id == Lead.id,
        LeadRead.read_at >= Lead.last_inbound_at,
    )
    return and_(Lead.last_inbound_at.is_not(None), ~read)


def _status_clause(statuses: list[str]) -> ColumnElement[bool]:
    allowed = tuple(LeadStatus)
    for status in statuses:
        if status not in allowed:
            raise InvalidInput(f"status must be one of {', '.join(allowed)}, not {status!r}")
    return Lead.status.in_(statuses)


_PHONE_FORMATTING = re.compile(r"[\s().\-/]")
_PHONE_PREFIX = re.compile(r"^(\+|00)?\d{3,15}$")


def _identity_patterns(text: str, needle: str) -> set[str]:
    """LIKE prefixes of normalised identity values the search text may mean: itself (lower
    case for e-mail, as typed for case-sensitive provider ids), a phone number's E.164 prefix
    (formatting and ``+``/``00`` ignored), a LinkedIn profile URL's normalised form."""
    patterns = {_escape_like(needle) + "%", _escape_like(text) + "%"}
    compact = _PHONE_FORMATTING.sub("", needle)
    if _PHONE_PREFIX.match(compact):
        digits = compact.removeprefix("+").removeprefix("00")
        patterns.add("+" + digits + "%")
    url = identity.linkedin_url(needle)
    if url is not None:
        patterns.add(_escape_like(url) + "%")
    return patterns


def _q_matches(workspace_id: uuid.UUID, text: str, needle: str) -> Any:
    """Ids of the workspace's leads matching ``q``: by any identity (ix_lead_identities_search)
    or by name/company/e-mail prefix (the ix_leads_search_* indexes). Not correlated with the
    outer query, so PostgreSQL runs it once, from the indexes, and joins the ids."""
    pattern = _escape_like(needle) + "%"
    by_identity = select(LeadIdentity.lead_id).where(
        LeadIdentity.workspace_id == workspace_id,
        or_(*(LeadIdentity.value.like(p, escape="\\") for p in _identity_patterns(text, needle))),
    )
    by_profile = select(repository.SEARCH_LEAD.id).where(
        repository.SEARCH_LEAD.workspace_id == workspace_id,
        or_(*(column.like(pattern, escape="\\") for column in repository.SEARCH_COLUMNS)),
    )
    return union_all(by_identity, by_profile)


SLA_BREACHED = "sla_breached"


async def _sla_hours(session: AsyncSession, workspace_id: uuid.UUID) -> float:
    """The SLA ``filter=sla_breached`` compares with; without one the filter is refused."""
    hours = await automation.attention_sla_hours(session, workspace_id)
    if hours is None:
        raise InvalidInput(
            "filter sla_breached needs an attention SLA: set attention_sla_hours with "
            "PUT settings/automation"
        )
    return hours


def _filter_clauses(
    query: LeadQuery,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    sla_hours: float | None = None,
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if query.statuses:
        clauses.append(_status_clause(query.statuses))
    for raw in query.filters:
        name, _, value = raw.partition(":")
        if raw == "all":
            continue
        if raw == "requires_attention":
            clauses.append(repository.REQUIRES_ATTENTION)
        elif raw == SLA_BREACHED and sla_hours is not None:
            clauses.append(repository.sla_breached(sla_hours))
        elif raw == "unread":
            clauses.append(unread_for(user_id))
        elif name == "tag" and value:
            if len(value) > TAG_NAME_MAX_LENGTH:
                raise InvalidInput("filter tag is too long")
            clauses.append(_has_tag(workspace_id, value))
        elif name == "category" and value:
            if len(value) > CATEGORY_MAX_LENGTH:
                raise InvalidInput("filter category is too long")
            if value == "uncategorized":
                clauses.append(Lead.category.is_(None))
            else:
                clauses.append(Lead.category == value)
        elif name == "channel" and value:
            if value not in tuple(Channel):
                raise InvalidInput(
                    f"filter channel must be one of {', '.join(Channel)}, not {value!r}"
                )
            clauses.append(Lead.last_inbound_channel == value)
        else:
            raise InvalidInput(
                f"unknown filter {raw!r}: use requires_attention, sla_breached, unread, all, "
                "category:<name>, tag:<name> or channel:<email|sms|linkedin>"
            )
    if query.q is not None:
        needle = query.q.strip().lower()
        if not needle:
            raise InvalidInput("q must not be blank")
        if len(needle) > Q_MAX_LENGTH:
            raise InvalidInput(f"q must be at most {Q_MAX_LENGTH} characters")
        clauses.append(Lead.id.in_(_q_matches(workspace_id, query.q.strip(), needle)))
    if query.assignee is not None:
        if query.assignee == "me":
            clauses.append(Lead.assignee_user_id == user_id)
        elif query.assignee == "none":
            clauses.append(Lead.assignee_user_id.is_(None))
        else:
            try:
                clauses.append(Lead.assignee_user_id == uuid.UUID(query.assignee))
            except ValueError:
                raise InvalidInput("assignee must be 'me', 'none' or a user id") from None
    return clauses


ORDER = (Lead.last_message_at.desc().nulls_last(), Lead.id.desc())
# Literal, as in the ix_leads_waiting predicate, so the planner matches the index.
AWAITING_REPLY = text("awaiting_reply")


def _page(rows: list[Any], query: LeadQuery, at_column: str) -> Page:
    items = [dict(r) for r in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit:
        last = items[-1]
        kind = LeadSort.CURSORS[query.sort]
        next_cursor = cursor.encode(kind, last[at_column], last["id"])
    return Page(items, next_cursor)


async def _oldest_waiting(
    session: AsyncSession, clauses: list[ColumnElement[bool]], query: LeadQuery, timeout_ms: int
) -> Page:
    """Leads awaiting a reply, the one whose newest inbound message is oldest first
    (last_inbound_at ASC, id ASC): ix_leads_waiting in index order."""
    stmt = select(*repository.LEAD_COLUMNS).where(*clauses, AWAITING_REPLY)
    if query.after is not None:
        after_at, after_id = cursor.decode(LeadSort.CURSORS[query.sort], query.after)
        if after_at is None:
            raise InvalidInput("cursor is not an oldest_waiting cursor")
        stmt = stmt.where(tuple_(Lead.last_inbound_at, Lead.id) > tuple_(after_at, after_id))
    stmt = stmt.order_by(Lead.last_inbound_at.asc(), Lead.id.asc()).limit(query.limit + 1)
    async with within_budget(session, timeout_ms, "the lead list"):
        rows = list((await session.execute(stmt)).mappings())
    return _page(rows, query, "last_inbound_at")


async def _by_score(
    session: AsyncSession, clauses: list[ColumnElement[bool]], query: LeadQuery, timeout_ms: int
) -> Page:
    """Highest score first (score DESC NULLS LAST, id DESC): ix_leads_workspace_id_score_id
    in index order. Scored leads come first; unscored ones (score NULL) follow by id, and a
    page crossing that boundary is filled by a second statement (as ``sort=last_message``)."""
    kind = LeadSort.CURSORS[LeadSort.SCORE]
    after_score: int | None = None
    after_id: int | None = None
    if query.after is not None:
        after_score, after_id = cursor.decode_rank(kind, query.after, low=0, high=100)
    want = query.limit + 1
    rows: list[Any] = []
    async with within_budget(session, timeout_ms, "the lead list"):
        if query.after is None or after_score is not None:
            scored = select(*repository.LEAD_COLUMNS).where(*clauses, Lead.score.is_not(None))
            if after_score is not None:
                scored = scored.where(tuple_(Lead.score, Lead.id) < tuple_(after_score, after_id))
            scored = scored.order_by(Lead.score.desc().nulls_last(), Lead.id.desc()).limit(want)
            rows = list((await session.execute(scored)).mappings())
        if len(rows) < want:
            unscored = select(*repository.LEAD_COLUMNS).where(*clauses, Lead.score.is_(None))
            if after_score is None and after_id is not None:
                unscored = unscored.where(Lead.id < after_id)
            more = await session.execute(unscored.order_by(Lead.id.desc()).limit(want - len(rows)))
            rows.extend(more.mappings())
    items = [dict(r) for r in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit:
        last = items[-1]
        next_cursor = cursor.encode_rank(kind, last["score"], last["id"])
    return Page(items, next_cursor)


async def list_leads(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    query: LeadQuery,
    timeout_ms: int,
) -> Page:
    """Keyset pages; ``sort=last_message`` (default) in (last_message_at DESC NULLS LAST,
    id DESC) order, ``sort=oldest_waiting`` see ``_oldest_waiting``, ``sort=score`` see
    ``_by_score``.

    Leads with messages come first; leads without any (last_message_at NULL) follow,
    ordered by id. A page that crosses that boundary is filled by a second statement.
    """
    if query.sort not in LeadSort.ALL:
        raise InvalidInput(f"sort must be one of {', '.join(LeadSort.ALL)}, not {query.sort!r}")
    sla_hours = await _sla_hours(session, workspace_id) if SLA_BREACHED in query.filters else None
    clauses = [
        Lead.workspace_id == workspace_id,
        *_filter_clauses(query, workspace_id, user_id, sla_hours),
    ]
    if query.sort == LeadSort.OLDEST_WAITING:
        return await _oldest_waiting(session, clauses, query, timeout_ms)
    if query.sort == LeadSort.SCORE:
        return await _by_score(session, clauses, query, timeout_ms)
    after_at, after_id = (
        (None, None)
        if query.after is None
        else cursor.decode(LeadSort.CURSORS[query.sort], query.after)
    )
    want = query.limit + 1
    rows: list[Any] = []
    async with within_budget(session, timeout_ms, "the lead list"):
        if query.after is None or after_at is not None:
            dated = select(*repository.LEAD_COLUMNS).where(
                *clauses, Lead.last_message_at.is_not(None)
            )
            if after_at is not None:
                dated = dated.where(
                    tuple_(Lead.last_message_at, Lead.id) < tuple_(after_at, after_id)
                )
            rows = list((await session.execute(dated.order_by(*ORDER).limit(want))).mappings())
        if len(rows) < want:
            undated = select(*repository.LEAD_COLUMNS).where(
                *clauses, Lead.last_message_at.is_(None)
            )
            if after_at is None and after_id is not None:
                undated = undated.where(Lead.id < after_id)
            more = await session.execute(undated.order_by(Lead.id.desc()).limit(want - len(rows)))
            rows.extend(more.mappings())
    return _page(rows, query, "last_message_at")


async def get_lead(session: AsyncSession, workspace_id: uuid.UUID, lead_id: int) -> dict[str, Any]:
    return await repository.one_of_workspace(
        session, Lead, repository.LEAD_COLUMNS, lead_id, workspace_id, "lead not found"
    )


async def patch_lead(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    patch: LeadPatch,
    actor_user_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Apply the fields present in the body. Idempotent: a repeat changes nothing, not even
    ``updated_at`` (the UPDATE only matches when a value differs)."""
    fields = patch.model_fields_set
    if not fields:
        raise InvalidInput(
            "body must set at least one of status, category, snoozed_until, assignee"
        )
    await get_lead_id(session, workspace_id, lead_id)
    values: dict[str, Any] = {}
    if "status" in fields:
        if patch.status is None:
            raise InvalidInput("status cannot be null")
        values["status"] = patch.status
    if "category" in fields:
        values["category"] = patch.category
    if "snoozed_until" in fields:
        values["snoozed_until"] = patch.snoozed_until
    if "assignee" in fields:
        if patch.assignee is not None and not await auth.is_member(
            session, workspace_id, patch.assignee
        ):
            raise InvalidInput("assignee is not a member of this workspace")
        values["assignee_user_id"] = patch.assignee
    await leads.update_lead(session, workspace_id, lead_id, values, actor_user_id=actor_user_id)
    stop = _FOLLOWUP_STOPS.get(values.get("status") or "")
    if values.get("category") == LeadCategory.UNSUBSCRIBE.value:
        stop = StopReason.UNSUBSCRIBED
    if stop is not None:  # the operator's change ends the lead's follow-ups, same transaction
        await sequences.stop_for_lead(session, workspace_id, lead_id, stop)
    return await get_lead(session, workspace_id, lead_id)


# Statuses (set by an operator) that end a lead's follow-up sequences.
_FOLLOWUP_STOPS = {
    LeadStatus.CLOSED.value: StopReason.LEAD_CLOSED,
    LeadStatus.UNSUBSCRIBED.value: StopReason.UNSUBSCRIBED,
    LeadStatus.MEETING_BOOKED.value: StopReason.MEETING_BOOKED,
}


async def list_messages(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    after: str | None,
    limit: int,
    timeout_ms: int,
) -> Page:
    """Newest page first (cursor walks back in time); each page is oldest → newest."""
    await get_lead_id(session, workspace_id, lead_id)
    stmt = select(*repository.MESSAGE_COLUMNS).where(
        Message.lead_id == lead_id, Message.workspace_id == workspace_id
    )
    if after is not None:
        before_at, before_id = cursor.decode(MESSAGE_CURSOR, after)
        if before_at is None:
            raise InvalidInput("cursor is not a messages cursor")
        stmt = stmt.where(tuple_(Message.occurred_at, Message.id) < tuple_(before_at, before_id))
    stmt = stmt.order_by(Message.occurred_at.desc(), Message.id.desc()).limit(limit + 1)
    async with within_budget(session, timeout_ms, "the conversation"):
        rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
    return backward_page(rows, limit, MESSAGE_CURSOR)


def backward_page(rows: list[dict[str, Any]], limit: int, kind: str, tiered: bool = False) -> Page:
    """``rows``: up to ``limit + 1``, newest first. The page is oldest → newest; its cursor
    continues before the oldest row (with the row's ``tier`` when ``tiered``)."""
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        oldest = page[-1]
        tier = oldest["tier"] if tiered else None
        next_cursor = cursor.encode(kind, oldest["occurred_at"], oldest["id"], tier=tier)
    page.reverse()
    return Page(page, next_cursor)


async def get_lead_id(session: AsyncSession, workspace_id: uuid.UUID, lead_id: int) -> int:
    found = (
        await session.execute(
            select(Lead.id).where(Lead.id == lead_id, Lead.workspace_id == workspace_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("lead not found")
    return int(found)


async def unread_among(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, lead_ids: list[int]
) -> set[int]:
    """Which of these leads (one page of a list) are unread for the user: the marks of the
    operator pages. One statement on the page's ids, by the same rule as ``filter=unread``."""
    if not lead_ids:
        return set()
    stmt = select(Lead.id).where(
        Lead.workspace_id == workspace_id, Lead.id.in_(lead_ids), unread_for(user_id)
    )
    return set((await session.execute(stmt)).scalars())
