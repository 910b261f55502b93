"""Simulated EmailBison (``/emailbison/api/...``): replies, threads, replying, new e-mails, a
lead's sent e-mails. Shapes follow the stored webhook samples (ids are integers, ``{"data"}``
envelopes, page-numbered lists with ``links``/``meta``)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from replydesk.sim.base import Route, SimRequest, ok
from replydesk.sim.bodies import error_response

PER_PAGE = 15
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SENDER = {"id": 9, "email": "sam@acme-mail.example", "name": "Sam from Acme"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _lead(lead_id: int, first: str, last: str, company: str) -> dict[str, Any]:
    email = f"{first}.{last}@{company.lower()}.example".lower()
    return {
        "id": lead_id,
        "email": email,
        "first_name": first,
        "last_name": last,
        "status": "active",
        "title": "Head of Ops",
        "company": company,
        "custom_variables": [],
    }


class EmailBisonSim:
    def __init__(self) -> None:
        self.leads = {
            501: _lead(501, "Dana", "Reyes", "Northwind"),
            502: _lead(502, "Lee", "Park", "Contoso"),
            503: _lead(503, "Ana", "Silva", "Fabrikam"),
        }
        self.replies: dict[int, dict[str, Any]] = {}
        self.thread_of: dict[int, int] = {}  # reply id -> thread root id
        self.sent: dict[int, list[dict[str, Any]]] = {lead_id: [] for lead_id in self.leads}
        self._ids = itertools.count(94_000)
        for n, lead_id in enumerate(self.leads):
            self.sent[lead_id].append(self._scheduled(88_001 + n, lead_id))
            self._add_reply(93_001 + n, lead_id, "Sounds good, can we talk Tuesday?")

    def _scheduled(self, email_id: int, lead_id: int) -> dict[str, Any]:
        lead = self.leads[lead_id]
        return {
            "id": email_id,
            "lead_id": lead_id,
            "sequence_step_id": 3,
            "sequence_step_order": 1,
            "sequence_step_variant": 1,
            "email_subject": f"Quick question, {lead['first_name']}",
            "email_body": f"<p>Hi {lead['first_name']}, ...</p>",
            "status": "sent",
            "sent_at": "2026-01-23T18:13:05.000000Z",
            "raw_message_id": f"<{email_id}@acme-mail.example>",
        }

    def _add_reply(
        self,
        reply_id: int,
        lead_id: int | None,
        body: str,
        *,
        outgoing: bool = False,
        parent_id: int | None = None,
        to: str | None = None,
        subject: str | None = None,
    ) -> dict[str, Any]:
        lead = self.leads.get(lead_id) if lead_id is not None else None
        lead_email = to or (lead["email"] if lead else "unknown@example.com")
        reply = {
            "id": reply_id,
            "uuid": f"4f0a3c1e-0000-4000-8000-{reply_id:012d}",
            "email_subject": subject or "Re: Quick question",
            "interested": False,
            "automated_reply": False,
            "html_body": f"<p>{body}</p>",
            "text_body": body,
            "date_received": _now(),
            "from_name": SENDER["name"] if outgoing else (lead or {}).get("first_name", ""),
            "from_email_address": SENDER["email"] if outgoing else lead_email,
            "primary_to_email_address": lead_email if outgoing else SENDER["email"],
            "folder": "Sent" if outgoing else "Inbox",
            "type": "Outgoing Email" if outgoing else "Tracked Reply",
            "raw_message_id": f"<sim-{reply_id}@sim.example>",
            "parent_id": parent_id,
            "lead_id": lead_id,
            "sender_email_id": SENDER["id"],
            "attachments": [],
        }
        self.replies[reply_id] = reply
        self.thread_of[reply_id] = (
            self.thread_of.get(parent_id, reply_id) if parent_id else reply_id
        )
        return reply

    def routes(self) -> list[Route]:
        def r(method: str, template: str, endpoint: str, handler: Any) -> Route:
            return Route("emailbison", method, template, endpoint, handler)

        return [
            r("GET", "/api/replies", "replies.list", self.list_replies),
            r("POST", "/api/replies/new", "replies.new", self.new_email),
            r("GET", "/api/replies/{id}", "replies.get", self.get_reply),
            r("GET", "/api/replies/{id}/conversation-thread", "replies.thread", self.thread),
            r("POST", "/api/replies/{id}/reply", "replies.reply", self.reply),
            r("GET", "/api/leads/{id}/sent-emails", "leads.sent_emails", self.sent_emails),
            r("GET", "/api/sender-emails", "sender_emails.list", self.sender_emails),
            r("GET", "/api/users", "users.me", self.me),
            r("GET", "/api/leads/{id}/replies", "leads.replies", self.lead_replies),
        ]

    def _reply_or_404(self, req: SimRequest) -> dict[str, Any] | None:
        raw = req.params["id"]
        return self.replies.get(int(raw)) if raw.isdigit() else None

    async def list_replies(self, req: SimRequest) -> Response:
        page_arg = req.query_arg("page", "1") or "1"
        page = int(page_arg) if page_arg.isdigit() and int(page_arg) > 0 else 1
        newest = sorted(self.replies.values(), key=lambda x: x["id"], reverse=True)
        folder = req.query_arg("folder")
        if folder:
            newest = [x for x in newest if x["folder"].lower() == folder.lower()]
        last_page = max(1, -(-len(newest) // PER_PAGE))
        items = newest[(page - 1) * PER_PAGE : page * PER_PAGE]
        base = "/api/replies?page="
        return ok(
            {
                "data": items,
                "links": {
                    "first": f"{base}1",
                    "last": f"{base}{last_page}",
                    "prev": f"{base}{page - 1}" if page > 1 else None,
                    "next": f"{base}{page + 1}" if page < last_page else None,
                },
                "meta": {
                    "current_page": page,
                    "last_page": last_page,
                    "per_page": PER_PAGE,
                    "total": len(newest),
                },
            }
        )

    async def get_reply(self, req: SimRequest) -> Response:
        reply = self._reply_or_404(req)
        return ok({"data": reply}) if reply else error_response("emailbison", 404)

    async def thread(self, req: SimRequest) -> Response:
        reply = self._reply_or_404(req)
        if reply is None:
            return error_response("emailbison", 404)
        root = self.thread_of[reply["id"]]
        members = sorted(
            (x for x in self.replies.values() if self.thread_of[x["id"]] == root),
            key=lambda x: x["id"],
        )
        return ok(
            {
                "data": {
                    "current_reply": reply,
                    "older_messages": [x for x in members if x["id"] < reply["id"]],
                    "newer_messages": [x for x in members if x["id"] > reply["id"]],
                }
            }
        )

    def _validate_send(self, req: SimRequest) -> tuple[str | None, Response | None]:
        message = req.arg("message")
        if not isinstance(message, str) or not message.strip():
            return None, error_response("emailbison", 422, message="The message field is required.")
        to = req.args("to_emails")
        addresses = [t.get("email_address") if isinstance(t, dict) else t for t in to]
        if not addresses or not all(isinstance(a, str) and _EMAIL.match(a) for a in addresses):
            return None, error_response(
                "emailbison", 422, message="The to_emails.0.email_address must be a valid email."
            )
        return str(addresses[0]), None

    async def reply(self, req: SimRequest) -> Response:
        parent = self._reply_or_404(req)
        if parent is None:
            return error_response("emailbison", 404)
        to, refusal = self._validate_send(req)
        if refusal is not None:
            return refusal
        sent = self._add_reply(
            next(self._ids),
            parent.get("lead_id"),
            str(req.arg("message")),
            outgoing=True,
            parent_id=parent["id"],
            to=to,
            subject=f"Re: {parent['email_subject']}",
        )
        return ok({"data": sent})

    async def new_email(self, req: SimRequest) -> Response:
        to, refusal = self._validate_send(req)
        if refusal is not None:
            return refusal
        lead_id = next((i for i, lead in self.leads.items() if lead["email"] == to), None)
        sent = self._add_reply(
            next(self._ids),
            lead_id,
            str(req.arg("message")),
            outgoing=True,
            to=to,
            subject=str(req.arg("subject") or ""),
        )
        return ok({"data": sent})

    async def me(self, req: SimRequest) -> Response:
        """The key's api user (what ReplyDesk's health check reads)."""
        return ok({"data": {"id": 1, "name": "Sim API user", "email": SENDER["email"]}})

    async def sender_emails(self, req: SimRequest) -> Response:
        return ok({"data": [{**SENDER, "status": "Connected"}]})

    async def sent_emails(self, req: SimRequest) -> Response:
        raw = req.params["id"]
        if not raw.isdigit() or int(raw) not in self.leads:
            return error_response("emailbison", 404, message="No query results for model [Lead].")
        return ok({"data": self.sent[int(raw)]})

    async def lead_replies(self, req: SimRequest) -> Response:
        raw = req.params["id"]
        if not raw.isdigit() or int(raw) not in self.leads:
            return error_response("emailbison", 404, message="No query results for model [Lead].")
        mine = [r for r in self.replies.values() if r.get("lead_id") == int(raw)]
        return ok({"data": sorted(mine, key=lambda r: r["id"], reverse=True)})

    def add_reply(
        self, lead_id: int | None, body: str, *, outgoing: bool = False
    ) -> dict[str, Any]:
        """A reply that arrived at EmailBison (tests and demos: one whose webhook never came)."""
        return self._add_reply(next(self._ids), lead_id, body, outgoing=outgoing)
