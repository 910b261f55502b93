"""Each provider's error answers, shaped as providers.md records them.

EmailBison: Laravel ``{"message", "errors"?}``; GHL: ``{"statusCode", "message", "traceId"}``;
Unipile: problem JSON ``{"status", "type", "title", "detail"}``; Slack incoming webhooks: a
short plain-text reason.
"""

from __future__ import annotations

import uuid

from starlette.responses import Response

from replydesk.sim.base import ok, text

_EMAILBISON = {
    400: "Bad request.",
    401: "Unauthenticated.",
    403: "This action is unauthorized.",
    404: "No query results for model [App\\Models\\Reply].",
    422: "The to emails field is required.",
    429: "Too Many Attempts.",
}

_GHL = {
    400: "Bad Request",
    401: "Invalid JWT",
    403: "The token does not have access to this location.",
    404: "Contact not found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}

# Unipile error types per status (the first is the default), from its OpenAPI enums.
UNIPILE_TYPES: dict[int, tuple[str, ...]] = {
    400: ("invalid_parameters",),
    401: (
        "disconnected_account",
        "missing_credentials",
        "invalid_credentials",
        "expired_credentials",
        "insufficient_privileges",
        "multiple_sessions",
        "checkpoint_error",
        "wrong_account",
    ),
    403: (
        "account_restricted",
        "insufficient_permissions",
        "feature_not_subscribed",
        "subscription_required",
        "action_required",
    ),
    404: ("resource_not_found", "invalid_resource_identifier"),
    422: (
        "invalid_recipient",
        "user_unreachable",
        "no_connection_with_recipient",
        "blocked_recipient",
        "not_allowed_inmail",
        "insufficient_credits",
        "cannot_resend_yet",
        "cannot_resend_within_24hrs",
        "limit_exceeded",
        "invalid_message",
    ),
    429: ("too_many_requests",),
    500: ("unexpected_error", "provider_error"),
    501: ("feature_not_implemented",),
    503: ("service_unavailable", "no_client_session", "network_down"),
    504: ("request_timeout",),
}

_UNIPILE_DETAIL = {
    "disconnected_account": "The account appears to be disconnected from the provider service.",
    "missing_credentials": "Some credentials are necessary to perform the request.",
    "account_restricted": "Access to this account has been restricted by the provider.",
    "resource_not_found": "The requested resource was not found.",
    "invalid_recipient": "The recipient does not exist or cannot be messaged.",
    "user_unreachable": "The recipient cannot be reached.",
    "no_connection_with_recipient": "You are not connected with this recipient.",
    "blocked_recipient": "The recipient has blocked the account.",
    "limit_exceeded": "The provider limit has been exceeded.",
    "cannot_resend_yet": "The provider does not allow to resend yet.",
    "too_many_requests": "The provider cannot accept any more requests at the moment.",
    "request_timeout": "The request timed out.",
}

_SLACK = {
    400: "invalid_payload",
    403: "invalid_token",
    404: "no_service",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "internal_error",
}


# OpenAI's error object: {"error": {"message", "type", "param", "code"}}.
_OPENAI: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_OPENAI_MESSAGE = {
    401: "Incorrect API key provided. You can find your API key in your account settings.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
}


def error_response(
    provider: str,
    status: int,
    *,
    error_type: str | None = None,
    message: str | None = None,
    retry_after: int | None = None,
) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if provider == "emailbison":
        body: dict[str, object] = {"message": message or _EMAILBISON.get(status, "Server Error")}
        if status == 422:
            body["errors"] = {"to_emails": [body["message"]]}
        return ok(body, status, headers)
    if provider == "ghl":
        msg = message or _GHL.get(status, "Internal server error")
        return ok(
            {"statusCode": status, "message": msg, "traceId": str(uuid.uuid4())}, status, headers
        )
    if provider == "unipile":
        kind = (error_type or UNIPILE_TYPES.get(status, ("unexpected_error",))[0]).removeprefix(
            "errors/"
        )
        return ok(
            {
                "status": status,
                "type": f"errors/{kind}",
                "title": kind.replace("_", " ").capitalize(),
                "detail": message or _UNIPILE_DETAIL.get(kind, "An error occurred."),
                "instance": f"urn:sim:{uuid.uuid4().hex[:12]}",
            },
            status,
            headers,
        )
    if provider == "openai":
        kind, code = _OPENAI.get(status, ("server_error", None))
        return ok(
            {
                "error": {
                    "message": message or _OPENAI_MESSAGE.get(status, "The server had an error."),
                    "type": error_type or kind,
                    "param": None,
                    "code": code,
                }
            },
            status,
            headers,
        )
    return text(message or error_type or _SLACK.get(status, "internal_error"), status, headers)
