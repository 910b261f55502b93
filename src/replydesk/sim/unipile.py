"""Simulated Unipile v1 (``/unipile/api/v1/...``): account status, chats and messages.
Requires ``X-API-KEY``; errors are problem JSON with ``type: errors/...``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from replydesk.sim.base import Route, SimRequest, ok
from replydesk.sim.bodies import error_response

ACCOUNT_ID = "acc_LnK4e"
OWN_PROVIDER_ID = "ACoAAOwnerX"


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
        self.messages: dict[str, list[dict[str, Any]]] = {
            "chat_Qw81": [
                self._message(
                    "chat_Qw81",
                    "Thanks for reaching out, happy to chat next week.",
                    mine=False,
                    message_id="umsg_7788",
                )
            ],
        }

    def _message(
        self, chat_id: str, text: str, *, mine: bool, message_id: str | None = None
    ) -> dict[str, Any]:
        chat = self.chats[chat_id]
        return {
            "object": "Message",
            "id": message_id or f"umsg_sim{next(self._ids)}",
            "chat_id": chat_id,
            "account_id": chat["account_id"],
            "text": text,
            "timestamp": _now(),
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
        items = list(reversed(self.messages[chat_id]))  # newest first
        return ok({"object": "MessageList", "items": items, "cursor": None})

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
        chat_id = f"chat_sim{next(self._ids)}"
        self.chats[chat_id] = {
            "id": chat_id,
            "account_id": account_id,
            "attendee_provider_id": str(attendees[0]),
        }
        message = self._message(chat_id, str(text), mine=True)
        self.messages[chat_id] = [message]
        return ok({"object": "ChatStarted", "chat_id": chat_id, "message_id": message["id"]}, 201)
