"""Inbox read API under /api/v1/workspaces/{workspace_id}/… (Bearer token or session)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from replydesk.auth.deps import AdminDep, WorkspaceDep
from replydesk.core.api_params import COMMON, MAX_ID, Cursor, LeadId, Limit
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import InvalidInput, NotFound
from replydesk.core.http import error_doc
from replydesk.inbox import counts as counts_service
from replydesk.inbox import events as events_service
from replydesk.inbox import leads as leads_service
from replydesk.inbox.merge_schemas import MergedAway
from replydesk.inbox.schemas import (
    CountsOut,
    LeadDetailOut,
    LeadOut,
    LeadPage,
    LeadPatch,
    MessagePage,
    ReplayOut,
    WebhookEventDetail,
    WebhookEventOut,
    WebhookEventPage,
)
from replydesk.leads import merges, replies

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["inbox"])

EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="Webhook event id")]

BUDGETED: dict[int | str, dict[str, object]] = {
    **COMMON,
    400: error_doc("bad_request: invalid cursor"),
    503: error_doc("service_unavailable: over the time budget"),
}


def bounded_limit(limit: int, settings_max: int) -> int:
    if limit > settings_max:
        raise InvalidInput(f"limit must be at most {settings_max}")
    return limit


@dataclass(frozen=True)
class Paging:
    """``limit`` and ``cursor`` of a keyset-paged read, with the reads' time budget."""

    cursor: str | None
    limit: int
    timeout_ms: int


def paging(settings: SettingsDep, limit: Limit = 50, cursor: Cursor = None) -> Paging:
    return Paging(
        cursor,
        bounded_limit(limit, settings.inbox_page_size_max),
        settings.inbox_statement_timeout_ms,
    )


PagingDep = Annotated[Paging, Depends(paging)]


def _counts_cache(request: Request) -> counts_service.CountsCache:
    """Built in the lifespan by the composition root (replydesk/app.py)."""
    cache: counts_service.CountsCache = request.app.state.inbox_counts_cache
    return cache


@router.get(
    "/inbox/counts",
    response_model=CountsOut,
    summary="Sidebar counts; last good counts with stale=true when the query is over budget",
    responses={**COMMON, 503: error_doc("query failed and nothing cached yet")},
)
async def inbox_counts(
    access: WorkspaceDep, session: SessionDep, settings: SettingsDep, request: Request
) -> CountsOut:
    result, unread = await counts_service.counts_and_unread(
        session, access.workspace_id, access.user_id, settings, _counts_cache(request)
    )
    counts = CountsOut.model_validate(result, from_attributes=True)
    return counts.model_copy(update={"unread": unread.count, "unread_capped": unread.capped})


@router.get(
    "/leads",
    response_model=LeadPage,
    summary="Leads, newest activity first, keyset-paginated",
    responses=BUDGETED,
)
async def list_leads(
    access: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    filter: Annotated[
        list[str] | None,
        Query(
            max_length=10,
            description="requires_attention | sla_breached (requires attention and waiting "
            "longer than attention_sla_hours; 422 when no SLA is set) | unread | all | "
            "category:<name> | tag:<name> | channel:<email|sms|linkedin>; repeat to combine "
            "(AND).",
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        Query(
            max_length=4,
            description="active | bounced | unsubscribed | closed; repeat for any of them (OR).",
        ),
    ] = None,
    sort: Annotated[
        str,
        Query(
            description="last_message (newest activity first) | oldest_waiting (leads "
            "awaiting a reply, oldest newest-inbound first) | score (highest lead score "
            "first, unscored last); the cursor keeps the sort.",
        ),
    ] = "last_message",
    q: Annotated[
        str | None,
        Query(max_length=200, description="Prefix of e-mail, first/last name or company"),
    ] = None,
    assignee: Annotated[str | None, Query(description="me | none | a user id")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LeadPage:
    query = leads_service.LeadQuery(
        filters=filter or ["all"],
        q=q,
        assignee=assignee,
        limit=bounded_limit(limit, settings.inbox_page_size_max),
        after=cursor,
        statuses=status or [],
        sort=sort,
    )
    page = await leads_service.list_leads(
        session, access.workspace_id, access.user_id, query, settings.inbox_statement_timeout_ms
    )
    return LeadPage.model_validate(page, from_attributes=True)


@router.get(
    "/leads/{lead_id}",
    response_model=LeadDetailOut,
    summary="One lead with its channel states (301 with merged_into for a merged lead)",
    responses={**COMMON, 301: {"model": MergedAway, "description": "merged into another lead"}},
)
async def get_lead(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId
) -> LeadDetailOut | JSONResponse:
    try:
        found = await leads_service.get_lead(session, access.workspace_id, lead_id)
    except NotFound:
        into = await merges.merged_into(session, access.workspace_id, lead_id)
        if into is None:
            raise
        return JSONResponse(
            MergedAway(merged_into=into).model_dump(),
            status_code=301,
            headers={"Location": f"/api/v1/workspaces/{access.workspace_id}/leads/{into}"},
        )
    channels = await replies.channel_states(session, access.workspace_id, lead_id)
    return LeadDetailOut.model_validate({**found, "channels": channels})


@router.patch(
    "/leads/{lead_id}",
    response_model=LeadOut,
    summary="Set status, category, snooze or assignee (idempotent)",
    responses={**COMMON, 403: error_doc("csrf_failed")},
)
async def patch_lead(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, body: LeadPatch
) -> LeadOut:
    return LeadOut.model_validate(
        await leads_service.patch_lead(
            session, access.workspace_id, lead_id, body, actor_user_id=access.user_id
        )
    )


@router.get(
    "/leads/{lead_id}/messages",
    response_model=MessagePage,
    summary="Conversation across all channels; newest page first, oldest→newest within it",
    responses=BUDGETED,
)
async def list_messages(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, paged: PagingDep
) -> MessagePage:
    page = await leads_service.list_messages(
        session, access.workspace_id, lead_id, paged.cursor, paged.limit, paged.timeout_ms
    )
    return MessagePage.model_validate(page, from_attributes=True)


@router.get(
    "/webhook-events",
    response_model=WebhookEventPage,
    summary="The workspace's webhook events, newest first (admin or owner)",
    responses={**BUDGETED, 403: error_doc("forbidden (role)")},
)
async def list_webhook_events(
    access: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[
        str | None, Query(description="pending | running | succeeded | dead | ignored")
    ] = None,
    provider: Annotated[str | None, Query(description="emailbison | ghl | unipile")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WebhookEventPage:
    page = await events_service.list_events(
        session,
        access.workspace_id,
        status=status,
        provider=provider,
        after=cursor,
        limit=bounded_limit(limit, settings.inbox_page_size_max),
        timeout_ms=settings.inbox_statement_timeout_ms,
    )
    return WebhookEventPage.model_validate(page, from_attributes=True)


@router.get(
    "/webhook-events/{event_id}",
    response_model=WebhookEventDetail,
    summary="One webhook event with its payload and every attempt's error (dead letters); "
    "the payload is masked for members",
    responses=COMMON,
)
async def get_webhook_event(
    access: WorkspaceDep, session: SessionDep, event_id: EventId
) -> WebhookEventDetail:
    detail = await events_service.event_detail(
        session, access.workspace_id, event_id, reveal=access.is_admin
    )
    return WebhookEventDetail.model_validate(detail, from_attributes=True)


@router.post(
    "/webhook-events/{event_id}/replay",
    response_model=ReplayOut,
    summary="Put a finished event back to pending (admin or owner)",
    responses={**COMMON, 403: error_doc("forbidden (role) or csrf_failed")},
)
async def replay_webhook_event(
    access: AdminDep, session: SessionDep, event_id: EventId
) -> ReplayOut:
    event, replayed = await events_service.replay_event(session, access.workspace_id, event_id)
    return ReplayOut(event=WebhookEventOut.model_validate(event), replayed=replayed)
