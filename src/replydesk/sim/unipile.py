"""Simulated Unipile v1 (``/unipile/api/v1/...``): account status, chats and messages.
Requires ``X-API-KEY``; errors are problem JSON with ``type: errors/...``.

The seeded chat ``chat_Qw81`` is the one the sample ``message_received`` webhook comes from
(``umsg_7788`` from Dana, ``ACoAAB1x2y3``), after an opening message the account sent; its
history is what a lead sync of that lead pulls. Starting a chat with an attendee the account
already has a chat with sends in that chat (one LinkedIn conversation per pair)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from replydesk.sim.base import Route, SimRequest, ok
from replydesk.sim.bodies import error_response

ACCOUNT_ID = "acc_LnK4e"
OWN_PROVIDER_ID = "ACoAAOwnerX"
# Messages per page of a chat's history: Unipile's default and bound (cursor pagination).
PAGE_DEFAULT, PAGE_MAX = 100, 250


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UnipileSim:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.accounts: dict[str, dict[str, Any]] = {
            ACCOUNT_ID: {
                "object": "Account",
                "id": ACCOUNT_ID,
                "type": "LINKEDIN",
                "name": "Sam Acme",
                "created_at": "2026-01-01T00:00:00.000Z",
                "connection_params": {"im": {"id": OWN_PROVIDER_ID, "username": "Sam Acme"}},
                "sources": [{"id": f"{ACCOUNT_ID}_MESSAGING", "status": "OK"}],
            }
        }
        self.chats: dict[str, dict[str, Any]] = {
            "chat_Qw81": {
                "id": "chat_Qw81",
                "account_id": ACCOUNT_ID,
                "attendee_provider_id": "ACoAAB1x2y3",
            },
        }
        self.messages: dict[str, list[dict[str, Any]]] = {  # oldest first
            "chat_Qw81": [
                self._message(
                    "chat_Qw81",
                    "Hi Dana, would a short call about Northwind's outbound make sense?",
                    mine=True,
                    message_id="umsg_7701",
                    at="2026-01-22T09:12:00.000Z",
                ),
                self._message(
                    "chat_Qw81",
                    "Thanks for reaching out, happy to chat next week.",
                    mine=False,
                    message_id="umsg_7788",
                    at="2026-01-23T18:25:00.000Z",
                ),
            ],
        }

    def _message(
        self,
        chat_id: str,
        text: str,
        *,
        mine: bool,
        message_id: str | None = None,
        at: str | None = None,
    ) -> dict[str, Any]:
        chat = self.chats[chat_id]
        return {
            "object": "Message",
            "id": message_id or f"umsg_sim{next(self._ids)}",
            "chat_id": chat_id,
            "account_id": chat["account_id"],
            "text": text,
            "timestamp": at or _now(),
            "is_sender": 1 if mine else 0,
            "sender_id": OWN_PROVIDER_ID if mine else chat["attendee_provider_id"],
        }

    def routes(self) -> list[Route]:
        return [
            Route("unipile", "GET", "/api/v1/accounts/{id}", "accounts.get", self.account),
            Route("unipile", "POST", "/api/v1/chats", "chats.start", self.start_chat),
            Route(
                "unipile",
                "GET",
                "/api/v1/chats/{id}/messages",
                "chats.messages",
                self.chat_messages,
            ),
            Route("unipile", "POST", "/api/v1/chats/{id}/messages", "chats.send", self.send),
        ]

    async def account(self, req: SimRequest) -> Response:
        account = self.accounts.get(req.params["id"])
        return ok(account) if account else error_response("unipile", 404)

    async def chat_messages(self, req: SimRequest) -> Response:
        chat_id = req.params["id"]
        if chat_id not in self.chats:
            return error_response("unipile", 404)
        try:
            limit = min(max(int(req.query_arg("limit") or PAGE_DEFAULT), 1), PAGE_MAX)
            offset = int(req.query_arg("cursor") or 0)
        except ValueError:
            return error_response("unipile", 400, message="limit and cursor must be integers")
        newest_first = list(reversed(self.messages[chat_id]))
        items = newest_first[offset : offset + limit]
        more = offset + limit < len(newest_first)
        cursor = str(offset + limit) if more else None
        return ok({"object": "MessageList", "items": items, "cursor": cursor})

    async def send(self, req: SimRequest) -> Response:
        chat_id = req.params["id"]
        if chat_id not in self.chats:
            return error_response("unipile", 404)
        text = req.arg("text")
        if not isinstance(text, str) or not text:
            return error_response("unipile", 400, message="text is required")
        message = self._message(chat_id, text, mine=True)
        self.messages[chat_id].append(message)
        return ok({"object": "MessageSent", "message_id": message["id"]}, 201)

    async def start_chat(self, req: SimRequest) -> Response:
        account_id = req.arg("account_id")
        attendees = req.args("attendees_ids")
        text = req.arg("text")
        if account_id not in self.accounts:
            return error_response(
                "unipile", 401, error_type="wrong_account", message="The account does not exist."
            )
        if not attendees or not text:
            return error_response("unipile", 400, message="attendees_ids and text are required")
        inmail = str(req.arg("linkedin[inmail]") or "").lower() == "true"
        if inmail and str(req.arg("linkedin[api]") or "classic") == "classic":
            # Classic accounts have no InMail credits in the simulator.
            return error_response("unipile", 422, error_type="insufficient_credits")
        attendee = str(attendees[0])
        known = [
            c["id"]
            for c in self.chats.values()
            if c["account_id"] == account_id and c["attendee_provider_id"] == attendee
        ]
        if known:
            chat_id = known[0]
        else:
            chat_id = f"chat_sim{next(self._ids)}"
            self.chats[chat_id] = {
                "id": chat_id,
                "account_id": account_id,
                "attendee_provider_id": attendee,
            }
            self.messages[chat_id] = []
        message = self._message(chat_id, str(text), mine=True)
        self.messages[chat_id].append(message)
        return ok({"object": "ChatStarted", "chat_id": chat_id, "message_id": message["id"]}, 201)
