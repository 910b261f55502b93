"""The offline engine's drafts: one template per drafted category, filled with the lead's first
name, the workspace's offer and signature. Used when no AI is configured and as the fallback
of every AI failure (the draft's ``source`` says ``template``)."""

from __future__ import annotations

from replydesk.leads.vocabulary import Channel, LeadCategory

_OPENINGS: dict[LeadCategory, str] = {
    LeadCategory.INTERESTED: (
        "Thanks for getting back to me — glad this caught your interest.{offer} Would you have "
        "15 minutes this week or next for a quick call? Let me know what suits you."
    ),
    LeadCategory.MEETING_REQUEST: (
        "Great — happy to set up a time. Which day and time work best for you? Send me two or "
        "three options and I will confirm one."
    ),
    LeadCategory.QUESTION: (
        "Thanks for your question. I want to give you a precise answer, so I will come back to "
        "you shortly with the details."
    ),
    LeadCategory.REFERRAL: (
        "Thank you for pointing me in the right direction — much appreciated. I will reach out "
        "to them directly."
    ),
}
_DEFAULT = "Thanks for your reply. I will get back to you shortly."
_MEETING_WITH_SLOTS = "Great — happy to set up a time."


def meeting_block(slot_labels: list[str], booking_url: str | None) -> str | None:
    """The offered slots and the booking link, as a draft says them (None: nothing to offer)."""
    lines: list[str] = []
    if slot_labels:
        lines.append("Here are a few times that work on my side:")
        lines.extend(f"- {slot}" for slot in slot_labels)
    if booking_url:
        lines.append(
            f"Or pick any time that suits you here: {booking_url}"
            if slot_labels
            else f"You can pick a time that suits you here: {booking_url}"
        )
    return "\n".join(lines) if lines else None


def template_draft(
    category: LeadCategory | None,
    channel: Channel,
    first_name: str | None,
    *,
    offer: str | None,
    signature: str | None,
    meeting: str | None = None,
) -> str:
    greeting = f"Hi {first_name.strip()}," if first_name and first_name.strip() else "Hi there,"
    offer_text = f" In short: {offer.strip().rstrip('.')}." if offer and offer.strip() else ""
    text = _OPENINGS.get(category, _DEFAULT) if category else _DEFAULT
    text = text.replace("{offer}", offer_text)
    if category is LeadCategory.MEETING_REQUEST and meeting:
        text = f"{_MEETING_WITH_SLOTS}\n\n{meeting}"
    if channel is Channel.SMS:
        # One short paragraph: SMS segments are costly and signatures look odd there.
        return f"{greeting} {text}"
    parts = [greeting, text]
    if signature and signature.strip():
        parts.append(signature.strip())
    return "\n\n".join(parts)
