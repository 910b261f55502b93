"""Simulated GHL / LeadConnector (``/ghl/...``): contact upsert, SMS send, conversation search
and messages. Requires ``Authorization: Bearer`` and ``Version: 2021-07-28``; every answer
carries a ``traceId``."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from replydesk.sim.base import Route, SimRequest, ok
from replydesk.sim.bodies import error_response

LOCATION_ID = "loc_7Hq2kP"


def _trace() -> str:
    return str(uuid.uuid4())


class GhlSim:
    def __init__(self) -> None:
        self._ids = itertools.count(1000)
        self.contacts: dict[str, dict[str, Any]] = {
            "ct_91XbQe": {
                "id": "ct_91XbQe",
                "locationId": LOCATION_ID,
                "firstName": "Dana",
                "email": "dana.reyes@northwind.example",
                "phone": "+15125550143",
            },
        }
        self.conversations: dict[str, dict[str, Any]] = {
            "cv_33LmZa": {"id": "cv_33LmZa", "contactId": "ct_91XbQe", "locationId": LOCATION_ID}
        }
        self.messages: dict[str, list[dict[str, Any]]] = {
            "cv_33LmZa": [
                self._message(
                    "cv_33LmZa", "ct_91XbQe", "Yes, call me after 3pm", "inbound", "msg_5Tr8Yu"
                )
            ],
        }

    def _message(
        self, conversation_id: str, contact_id: str, body: str, direction: str, message_id: str
    ) -> dict[str, Any]:
        return {
            "id": message_id,
            "conversationId": conversation_id,
            "contactId": contact_id,
            "locationId": LOCATION_ID,
            "body": body,
            "direction": direction,
            "messageType": "TYPE_SMS",
            "contentType": "text/plain",
            "status": "delivered",
            "dateAdded": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }

    def routes(self) -> list[Route]:
        return [
            Route("ghl", "GET", "/locations/{id}", "locations.get", self.location),
            Route("ghl", "POST", "/contacts/upsert", "contacts.upsert", self.upsert),
            Route("ghl", "GET", "/conversations/search", "conversations.search", self.search),
            Route("ghl", "POST", "/conversations/messages", "conversations.send", self.send),
            Route(
                "ghl", "GET", "/conversations/{id}/messages", "conversations.messages", self.history
            ),
        ]

    async def location(self, req: SimRequest) -> Response:
        """The sub-account (what ReplyDesk's health check reads); any id exists here."""
        return ok({"location": {"id": req.params["id"], "name": "Sim location"}})

    async def upsert(self, req: SimRequest) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        if not body.get("locationId"):
            return ok(
                {
                    "statusCode": 422,
                    "message": ["locationId should not be empty"],
                    "error": "Unprocessable Entity",
                    "traceId": _trace(),
                },
                422,
            )
        email, phone = body.get("email"), body.get("phone")
        found = next(
            (
                c
                for c in self.contacts.values()
                if (email and c.get("email") == email) or (phone and c.get("phone") == phone)
            ),
            None,
        )
        fields = {k: v for k, v in body.items() if v is not None}
        if found is not None:
            found.update(fields)
            return ok({"new": False, "contact": found, "traceId": _trace()})
        contact = {"id": f"ct_sim{next(self._ids)}", **fields}
        self.contacts[contact["id"]] = contact
        return ok({"new": True, "contact": contact, "traceId": _trace()})

    def _conversation_of(self, contact_id: str) -> dict[str, Any]:
        for conv in self.conversations.values():
            if conv["contactId"] == contact_id:
                return conv
        conv = {
            "id": f"cv_sim{next(self._ids)}",
            "contactId": contact_id,
            "locationId": LOCATION_ID,
        }
        self.conversations[conv["id"]] = conv
        self.messages[conv["id"]] = []
        return conv

    async def send(self, req: SimRequest) -> Response:
        body = req.json if isinstance(req.json, dict) else {}
        contact = self.contacts.get(str(body.get("contactId")))
        if body.get("type") != "SMS" or not body.get("message"):
            return error_response("ghl", 422, message="type and message are required")
        if contact is None:
            return error_response("ghl", 400, message="Contact not found")
        if not contact.get("phone"):
            return error_response("ghl", 422, message="Contact does not have a phone number")
        conv = self._conversation_of(contact["id"])
        message_id = f"msg_sim{next(self._ids)}"
        self.messages[conv["id"]].append(
            self._message(conv["id"], contact["id"], str(body["message"]), "outbound", message_id)
        )
        return ok(
            {
                "conversationId": conv["id"],
                "messageId": message_id,
                "message": "Message queued successfully.",
                "traceId": _trace(),
            }
        )

    async def search(self, req: SimRequest) -> Response:
        contact_id = req.query_arg("contactId")
        found = [c for c in self.conversations.values() if c["contactId"] == contact_id]
        return ok({"conversations": found, "total": len(found), "traceId": _trace()})

    async def history(self, req: SimRequest) -> Response:
        conv_id = req.params["id"]
        if conv_id not in self.conversations:
            return error_response("ghl", 404, message="Conversation not found")
        items = sorted(self.messages[conv_id], key=lambda m: m["id"])
        last = req.query_arg("lastMessageId")
        if last:
            items = [m for m in items if m["id"] > last]
        limit_arg = req.query_arg("limit", "20") or "20"
        limit = int(limit_arg) if limit_arg.isdigit() else 20
        page = items[:limit]
        return ok(
            {
                "messages": {
                    "lastMessageId": page[-1]["id"] if page else None,
                    "nextPage": len(items) > limit,
                    "messages": page,
                },
                "traceId": _trace(),
            }
        )
