"""The return date an out-of-office reply states ("back on 12 January", "zurück am 12.01.",
"de retour le 12 janvier", "until Jan 12th", "vuelvo el 12 de enero").

A trigger phrase ("back on", "until", "zurück am", "bis", "de retour le", "jusqu'au",
"vuelvo el", "hasta el" …) marks where a date may follow; the few words after it are read
with ``dateparser`` (multilingual, maintained) relative to the message's date, preferring
dates after it. Numeric day.month dates ("12.01.", "12/01") are read as day first outside
English. Of every date found, the latest is the return date (the absence's start, "from 20
December", is earlier). A date before the message without a stated year means next year
("back on 2 January" written on 20 December); one still before the message, or more than
400 days after it, is not a return date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from dateparser.date import DateDataParser

LANGUAGES = ["en", "de", "fr", "es"]
MAX_AHEAD = timedelta(days=400)
# Words read after a trigger, and how many leading words (weekday, article) may be skipped.
MAX_WORDS = 6
MAX_SKIP = 3
MAX_TRIGGERS = 6

_TRIGGERS = re.compile(
    r"(?:\bback\s+(?:in\s+(?:the\s+)?office\s+|at\s+work\s+|in\s+)?(?:on|from|by)?|"
    r"\breturn(?:ing)?\s+(?:to\s+(?:the\s+)?(?:office|work)\s+)?(?:on)?|"
    r"\b(?:until|till|til|through|thru|before)\b|"
    r"\bzur[üu]ck\s+(?:im\s+b[üu]ro\s+)?(?:am|ab)?|\bbis\s+(?:zum|einschlie(?:ß|ss)lich|einschl\.|"
    r"am)?|\bab\s+(?:dem|dem\s+|)|\bwieder\s+(?:im\s+b[üu]ro\s+|erreichbar\s+)?(?:am|ab)|"
    r"\bde\s+retour\s+(?:au\s+bureau\s+)?(?:le|d[èe]s\s+le|[àa]\s+partir\s+du)?|"
    r"\bjusqu'?\s*(?:au|[àa])|\b[àa]\s+partir\s+du|\bretour\s+(?:pr[ée]vu\s+)?le|"
    r"\b(?:vuelvo|regreso|volver[ée]|regresar[ée]|estar[ée]\s+de\s+vuelta)\s+(?:a\s+la\s+"
    r"oficina\s+)?(?:el)?|\bhasta\s+(?:el)?|\ba\s+partir\s+del)",
    re.IGNORECASE,
)
_NUMERIC = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?\.?(?=\W|$)")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_CUT = re.compile(r"[\n;!?]|(?<!\d)\.(?!\d)|\s-\s")


def _base(message_at: datetime | date) -> datetime:
    if isinstance(message_at, datetime):
        return message_at.replace(tzinfo=None)
    return datetime(message_at.year, message_at.month, message_at.day)


def _numeric(tail: str, base: datetime, day_first: bool) -> date | None:
    found = _NUMERIC.match(tail)
    if not found:
        return None
    a, b, year = int(found.group(1)), int(found.group(2)), found.group(3)
    day, month = (a, b) if day_first else (b, a)
    y = int(year) if year else base.year
    if year and y < 100:
        y += 2000
    try:
        return date(y, month, day)
    except ValueError:
        return None


def _parser(base: datetime) -> DateDataParser:
    """One parser per message (building one loads its languages: the costly part)."""
    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    return DateDataParser(languages=LANGUAGES, settings=settings)


def _parse(words: list[str], parser: DateDataParser) -> date | None:
    for start in range(min(MAX_SKIP + 1, len(words))):
        for end in range(min(len(words), start + MAX_WORDS), start, -1):
            phrase = " ".join(words[start:end]).strip(",:")
            if not phrase or not any(c.isalnum() for c in phrase):
                continue
            found = parser.get_date_data(phrase).date_obj
            if isinstance(found, datetime):
                return found.date()
    return None


def _settle(found: date, base: datetime, year_stated: bool) -> date | None:
    start = base.date()
    if found < start and not year_stated:
        try:
            found = found.replace(year=found.year + 1)
        except ValueError:  # 29 February
            return None
    if found < start or found > start + MAX_AHEAD:
        return None
    return found


def return_date(text: str, message_at: datetime | date, language: str | None = None) -> date | None:
    """The latest return date the text states after a trigger phrase, or None."""
    base = _base(message_at)
    day_first = language != "en"
    dates: list[date] = []
    parser: DateDataParser | None = None
    for count, trigger in enumerate(_TRIGGERS.finditer(text)):
        if count >= MAX_TRIGGERS:
            break
        tail = text[trigger.end() : trigger.end() + 60].lstrip(" :,")
        tail = _CUT.split(tail, maxsplit=1)[0]
        year_stated = bool(_YEAR.search(tail))
        found = _numeric(tail, base, day_first)
        if found is None:
            words = tail.replace(",", " ").split()
            if words:
                parser = parser or _parser(base)
                found = _parse(words, parser)
        if found is not None:
            settled = _settle(found, base, year_stated)
            if settled is not None:
                dates.append(settled)
    return max(dates) if dates else None
