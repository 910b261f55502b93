"""Unipile v1 client for LinkedIn (``X-API-KEY``; problem-JSON errors branched on ``type``).

``base_url`` is the DSN as a URL (``https://api8.unipile.com:13851``); the client appends
``/api/v1/...``. Sends (``send_in_chat``, ``start_chat``) are never repeated once they may have
left; after a 504 or a timeout (``unknown_delivery``) ``find_sent_message`` checks the chat
first, as the docs advise. A 429 is not waited out in the call: LinkedIn's limits mean "stop for
a long time". ``chat_history`` (the per-lead sync) pages a chat newest first by ``cursor``,
within a page bound; like every read it is retried under the read policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from replydesk.core.errors import ProviderCategory, ProviderFailure
from replydesk.integrations.provider_client import (
    Answer,
    Call,
    ProviderClient,
    Refusal,
    json_body,
    retry_after_s,
)

# 401 types that mean our API key is wrong (the others: the LinkedIn account must reconnect).
KEY_TYPES = frozenset({"missing_credentials"})
RECIPIENT_TYPES = frozenset(
    {"invalid_recipient", "user_unreachable", "no_connection_with_recipient", "blocked_recipient"}
)
# LinkedIn's own limits: pause until tomorrow.
DAILY_LIMIT_TYPES = frozenset({"limit_exceeded", "cannot_resend_yet", "cannot_resend_within_24hrs"})
# A chat's history (per-lead sync): messages per page (pages per chat: the caller's bound,
# REPLYDESK_LEAD_SYNC_CHAT_PAGES).
HISTORY_PAGE = 50
RECONNECT = "reconnect the LinkedIn account in Unipile; sends stay paused until a check succeeds"
_BAD_KEY = Refusal(
    ProviderCategory.AUTH,
    "bad API key",
    "the API key is wrong or revoked — set the workspace's Unipile API key again",
)
_DISCONNECTED = Refusal(ProviderCategory.DISCONNECTED, "account disconnected", RECONNECT)
_RESTRICTED = Refusal(
    ProviderCategory.DISCONNECTED,
    "account restricted",
    "LinkedIn restricted the account; " + RECONNECT,
)
_FORBIDDEN = Refusal(
    ProviderCategory.AUTH, "forbidden", "the key or account lacks this feature or permission"
)
_NOT_FOUND = Refusal(
    ProviderCategory.ERROR, "not found", "the account, chat or user id does not exist"
)
_RECIPIENT = Refusal(
    ProviderCategory.INVALID_RECIPIENT,
    "recipient unreachable",
    "this lead cannot be messaged on LinkedIn; not retried",
)
_UNPROCESSABLE = Refusal(
    ProviderCategory.ERROR, "refused", "the request was refused as sent; not retried"
)


def refusal_for(status: int, kind: str) -> Refusal | None:
    """The permanent reading of a 401/403/404/422 by its error type."""
    if status == 401:
        return _BAD_KEY if kind in KEY_TYPES else _DISCONNECTED
    if status == 403:
        return _RESTRICTED if kind == "account_restricted" else _FORBIDDEN
    if status == 404:
        return _NOT_FOUND
    if status == 422:
        return _RECIPIENT if kind in RECIPIENT_TYPES else _UNPROCESSABLE
    return None


@dataclass(frozen=True)
class AccountStatus:
    """``ok`` when every source of the account reports ``OK``."""

    account_id: str
    ok: bool
    statuses: list[str]
    provider_id: str | None  # the account's own LinkedIn id (to recognise our own messages)
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class SentMessage:
    message_id: str | None
    chat_id: str | None


@dataclass(frozen=True)
class ChatHistory:
    messages: list[dict[str, Any]]  # newest first
    complete: bool  # False: the page bound ran out before the chat's oldest message


@dataclass(frozen=True)
class InMail:
    """Send through LinkedIn InMail (``linkedin[inmail]=true``) with the given API flavour."""

    api: str = "classic"  # classic | recruiter | sales_navigator
    subject: str | None = None


def seconds_until_tomorrow(now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60, int((tomorrow - now).total_seconds()))


def is_sender(message: Mapping[str, Any]) -> bool:
    """A message object the connected account itself sent (``is_sender``)."""
    return message.get("is_sender") in (1, True, "1", "true")


def error_type(answer: Answer) -> str:
    """``errors/x`` → ``x``; reads ``type`` and, defensively, ``error``."""
    raw = answer.field("type", "error") or ""
    return raw.removeprefix("errors/")


class UnipileClient(ProviderClient):
    provider: ClassVar[str] = "unipile"
    hot_retry_rate_limits: ClassVar[bool] = False

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-KEY": self._api_key}

    def failure_for(self, answer: Answer) -> ProviderFailure:
        status, call = answer.status, answer.call
        kind = error_type(answer)
        said = self.quoted(answer, "detail", "title")
        what = f"{kind or 'error'}: {said}"
        details: dict[str, Any] = {"status": status, "provider_code": kind or None}
        if status == 422 and kind in DAILY_LIMIT_TYPES:
            return self.failure(
                call,
                ProviderCategory.RATE_LIMITED,
                what,
                "LinkedIn limit reached; sends wait until tomorrow",
                retryable=True,
                retry_after_s=seconds_until_tomorrow(),
                **details,
            )
        refusal = refusal_for(status, kind)
        if refusal is not None:
            return self.refused(answer, refusal, f"{kind}: {said}", provider_code=kind or None)
        if status == 429:
            return self.failure(
                call,
                ProviderCategory.RATE_LIMITED,
                what,
                "LinkedIn accepts no more requests now; back off for long",
                retryable=True,
                retry_after_s=retry_after_s(answer.headers) or 3600,
                **details,
            )
        if status == 504:
            return self.failure(
                call,
                ProviderCategory.TIMEOUT,
                what,
                "retried with backoff"
                if call.idempotent
                else "the message may have been delivered: check the chat before sending again",
                retryable=True,
                unknown_delivery=not call.idempotent,
                **details,
            )
        return self.generic_failure(answer, what, provider_code=kind or None)

    async def _json(self, call: Call) -> Mapping[str, Any]:
        body = json_body(self, call, await self.send(call))
        return body if isinstance(body, Mapping) else {}

    async def account_status(self, account_id: str) -> AccountStatus:
        """``GET /api/v1/accounts/{id}``: use before sending to detect a disconnected login. A
        disconnected account usually answers 401 ``disconnected_account`` (raised); a 200 with a
        source not ``OK`` (e.g. ``CREDENTIALS``) is returned with ``ok`` False."""
        call = Call("GET", f"/api/v1/accounts/{account_id}", "GET /api/v1/accounts/{id}", True)
        body = await self._json(call)
        sources = body.get("sources")
        statuses = (
            [str(s.get("status")) for s in sources if isinstance(s, Mapping) and s.get("status")]
            if isinstance(sources, list)
            else []
        )
        params = body.get("connection_params")
        im = params.get("im") if isinstance(params, Mapping) else None
        provider_id = im.get("id") if isinstance(im, Mapping) else None
        return AccountStatus(
            account_id,
            all(s == "OK" for s in statuses),
            statuses,
            str(provider_id) if provider_id else None,
            dict(body),
        )

    async def chat_messages_page(
        self, chat_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``GET /api/v1/chats/{id}/messages`` (newest first) and the cursor of
        the next, older one (None: no more). A read: retried under the read policy."""
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        call = Call(
            "GET",
            f"/api/v1/chats/{chat_id}/messages",
            "GET /api/v1/chats/{id}/messages",
            True,
            params=params,
        )
        body = await self._json(call)
        items = body.get("items")
        found = (
            [dict(m) for m in items if isinstance(m, Mapping)] if isinstance(items, list) else []
        )
        return found, _str(body.get("cursor"))

    async def chat_messages(self, chat_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The newest page of the chat's messages."""
        return (await self.chat_messages_page(chat_id, limit=limit))[0]

    async def chat_history(
        self, chat_id: str, *, max_pages: int, limit: int = HISTORY_PAGE
    ) -> ChatHistory:
        """The chat's messages, newest first, following the cursor for at most ``max_pages``
        pages (``complete`` False when the bound ran out before the oldest message)."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page, after = await self.chat_messages_page(chat_id, limit=limit, cursor=cursor)
            messages += page
            if after is None or after == cursor or not page:
                return ChatHistory(messages, True)
            cursor = after
        return ChatHistory(messages, False)

    async def find_sent_message(self, chat_id: str, text: str) -> str | None:
        """After an ambiguous send: the id of a message we sent in the chat with this text,
        or None (then the caller marks the message failed, delivery unknown)."""
        for message in await self.chat_messages(chat_id):
            if is_sender(message) and str(message.get("text") or "").strip() == text.strip():
                return str(message.get("id")) if message.get("id") else None
        return None

    async def send_in_chat(self, chat_id: str, text: str) -> SentMessage:
        """``POST /api/v1/chats/{id}/messages``; prefer it whenever the chat id is known."""
        call = Call(
            "POST",
            f"/api/v1/chats/{chat_id}/messages",
            "POST /api/v1/chats/{id}/messages",
            False,
            data={"text": text},
        )
        body = await self._json(call)
        return SentMessage(_str(body.get("message_id") or body.get("id")), chat_id)

    async def start_chat(
        self, account_id: str, attendee_provider_id: str, text: str, *, inmail: InMail | None = None
    ) -> SentMessage:
        """``POST /api/v1/chats`` to one attendee (their provider id, ``ACoAA…``), optionally
        as an InMail."""
        form: dict[str, Any] = {
            "account_id": account_id,
            "attendees_ids": attendee_provider_id,
            "text": text,
        }
        if inmail is not None:
            form["linkedin[api]"] = inmail.api
            form["linkedin[inmail]"] = "true"
            if inmail.subject:
                form["subject"] = inmail.subject
        call = Call("POST", "/api/v1/chats", "POST /api/v1/chats", False, data=form)
        body = await self._json(call)
        return SentMessage(_str(body.get("message_id")), _str(body.get("chat_id")))


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
