"""Queue handlers of the leads domain: the jobs enqueued when a message is stored.

``followup.start`` is a **recorded no-op** for now: the follow-up engine is a later issue.
Its jobs are enqueued (deduplicated per message), claimed and marked succeeded with an info
log saying nothing was done, so the queue already carries them and the later handler only
replaces ``_not_built_yet``. ``inbound.postprocess`` is handled by ``automation.jobs``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.logging import get_logger
from replydesk.leads.vocabulary import JobType
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)

_NOT_BUILT = {
    JobType.FOLLOWUP_START: "follow-ups are not built yet: job recorded as done, nothing scheduled",
}


async def _not_built_yet(session: AsyncSession, item: ClaimedItem) -> str | None:
    log.info(
        "job_not_built_yet",
        job_type=item.kind,
        job_id=item.id,
        workspace_id=str(item.workspace_id) if item.workspace_id else None,
        note=_NOT_BUILT[JobType(item.kind)],
    )
    return None


def register(registry: Registry) -> None:
    for job_type in _NOT_BUILT:
        registry.add(JOBS.name, job_type.value, _not_built_yet)
