"""Hard identities of a person, normalised so that one person's values compare equal.

Providers describe a person by different keys (e-mail, phone, LinkedIn id or profile URL,
provider contact ids). Each is normalised here, once, for the events, the migration backfill
(same rules, in SQL) and the inbox search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import phonenumbers

from replydesk.leads.vocabulary import IdentityKind

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LINKEDIN_PATH = re.compile(r"^/in/([^/?#]+)")
MAX_VALUE_CHARS = 512


@dataclass(frozen=True, order=True)
class IdentityKey:
    """One hard identity; ordered by (kind, value), the order in which they are claimed."""

    kind: IdentityKind
    value: str


def email(value: object) -> str | None:
    """Trimmed, lower-case, or None when it does not look like an address."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text if len(text) <= 320 and _EMAIL.match(text) else None


def phone(value: object, default_region: str = "US") -> str | None:
    """E.164, or None. A number without ``+`` (or ``00``) is read in ``default_region``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def linkedin_url(value: object) -> str | None:
    """``linkedin.com/in/<slug>`` (lower case, no scheme, subdomain, query or trailing slash),
    or None when it is not a LinkedIn profile URL."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 1000:
        return None
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    match = _LINKEDIN_PATH.match(parts.path)
    return f"linkedin.com/in/{match.group(1).lower()}" if match else None


def provider_id(value: object) -> str | None:
    """A provider's id (number or non-empty string) as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text and len(text) <= MAX_VALUE_CHARS else None


def display(key: IdentityKey) -> str:
    """How a lead shows the identity (profile URLs as a link)."""
    return f"https://www.{key.value}" if key.kind is IdentityKind.LINKEDIN_URL else key.value


def keys(*pairs: tuple[IdentityKind, str | None]) -> list[IdentityKey]:
    """The identities present, first occurrence kept, in the caller's order (the first one is
    the identity the event's message travels through)."""
    seen: dict[IdentityKey, None] = {}
    for kind, value in pairs:
        if value:
            seen.setdefault(IdentityKey(kind, value), None)
    return list(seen)
