"""The offline categoriser: the new text of a reply → (category, confidence, return date).

Pure functions, no I/O, bounded input. ``categorise`` takes the *visible* text (quoted
history and signature already folded away; ``prepare`` does that for raw text or HTML with
the reply parser the inbox uses) and scores every pattern family of ``rules``; the family
that matches with the highest precedence wins. Confidence is the winning rule's weight,
lowered when other families also matched (a mixed message) or the text is long (the
patterns see less of what matters), raised slightly when several rules of the winner agree;
always within [0, 1]. Nothing matched is ``other`` at a low confidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from replydesk.automation.categorise import dates, rules
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import LeadCategory

# Characters of visible text the patterns read: a reply's answer is at its top.
MAX_CHARS = 4_000
LONG_TEXT = 1_200
OTHER_CONFIDENCE = 0.3
CONFLICT_PENALTY = 0.15
LONG_PENALTY = 0.1
AGREEMENT_BONUS = 0.03

_SPACE = re.compile(r"[ \t\u00a0]+")
_LANG_HINTS = {
    "de": re.compile(
        r"\b(?:und|nicht|ich|wir|sie|bitte|danke|vielen|gr[üu](?:ß|ss)e|"
        r"zur[üu]ck|urlaub|termin)\b",
        re.IGNORECASE,
    ),
    "fr": re.compile(
        r"\b(?:je|nous|vous|merci|bonjour|cordialement|retour|pas|avec)\b", re.IGNORECASE
    ),
    "es": re.compile(
        r"\b(?:gracias|hola|saludos|estoy|nosotros|usted|vuelvo|hasta|oficina)\b", re.IGNORECASE
    ),
}


_ANSWERS = (LeadCategory.INTERESTED, LeadCategory.MEETING_REQUEST)


@dataclass(frozen=True)
class Categorised:
    category: LeadCategory
    confidence: float
    out_of_office_until: date | None
    rule: str | None  # the winning rule's name, for evaluation (never logged with text)


def prepare(text: str | None = None, html: str | None = None) -> str:
    """The new text of a raw e-mail body: HTML converted, quoted history and signature
    stripped (``leads.service.visible_text``: inscriptis + mail-parser-reply)."""
    return leads.visible_text(text=text, html=html)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text[:MAX_CHARS])
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return _SPACE.sub(" ", text).strip()


def language_of(text: str) -> str:
    """A rough guess (en, de, fr, es) used only for numeric date order."""
    hits = {lang: len(p.findall(text)) for lang, p in _LANG_HINTS.items()}
    best = max(hits, key=lambda k: hits[k])
    return best if hits[best] >= 2 else "en"


def _score(text: str) -> list[tuple[LeadCategory, float, int, str]]:
    """(category, best weight, matching rules, best rule) per family that matched."""
    found = []
    for category, family in rules.FAMILIES:
        best: rules.Rule | None = None
        hits = 0
        for rule in family:
            if rule.pattern.search(text):
                hits += 1
                if best is None or rule.weight > best.weight:
                    best = rule
        if best is not None:
            found.append((category, best.weight, hits, best.name))
    return found


def categorise(
    text: str | None,
    *,
    subject: str | None = None,
    message_at: datetime | date | None = None,
    language: str | None = None,
) -> Categorised:
    """Categorise the visible text of one inbound message. Never raises on any text."""
    body = _normalise(text or "")
    head = _normalise(subject or "")
    matched = _score(body)
    if head and rules.AUTO_REPLY_SUBJECT.search(head):
        matched = [m for m in matched if m[0] != LeadCategory.OUT_OF_OFFICE]
        matched.insert(0, (LeadCategory.OUT_OF_OFFICE, 0.95, 1, "out_of_office:subject"))
        # An auto-reply's body may say "contact X" or "not in the office": still an auto-reply,
        # unless it is an unsubscribe (compliance first).
        if matched[1:] and matched[1][0] == LeadCategory.UNSUBSCRIBE:
            matched = matched[1:]
    if any(m[0] == LeadCategory.NOT_INTERESTED for m in matched):
        # "not interested" also contains "interested": the negation answers for both.
        matched = [m for m in matched if m[0] != LeadCategory.INTERESTED]
    if any(m[0] in _ANSWERS for m in matched):
        matched = [
            m for m in matched if m[0] != LeadCategory.QUESTION or m[1] >= rules.GENERIC_QUESTION
        ]
    if not matched:
        return Categorised(LeadCategory.OTHER, OTHER_CONFIDENCE, None, None)
    category, weight, hits, name = matched[0]
    confidence = weight + AGREEMENT_BONUS * (hits - 1)
    if len(matched) > 1:
        confidence -= CONFLICT_PENALTY
    if len(body) > LONG_TEXT:
        confidence -= LONG_PENALTY
    until = None
    if category == LeadCategory.OUT_OF_OFFICE and message_at is not None:
        until = dates.return_date(body, message_at, language or language_of(body))
    return Categorised(category, round(min(1.0, max(0.0, confidence)), 3), until, name)
