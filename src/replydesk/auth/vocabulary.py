"""The auth domain's words, in one place: models, schemas, SQL and CHECK constraints use them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """``memberships.role``: what a member may do in a workspace."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class ThrottleScope(StrEnum):
    """``login_throttles.scope``: what one login counter counts (see ``auth.throttle``)."""

    IP = "ip"
    ACCOUNT_IP = "account_ip"
    ACCOUNT = "account"
