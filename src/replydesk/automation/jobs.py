"""Queue handlers of the automation domain: ``inbound.postprocess`` (one job per stored
inbound message, deduplicated by ``leads.service.postprocess_inbound``), ``inbound.categorise``
(the AI's categorisation, when the workspace has an AI), ``lead.score`` (one per inbound
message), ``draft.generate``
(one per drafted inbound message) and ``draft.auto_send`` (one per auto-sendable draft, run
after the workspace's delay)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import service
from replydesk.automation.categorise_job import CategoriseJob
from replydesk.automation.draft_jobs import AutoSendJob, DraftJob
from replydesk.automation.scoring import ScoreJob
from replydesk.automation.vocabulary import JobType as DraftJobType
from replydesk.core.db import Database
from replydesk.core.errors import InvalidInput
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.ai import config as ai_config
from replydesk.leads.vocabulary import CategorySource, JobType
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)


def _order_key(item: ClaimedItem) -> str:
    """Jobs of one group lock their leads in one order."""
    lead_id = item.payload.get("lead_id")
    return f"{lead_id:020}" if isinstance(lead_id, int) else ""


class PostprocessJob:
    """Rules in the job's transaction; with an AI target, defer to ``inbound.categorise``
    (whose ``prepare`` makes the call): this job stays grouped, without a ``prepare``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        message_id = item.payload.get("message_id")
        if item.workspace_id is None or not isinstance(message_id, int):
            raise InvalidInput("inbound.postprocess needs a workspace and an integer message_id")
        ws = item.workspace_id
        message = await service.inbound_message(session, ws, message_id)
        if message is None:
            return "message not found or not inbound"
        if await ai_config.configured(session, self.settings, ws):
            queued = await service.defer_to_ai(session, ws, message)
            log.info(
                "inbound_categorise_deferred",
                job_id=item.id,
                lead_id=message.lead_id,
                message_id=message_id,
                queued=queued,
            )
            return None
        done = await service.apply_category(
            session, ws, message, service.rules_result(message), CategorySource.RULES
        )
        # Ids, category and confidence only: never the text.
        log.info(
            "inbound_categorised",
            job_id=item.id,
            lead_id=done.lead_id,
            message_id=message_id,
            result=done.result.category.value,
            source=done.source.value,
            confidence=done.result.confidence,
            out_of_office_until=(
                done.result.out_of_office_until.isoformat()
                if done.result.out_of_office_until
                else None
            ),
            lead_changed=done.category_changed,
            draft_queued=done.draft_queued,
            superseded_drafts=len(done.superseded_drafts),
            followups_stopped=len(done.followups_stopped),
            followups_held=len(done.followups_held),
        )
        return None


def register(registry: Registry, settings: Settings, db: Database | None = None) -> None:
    """Without a database (a registry built for tests of other handlers) there are no draft
    handlers: such jobs wait for a worker that has one."""
    registry.add(
        JOBS.name,
        JobType.INBOUND_POSTPROCESS.value,
        PostprocessJob(settings).apply,
        order_key=_order_key,
    )
    if db is None:
        return
    # The AI jobs: each calls out in its prepare step (outside any transaction).
    ai_jobs: tuple[tuple[DraftJobType, CategoriseJob | ScoreJob | DraftJob], ...] = (
        (DraftJobType.INBOUND_CATEGORISE, CategoriseJob(db, settings)),
        (DraftJobType.LEAD_SCORE, ScoreJob(db, settings)),
        (DraftJobType.DRAFT_GENERATE, DraftJob(db, settings)),
    )
    for job_type, job in ai_jobs:
        registry.add(
            JOBS.name, job_type.value, job.apply, prepare=job.prepare, order_key=_order_key
        )
    registry.add(JOBS.name, DraftJobType.DRAFT_AUTO_SEND.value, AutoSendJob(settings).apply)
