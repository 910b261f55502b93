"""Provider parsers: minimal shape validation, event type, status and dedupe key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from replydesk.ingest.providers import emailbison, ghl, unipile
from replydesk.ingest.providers.common import ParsedEvent, Scope

Parser = Callable[[Mapping[str, Any], Scope, datetime], ParsedEvent]

PARSERS: dict[str, Parser] = {
    "emailbison": emailbison.parse,
    "ghl": ghl.parse,
    "unipile": unipile.parse,
}

__all__ = ["PARSERS", "ParsedEvent", "Parser", "Scope"]
