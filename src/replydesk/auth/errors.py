"""Auth-specific errors (the shared ones live in core.errors)."""

from __future__ import annotations

from replydesk.core.errors import PermissionDenied, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"
