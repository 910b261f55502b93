"""Auth-specific errors (the shared ones live in core.errors)."""

from __future__ import annotations

from replydesk.core.errors import Forbidden, Unauthorized


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
