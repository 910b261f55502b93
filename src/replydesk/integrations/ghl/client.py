"""GHL / LeadConnector v2 client (``Authorization: Bearer``, ``Version: 2021-07-28``).

``base_url`` defaults to ``https://services.leadconnectorhq.com``. Every failure carries GHL's
``traceId`` when the answer had one. The contact upsert is idempotent (it matches on e-mail or
phone) and retried; ``send_sms`` is a send. A lead without a phone has no SMS work: the SMS
operations return ``SmsSkipped`` and log ``expected_skip`` at debug, never a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from replydesk.core.errors import ProviderCategory, ProviderFailure
from replydesk.core.logging import get_logger
from replydesk.integrations.provider_client import (
    Answer,
    Call,
    ProviderClient,
    Refusal,
    json_body,
    retry_after_s,
)

log = get_logger(__name__)

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
API_VERSION = "2021-07-28"
REFUSALS = {
    401: Refusal(
        ProviderCategory.AUTH,
        "not authenticated",
        "the token is invalid or expired — create a new Private Integration Token for this "
        "location",
    ),
    403: Refusal(
        ProviderCategory.AUTH,
        "forbidden",
        "the token has no access to this location or lacks a scope (contacts.write, conversations)",
    ),
}
BAD_PHONE = Refusal(
    ProviderCategory.INVALID_RECIPIENT,
    "refused",
    "the contact's phone number cannot receive SMS; not retried",
)


@dataclass(frozen=True)
class UpsertedContact:
    contact_id: str
    new: bool | None  # None when the answer did not say
    trace_id: str | None
    contact: Mapping[str, Any]


@dataclass(frozen=True)
class SmsSent:
    message_id: str | None
    conversation_id: str | None
    trace_id: str | None


@dataclass(frozen=True)
class SmsSkipped:
    """Nothing to do: the lead has no phone number (an expected state, not an error)."""

    reason: str = "no_phone"


@dataclass(frozen=True)
class SmsHistory:
    conversation_id: str | None
    messages: list[dict[str, Any]]
    last_message_id: str | None
    next_page: bool


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def normalise_upsert(body: Any) -> tuple[str | None, bool | None, str | None, Mapping[str, Any]]:
    """``(contact_id, new, trace_id, contact)`` from the documented ``{new, contact, traceId}``
    and the variants seen in the wild: the contact at the top level, ``contactId`` instead of
    a contact, ``id`` under ``contact`` or ``_id``, ``new`` as a string or missing."""
    if not isinstance(body, Mapping):
        return None, None, None, {}
    contact = body.get("contact")
    contact = contact if isinstance(contact, Mapping) else body
    contact_id = _str(contact.get("id")) or _str(contact.get("_id")) or _str(body.get("contactId"))
    new = body.get("new")
    if isinstance(new, str):
        new = {"true": True, "false": False}.get(new.lower())
    trace_id = _str(body.get("traceId")) or _str(body.get("traceid"))
    return contact_id, new if isinstance(new, bool) else None, trace_id, dict(contact)


def skip_without_phone(phone: str | None, operation: str) -> SmsSkipped | None:
    """``SmsSkipped`` (logged at debug as ``expected_skip``) when there is no phone."""
    if phone and phone.strip():
        return None
    log.debug("sms_skipped", reason="expected_skip", detail="no_phone", operation=operation)
    return SmsSkipped()


class GhlClient(ProviderClient):
    provider: ClassVar[str] = "ghl"

    def __init__(self, base_url: str | None, api_key: str, location_id: str, **kwargs: Any):
        super().__init__(base_url or DEFAULT_BASE_URL, api_key, **kwargs)
        self.location_id = location_id

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Version": API_VERSION}

    def failure_for(self, answer: Answer) -> ProviderFailure:
        status, call = answer.status, answer.call
        trace_id = answer.field("traceId")
        message = answer.body.get("message") if isinstance(answer.body, Mapping) else None
        said = self.scrub(
            "; ".join(map(str, message))
            if isinstance(message, list)
            else str(message or answer.text.strip() or "no body")
        )
        refusal = REFUSALS.get(status)
        if status in (400, 422) and "phone" in said.lower():
            refusal = BAD_PHONE
        if refusal is not None:
            return self.refused(answer, refusal, said, trace_id=trace_id)
        if status == 429:
            # GHL may send no Retry-After; its interval header says when the burst window resets.
            wait = retry_after_s(answer.headers)
            interval = answer.headers.get("x-ratelimit-interval-milliseconds", "")
            if wait is None and interval.isdigit():
                wait = max(1, int(interval) // 1000)
            return self.failure(
                call,
                ProviderCategory.RATE_LIMITED,
                f"rate limited ({said})",
                "wait for the rate-limit window before calling again",
                status=status,
                retryable=True,
                retry_after_s=wait,
                trace_id=trace_id,
            )
        return self.generic_failure(answer, said, trace_id=trace_id)

    async def _json(self, call: Call) -> Mapping[str, Any]:
        body = json_body(self, call, await self.send(call))
        return body if isinstance(body, Mapping) else {}

    async def upsert_contact(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        company_name: str | None = None,
        source: str = "replydesk",
    ) -> UpsertedContact:
        """``POST /contacts/upsert``; idempotent (matched on e-mail/phone), so retried."""
        body = {
            "locationId": self.location_id,
            "email": email,
            "phone": phone,
            "firstName": first_name,
            "lastName": last_name,
            "companyName": company_name,
            "source": source,
        }
        call = Call(
            "POST",
            "/contacts/upsert",
            "POST /contacts/upsert",
            True,
            json={k: v for k, v in body.items() if v is not None},
        )
        contact_id, new, trace_id, contact = normalise_upsert(await self._json(call))
        if contact_id is None:
            raise self.failure(
                call,
                ProviderCategory.ERROR,
                "answered without a contact id",
                "report it with the traceId; the contact was not confirmed",
                status=200,
                retryable=True,
                trace_id=trace_id,
            )
        return UpsertedContact(contact_id, new, trace_id, contact)

    async def send_sms(
        self, contact_id: str, message: str, *, phone: str | None
    ) -> SmsSent | SmsSkipped:
        """``POST /conversations/messages`` type SMS. ``phone`` is the lead's number: without
        one nothing is sent (``SmsSkipped``)."""
        skipped = skip_without_phone(phone, "send_sms")
        if skipped is not None:
            return skipped
        call = Call(
            "POST",
            "/conversations/messages",
            "POST /conversations/messages",
            False,
            json={"type": "SMS", "contactId": contact_id, "message": message},
        )
        body = await self._json(call)
        return SmsSent(
            _str(body.get("messageId")), _str(body.get("conversationId")), _str(body.get("traceId"))
        )

    async def conversation_id(self, contact_id: str) -> str | None:
        """``GET /conversations/search`` for the contact's conversation."""
        call = Call(
            "GET",
            "/conversations/search",
            "GET /conversations/search",
            True,
            params={"locationId": self.location_id, "contactId": contact_id},
        )
        found = (await self._json(call)).get("conversations")
        if isinstance(found, list) and found and isinstance(found[0], Mapping):
            return _str(found[0].get("id"))
        return None

    async def conversation_history(
        self,
        contact_id: str,
        *,
        phone: str | None,
        limit: int = 50,
        last_message_id: str | None = None,
    ) -> SmsHistory | SmsSkipped:
        """A page of the contact's messages (``GET /conversations/{id}/messages``, the array
        nested in ``messages.messages``); skipped without a phone."""
        skipped = skip_without_phone(phone, "conversation_history")
        if skipped is not None:
            return skipped
        conversation_id = await self.conversation_id(contact_id)
        if conversation_id is None:
            return SmsHistory(None, [], None, False)
        params: dict[str, Any] = {"limit": limit}
        if last_message_id:
            params["lastMessageId"] = last_message_id
        return await self._messages(conversation_id, params)

    async def _messages(self, conversation_id: str, params: Mapping[str, Any]) -> SmsHistory:
        call = Call(
            "GET",
            f"/conversations/{conversation_id}/messages",
            "GET /conversations/{id}/messages",
            True,
            params=params,
        )
        outer = (await self._json(call)).get("messages")
        outer = outer if isinstance(outer, Mapping) else {"messages": outer}
        items = outer.get("messages")
        messages = (
            [dict(m) for m in items if isinstance(m, Mapping)] if isinstance(items, list) else []
        )
        return SmsHistory(
            conversation_id, messages, _str(outer.get("lastMessageId")), bool(outer.get("nextPage"))
        )

    async def find_sent_sms(self, contact_id: str, message: str) -> str | None:
        """After an ambiguous ``send_sms``: the id of an outbound message with this text."""
        conversation_id = await self.conversation_id(contact_id)
        if conversation_id is None:
            return None
        history = await self._messages(conversation_id, {"limit": 100})
        for item in history.messages:
            if (
                item.get("direction") == "outbound"
                and str(item.get("body") or "").strip() == message.strip()
            ):
                return _str(item.get("id"))
        return None
