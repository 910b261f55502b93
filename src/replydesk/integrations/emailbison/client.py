"""EmailBison REST client (``Authorization: Bearer``; ``{"data"}`` envelopes, integer ids).

``base_url`` is the workspace's instance, e.g. ``https://send.meetinboxxia.com``; paths are
``/api/...``. Reads are retried (see ``provider_client``); ``reply_in_thread`` and
``send_new_email`` are sends: never repeated once they may have left. After a send fails with
``unknown_delivery``, ``find_sent_in_thread`` tells whether it was delivered after all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from replydesk.core.errors import ProviderCategory, ProviderFailure
from replydesk.integrations.provider_client import (
    Answer,
    Call,
    ProviderClient,
    Refusal,
    json_body,
)

AUTH_REMEDY = (
    "the key does not exist for this host — check the workspace's EmailBison host and use an "
    "api-user key"
)
REFUSALS = {
    401: Refusal(ProviderCategory.AUTH, "not authenticated", AUTH_REMEDY),
    403: Refusal(
        ProviderCategory.AUTH,
        "forbidden",
        "the key has no access to this workspace — use an api-user key of this workspace",
    ),
    404: Refusal(
        ProviderCategory.ERROR, "not found", "the reply or lead id does not exist on this host"
    ),
}
BAD_RECIPIENT = Refusal(
    ProviderCategory.INVALID_RECIPIENT,
    "recipient refused",
    "fix the lead's e-mail address; not retried",
)
INVALID = Refusal(
    ProviderCategory.ERROR, "validation failed", "fix the request fields; not retried"
)
# Bounded reconciliation: at most this many pages per ``list_replies_since`` call.
MAX_PAGES = 10


@dataclass(frozen=True)
class RepliesSince:
    """Replies newer than a cursor, oldest first. ``cursor`` is the newest id seen (pass it
    next time); ``complete`` is False when ``max_pages`` ran out before reaching the cursor."""

    replies: list[dict[str, Any]]
    cursor: int | None
    complete: bool


@dataclass(frozen=True)
class Thread:
    current: dict[str, Any]
    older: list[dict[str, Any]]
    newer: list[dict[str, Any]]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [*self.older, self.current, *self.newer]


@dataclass(frozen=True)
class SentEmail:
    """What a send returned: the new reply's id (None when the answer did not carry one)."""

    reply_id: int | None
    raw: Mapping[str, Any]


def _recipients(to: Sequence[str]) -> list[dict[str, str]]:
    return [{"name": "", "email_address": address} for address in to]


class EmailBisonClient(ProviderClient):
    provider: ClassVar[str] = "emailbison"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def failure_for(self, answer: Answer) -> ProviderFailure:
        said = self.quoted(answer, "message")
        refusal = REFUSALS.get(answer.status)
        if answer.status == 422:
            errors = answer.body.get("errors") if isinstance(answer.body, Mapping) else None
            fields = sorted(errors) if isinstance(errors, Mapping) else []
            bad_address = any(f.startswith(("to_emails", "email")) for f in fields)
            refusal = BAD_RECIPIENT if bad_address else INVALID
        if refusal is not None:
            return self.refused(answer, refusal, said)
        return self.generic_failure(answer, said)

    async def _data(self, call: Call) -> Any:
        body = json_body(self, call, await self.send(call))
        return body.get("data") if isinstance(body, Mapping) else None

    # --- reads ------------------------------------------------------------------------------

    async def list_replies_page(self, page: int = 1) -> tuple[list[dict[str, Any]], bool]:
        """One page of ``GET /api/replies`` (newest first) and whether a next page exists."""
        call = Call("GET", "/api/replies", "GET /api/replies", True, params={"page": page})
        body = json_body(self, call, await self.send(call))
        data = body.get("data") if isinstance(body, Mapping) else None
        items = [r for r in data if isinstance(r, Mapping)] if isinstance(data, list) else []
        links = body.get("links") if isinstance(body, Mapping) else None
        meta = body.get("meta") if isinstance(body, Mapping) else None
        more = bool(links.get("next")) if isinstance(links, Mapping) else False
        if not more and isinstance(meta, Mapping):
            more = int(meta.get("current_page") or 0) < int(meta.get("last_page") or 0)
        return [dict(r) for r in items], more

    async def list_replies_since(
        self, cursor: int | None, *, max_pages: int = MAX_PAGES
    ) -> RepliesSince:
        """Replies with an id above ``cursor``, paging newest-first until the cursor is
        reached, the pages end or ``max_pages`` run out (then ``complete`` is False: replies
        between the old cursor and the oldest returned one were not reached). Without a cursor
        (a first run) only the first page is read: no backfill of history."""
        found: dict[int, dict[str, Any]] = {}
        complete = False
        for page in range(1, max_pages + 1):
            items, more = await self.list_replies_page(page)
            with_ids = [r for r in items if isinstance(r.get("id"), int)]
            newer = [r for r in with_ids if cursor is None or r["id"] > cursor]
            found.update((r["id"], r) for r in newer)
            if cursor is None or len(newer) < len(with_ids) or not more:
                complete = True
                break
        replies = [found[i] for i in sorted(found)]
        return RepliesSince(replies, max(found, default=cursor), complete)

    async def reply(self, reply_id: int) -> dict[str, Any]:
        call = Call("GET", f"/api/replies/{reply_id}", "GET /api/replies/{id}", True)
        data = await self._data(call)
        return dict(data) if isinstance(data, Mapping) else {}

    async def reply_thread(self, reply_id: int) -> Thread:
        call = Call(
            "GET",
            f"/api/replies/{reply_id}/conversation-thread",
            "GET /api/replies/{id}/conversation-thread",
            True,
        )
        data = await self._data(call)
        data = data if isinstance(data, Mapping) else {}

        def items(name: str) -> list[dict[str, Any]]:
            value = data.get(name)
            return (
                [dict(m) for m in value if isinstance(m, Mapping)]
                if isinstance(value, list)
                else []
            )

        current = data.get("current_reply")
        return Thread(
            dict(current) if isinstance(current, Mapping) else {},
            items("older_messages"),
            items("newer_messages"),
        )

    async def sent_emails(self, lead_id: int) -> list[dict[str, Any]]:
        call = Call(
            "GET", f"/api/leads/{lead_id}/sent-emails", "GET /api/leads/{id}/sent-emails", True
        )
        data = await self._data(call)
        return [dict(e) for e in data if isinstance(e, Mapping)] if isinstance(data, list) else []

    async def sender_emails(self) -> list[dict[str, Any]]:
        """``GET /api/sender-emails`` (first page): the workspace's sender mailboxes; a new
        e-mail to a lead with no reply to answer is sent from the first one."""
        call = Call("GET", "/api/sender-emails", "GET /api/sender-emails", True)
        data = await self._data(call)
        return [dict(e) for e in data if isinstance(e, Mapping)] if isinstance(data, list) else []

    async def lead_replies(self, lead_id: int) -> list[dict[str, Any]]:
        """The lead's replies, both directions (``GET /api/leads/{id}/replies``): the per-lead
        sync reads them."""
        call = Call("GET", f"/api/leads/{lead_id}/replies", "GET /api/leads/{id}/replies", True)
        data = await self._data(call)
        return [dict(r) for r in data if isinstance(r, Mapping)] if isinstance(data, list) else []

    async def find_sent_in_thread(self, reply_id: int, message: str) -> int | None:
        """After an ambiguous ``reply_in_thread``: the id of an outgoing message in the thread
        with this text, or None (then the caller marks the message failed, delivery unknown)."""
        thread = await self.reply_thread(reply_id)
        wanted = message.strip()
        for item in thread.newer:
            body = str(item.get("text_body") or "").strip()
            if body == wanted and isinstance(item.get("id"), int):
                return int(item["id"])
        return None

    # --- sends ------------------------------------------------------------------------------

    async def reply_in_thread(
        self,
        reply_id: int,
        message: str,
        *,
        sender_email_id: int,
        to: Sequence[str],
        bcc: Sequence[str] = (),
    ) -> SentEmail:
        """``POST /api/replies/{id}/reply``. Take ``to`` from the reply's
        ``from_email_address`` (leads often answer from another address); the provider ignores
        a subject and cc here."""
        body: dict[str, Any] = {
            "message": message,
            "sender_email_id": sender_email_id,
            "to_emails": _recipients(to),
        }
        if bcc:
            body["bcc_emails"] = _recipients(bcc)
        call = Call(
            "POST",
            f"/api/replies/{reply_id}/reply",
            "POST /api/replies/{id}/reply",
            False,
            json=body,
        )
        return _sent(await self._data(call))

    async def send_new_email(
        self, *, subject: str, message: str, sender_email_id: int, to: Sequence[str]
    ) -> SentEmail:
        """``POST /api/replies/new``: a one-off e-mail with its own subject."""
        body = {
            "subject": subject,
            "message": message,
            "sender_email_id": sender_email_id,
            "to_emails": _recipients(to),
        }
        call = Call("POST", "/api/replies/new", "POST /api/replies/new", False, json=body)
        return _sent(await self._data(call))


def _sent(data: Any) -> SentEmail:
    """Tolerant of the answer's shape: ``data`` is the reply, or wraps it in ``reply``."""
    if not isinstance(data, Mapping):
        return SentEmail(None, {})
    inner = data.get("reply")
    source = inner if isinstance(inner, Mapping) else data
    reply_id = source.get("id")
    return SentEmail(reply_id if isinstance(reply_id, int) else None, dict(source))
