"""One error base class carrying its HTTP status, rendered as ``{"error": {...}}``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class ReplyDeskError(Exception):
    """Base of every error an HTTP client may see."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ReplyDeskError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ReplyDeskError):
    status_code = 401
    code = "unauthorized"


class SignedOut(ReplyDeskError):
    status_code = 401
    code = "signed_out"


class Forbidden(ReplyDeskError):
    status_code = 403
    code = "forbidden"


class NotFound(ReplyDeskError):
    status_code = 404
    code = "not_found"


class Conflict(ReplyDeskError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ReplyDeskError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ReplyDeskError):
    status_code = 415
    code = "unsupported_media_type"


class UnprocessableEntity(ReplyDeskError):
    status_code = 422
    code = "unprocessable_entity"


class TooManyRequests(ReplyDeskError):
    status_code = 429
    code = "too_many_requests"


class ServiceUnavailable(ReplyDeskError):
    status_code = 503
    code = "service_unavailable"
