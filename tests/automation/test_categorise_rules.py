"""The offline categoriser: each rule family, return dates, the labelled sets, and that it
never raises."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replydesk.automation.categorise import dates
from replydesk.automation.categorise.engine import categorise, prepare
from replydesk.automation.categorise.evaluate import load, score
from replydesk.leads.vocabulary import LeadCategory

HERE = Path(__file__).parent
FRIDAY = datetime(2026, 12, 18, 10, 15, tzinfo=UTC)

FAMILIES = {
    LeadCategory.UNSUBSCRIBE: [
        "Please unsubscribe me.",
        "Take me off your list",
        "STOP",
        "Bitte keine weiteren E-Mails.",
        "Merci de me désinscrire.",
        "Denme de baja, por favor.",
    ],
    LeadCategory.OUT_OF_OFFICE: [
        "I am out of the office this week.",
        "Ich bin im Urlaub.",
        "Je suis en congés.",
        "Estoy de vacaciones.",
    ],
    LeadCategory.REFERRAL: [
        "Please contact my colleague Ana about this.",
        "Bitte wenden Sie sich an Herrn Roth.",
        "La bonne personne est notre DSI.",
        "La persona indicada es Marta.",
    ],
    LeadCategory.WRONG_PERSON: [
        "Wrong person, sorry.",
        "Ich bin nicht zuständig.",
        "Je ne suis pas la bonne personne.",
        "No soy la persona adecuada.",
    ],
    LeadCategory.NOT_INTERESTED: [
        "Not interested.",
        "Kein Interesse.",
        "Non merci.",
        "No nos interesa.",
    ],
    LeadCategory.MEETING_REQUEST: [
        "Can we schedule a call on Monday?",
        "Lassen Sie uns einen Termin machen.",
        "On cale un rendez-vous ?",
        "Podemos agendar una llamada?",
    ],
    LeadCategory.QUESTION: [
        "How much does it cost?",
        "Was kostet das?",
        "Combien ça coûte ?",
        "¿Cuánto cuesta?",
    ],
    LeadCategory.INTERESTED: [
        "Sounds good, tell me more.",
        "Klingt interessant.",
        "Ça m'intéresse.",
        "Me interesa.",
    ],
}


@pytest.mark.parametrize(
    ("category", "text"), [(c, t) for c, texts in FAMILIES.items() for t in texts]
)
def test_each_rule_family_recognises_its_phrasing(category: LeadCategory, text: str) -> None:
    assert categorise(text, message_at=FRIDAY).category == category


def test_precedence_compliance_first_then_auto_reply() -> None:
    # A "no" that also asks to be removed is an unsubscribe.
    assert categorise("Not interested, remove me from your list.").category == "unsubscribe"
    # An auto-reply naming a colleague is still an auto-reply.
    result = categorise("Out of office. Please contact jane@acme.example instead.")
    assert result.category == LeadCategory.OUT_OF_OFFICE
    # The auto-reply subject alone marks it.
    assert categorise("Thanks for your mail.", subject="Automatic reply: hello").category == (
        LeadCategory.OUT_OF_OFFICE
    )


def test_tricky_negatives() -> None:
    assert categorise("Not interested right now but maybe in Q3").category == "not_interested"
    assert categorise("No thanks.").category == "not_interested"
    # "not sure" is not a no: the answer is a question.
    assert categorise("Not sure yet - how long does onboarding take?").category == "question"


def test_nothing_matched_is_other_with_low_confidence() -> None:
    result = categorise("Received.")
    assert (result.category, result.out_of_office_until) == (LeadCategory.OTHER, None)
    assert result.confidence < 0.5
    assert categorise("").category == LeadCategory.OTHER
    assert categorise(None).category == LeadCategory.OTHER


def test_mixed_signals_lower_the_confidence() -> None:
    clear = categorise("Not interested.")
    mixed = categorise("Not interested, but can we set up a call in spring?")
    assert mixed.confidence < clear.confidence


def test_quoted_history_and_html_are_not_categorised() -> None:
    quoted = (
        "Thanks, all good.\n\nOn Tue, Dec 15, 2026 at 9:02 AM Sam <sam@acme.example> wrote:\n"
        "> Reply STOP to unsubscribe. Interested in a call?\n"
    )
    assert prepare(text=quoted) == "Thanks, all good."
    assert categorise(prepare(text=quoted)).category == LeadCategory.OTHER
    html = "<p>Please <b>unsubscribe</b> me.</p>"
    assert categorise(prepare(html=html)).category == LeadCategory.UNSUBSCRIBE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office, back on 12 January.", date(2027, 1, 12)),
        ("Ich bin nicht im Büro, zurück am 12.01.", date(2027, 1, 12)),
        ("Absent du bureau, de retour le 12 janvier.", date(2027, 1, 12)),
        ("OOO until Jan 12th.", date(2027, 1, 12)),
        ("Fuera de la oficina, vuelvo el 12 de enero.", date(2027, 1, 12)),
        # Start and return: the latest is the return.
        ("Out of office from 21 December, back on 2 January.", date(2027, 1, 2)),
        # Relative to the message's date (a Friday): next Monday.
        ("Out of the office until Monday.", date(2026, 12, 21)),
        # A date still in the future this year stays this year.
        ("Out of office until 23 December.", date(2026, 12, 23)),
        # A stated year in the past is not a return date.
        ("Out of office until 12 January 2025.", None),
        ("Out of office until further notice.", None),
        ("On vacation.", None),
    ],
)
def test_return_dates_relative_to_the_message(text: str, expected: date | None) -> None:
    result = categorise(text, message_at=FRIDAY)
    assert result.category == LeadCategory.OUT_OF_OFFICE
    assert result.out_of_office_until == expected


def test_return_date_only_for_out_of_office_and_needs_the_message_date() -> None:
    assert categorise("Let's talk until 12 January", message_at=FRIDAY).out_of_office_until is None
    assert categorise("Out of office until 12 January").out_of_office_until is None
    assert dates.return_date("back on 31.02.", FRIDAY, "de") is None  # no such day


# Figures measured on these sets (docs/benchmarks.md, bench/categorise.py). The development set
# is the one the rules were written and then tuned against (accuracy 0.921 before the tuning
# pass, 0.981 after); the held-out set was written after the rules were frozen and never
# tuned on (0.525: unseen phrasing mostly falls to ``other``). The floors sit a little under
# the measured figures, so a regression fails while the figures stay honest.
DEV_FLOOR = 0.96
HOLDOUT_FLOOR = 0.5


def test_development_set_accuracy_and_size() -> None:
    cases = load(HERE / "categorise_cases.jsonl")
    assert len(cases) >= 150
    report = score(cases)
    assert report.accuracy >= DEV_FLOOR, report.misses
    assert report.ooo_dates_correct >= report.ooo_dates_expected - 1
    # Precision is what automation acts on: no category below 0.8 on the development set.
    assert min(v["precision"] for v in report.per_category.values() if v["predicted"]) >= 0.8


def test_held_out_set_accuracy_and_unsubscribe_precision() -> None:
    report = score(load(HERE / "categorise_holdout.jsonl"))
    assert report.accuracy >= HOLDOUT_FLOOR, report.misses
    # Wrongly refusing sends is the costly error: every predicted unsubscribe is one.
    assert report.per_category["unsubscribe"]["precision"] == 1.0


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=3000),
    subject=st.none() | st.text(max_size=200),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
)
def test_never_raises_and_confidence_is_bounded(text: str, subject: str | None, day: date) -> None:
    result = categorise(text, subject=subject, message_at=day)
    assert result.category in LeadCategory
    assert 0.0 <= result.confidence <= 1.0


@settings(max_examples=100, deadline=None)
@given(
    filler=st.text(max_size=500),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
)
def test_return_dates_are_never_before_the_message(filler: str, day: date) -> None:
    found = dates.return_date(f"out of office until {filler}", day)
    assert found is None or found >= day
