"""Simulated Slack incoming webhooks (``/slack/services/T…/B…/X…``): ``ok`` or a plain-text
reason, like hooks.slack.com."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from replydesk.sim.base import Route, SimRequest, text


class SlackSim:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def routes(self) -> list[Route]:
        return [Route("slack", "POST", "/services/{team}/{bot}/{secret}", "webhook", self.post)]

    async def post(self, req: SimRequest) -> Response:
        if not isinstance(req.json, dict):
            return text("invalid_payload", 400)
        if not req.json.get("text") and not req.json.get("blocks"):
            return text("no_text", 400)
        self.posts.append(req.json)
        return text("ok")
