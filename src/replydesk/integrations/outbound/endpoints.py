"""Replying from the inbox under /api/v1/workspaces/{workspace_id}/leads/{lead_id}/…: any member
of the workspace may reply (like notes); the request only queues the send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel

from replydesk.auth.deps import WorkspaceDep
from replydesk.core.api_params import LeadId
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.http import error_doc
from replydesk.integrations.outbound import service
from replydesk.integrations.outbound.schemas import IDEMPOTENCY_KEY_MAX_LENGTH, ReplyIn
from replydesk.leads.schemas import ChannelStateOut, MessageOut
from replydesk.leads.vocabulary import Channel

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["replies"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        description="Repeat the request with the same key: the same message, never a second send.",
    ),
]
COMMON: dict[int | str, dict[str, object]] = {
    401: error_doc("signed_out"),
    403: error_doc("csrf_failed"),
    404: error_doc("not_found: no such lead (also: another workspace's id)"),
    422: error_doc("validation_error"),
}


class ChannelsOut(BaseModel):
    channels: dict[Channel, ChannelStateOut]


@router.post(
    "/leads/{lead_id}/replies",
    response_model=MessageOut,
    status_code=202,
    summary="Reply to a lead by e-mail, SMS or LinkedIn (queued; sent by a job)",
    responses={
        **COMMON,
        409: error_doc(
            "integration_not_configured, integration_disconnected (the channel's provider is "
            "disconnected or its key failed), recipient_unreachable (the lead's channel is "
            "quarantined), idempotency_key_reused, unsubscribed (the lead asked to "
            "unsubscribe), already_answered (the lead's newest message was answered by an "
            "approved draft: at most one send per inbound message)"
        ),
        422: error_doc("validation_error, or the lead has no address on that channel"),
    },
)
async def post_reply(
    access: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    lead_id: LeadId,
    body: ReplyIn,
    idempotency_key: IdempotencyKey = None,
) -> MessageOut:
    shown, _created = await service.request_reply(
        session, settings, access.workspace_id, lead_id, body, idempotency_key
    )
    return MessageOut.model_validate(shown)


@router.delete(
    "/leads/{lead_id}/quarantine/{channel}",
    response_model=ChannelsOut,
    summary="Lift the quarantine of a lead's channel (idempotent); the channel states",
    responses=COMMON,
)
async def lift_quarantine(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, channel: Channel
) -> ChannelsOut:
    states = await service.lift_quarantine(
        session, access.workspace_id, lead_id, channel, access.user_id
    )
    return ChannelsOut.model_validate({"channels": states})
