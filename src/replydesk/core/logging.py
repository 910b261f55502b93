"""structlog JSON to stdout with redaction; stdlib loggers (uvicorn, sqlalchemy) go through it."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from replydesk.core.log_categories import CATEGORIES, LogCategory
from replydesk.core.redact import mask_token_shaped, redact_mapping

# Keys that are structure, not data: never masked by key name (a "session" or "token" in
# them is not a secret), but their text is still scanned for token-shaped values.
_STRUCTURAL = ("event", "level", "timestamp", "logger", "category", "workspace_id")
# Values that are ids or locations by design, into which a client can paste a token
# (``/webhooks/emailbison/<token>``), and the message text (a stdlib line such as an HTTP
# client's "POST <url>"): any token-shaped run in them is masked.
_CLIENT_CHOSEN = ("event", "workspace_id", "path", "url", "raw_path", "target")


def redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    keep = {k: event_dict[k] for k in _STRUCTURAL if k in event_dict}
    redacted = redact_mapping(event_dict)
    if isinstance(keep.get("event"), str):
        # The message text itself may carry secrets (e.g. an exception string).
        keep["event"] = redact_mapping({"event": keep["event"]})["event"]
    redacted.update(keep)
    for key in _CLIENT_CHOSEN:
        value = redacted.get(key)
        if isinstance(value, str):
            redacted[key] = mask_token_shaped(value)
    return redacted


_ERROR_LEVELS = frozenset(("error", "critical", "exception"))


def category_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A safety net for error lines our call sites do not write (uvicorn's, SQLAlchemy's):
    every error-level line carries a ``category`` of the taxonomy (``core/log_categories.py``).
    Our own call sites name theirs (a test walks them); a missing or unknown one becomes
    ``other``, the unknown word kept as ``error_class``."""
    if event_dict.get("level") not in _ERROR_LEVELS:
        return event_dict
    category = event_dict.get("category")
    if category in CATEGORIES:
        return event_dict
    if category is not None:
        event_dict.setdefault("error_class", str(category))
    event_dict["category"] = LogCategory.OTHER.value
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        category_processor,
        redact_processor,
    ]


def configure_logging(level: str = "info", stream: Any = None) -> None:
    """Idempotent; ``stream`` lets tests capture the rendered lines."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared = _shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # Access logs carry query strings (webhook tokens); the redactor masks them, but
    # at info level they would still be one line per webhook: keep them at warning.
    logging.getLogger("uvicorn.access").setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
