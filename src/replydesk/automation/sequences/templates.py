"""Step templates: ``{first_name}`` and the other lead fields, ``{first_name|there}`` with a
fallback, ``{{``/``}}`` for literal braces. Unknown fields are refused when a sequence is
stored (422); a field the lead lacks (and no fallback) makes the step unsendable: nothing
with an unrendered placeholder ever goes out."""

from __future__ import annotations

import re
from collections.abc import Mapping

FIELDS = ("first_name", "last_name", "full_name", "company", "title")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}|]*)(?:\|([^{}]*))?\}")


class MissingField(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def problems(template: str) -> list[str]:
    """Why ``template`` cannot be stored (empty: it can)."""
    found: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        if match.group(0) in ("{{", "}}"):
            continue
        name = (match.group(1) or "").strip()
        if name not in FIELDS:
            found.append(
                f"unknown placeholder {{{name}}}: use one of "
                + ", ".join(f"{{{f}}}" for f in FIELDS)
                + " (a fallback as {first_name|there}; {{ and }} for literal braces)"
            )
    stripped = _PLACEHOLDER.sub("", template)
    if "{" in stripped or "}" in stripped:
        found.append("unbalanced brace: write {{ or }} for a literal one")
    return found


def render(template: str, lead: Mapping[str, str | None]) -> str:
    """The text for this lead; ``MissingField`` when a field without fallback is blank."""

    def value(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        name = (match.group(1) or "").strip()
        given = (lead.get(name) or "").strip()
        if given:
            return given
        fallback = match.group(2)
        if fallback is None:
            raise MissingField(name)
        return fallback

    text = _PLACEHOLDER.sub(value, template)
    # Belt and braces: a placeholder left in the text (say, inside a lead's own field) is
    # never sent, unless the author wrote it on purpose as {{first_name}}.
    for name in FIELDS:
        if "{" + name + "}" in text and "{{" + name + "}}" not in template:
            raise MissingField(name)
    return text


def lead_fields(
    first_name: str | None, last_name: str | None, company: str | None, title: str | None
) -> dict[str, str | None]:
    full = " ".join(p.strip() for p in (first_name, last_name) if p and p.strip()) or None
    return {
        "first_name": first_name,
        "last_name": last_name,
        "full_name": full,
        "company": company,
        "title": title,
    }
