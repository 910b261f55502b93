"""The follow-up sequences' pages: the list with a create form, and one sequence's edit page
(docs/web.md "Sequences").

Any member reads them, as ``GET sequences`` lets them (the edit page is then read-only);
owners and admins create and change them. Both posts validate with the API's own
``SequenceIn`` and call ``automation.sequences.service.create_sequence`` /
``update_sequence``, the functions behind ``POST`` / ``PUT sequences``. A refused form is
shown again as posted with every problem next to its field and listed in one
``role="alert"`` summary; nothing is stored.

The steps are rows of the one form: the sequence's steps, then blank rows (a blank row, and
a row marked "Remove", is left out of the sequence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError

from replydesk.automation.sequences import service
from replydesk.automation.sequences.schemas import MAX_STEPS, SequenceIn, SequenceOut, StepOut
from replydesk.automation.sequences.vocabulary import SequenceTrigger
from replydesk.core.deps import SessionDep
from replydesk.leads.vocabulary import Channel
from replydesk.web.deps import (
    AdminPlaceDep,
    FormDep,
    PageRoute,
    Place,
    PlaceDep,
    commit_before_answering,
)
from replydesk.web.rendering import redirect, render

router = APIRouter(
    prefix="/w/{workspace_id}/sequences", include_in_schema=False, route_class=PageRoute
)

MAX_ID = 2**63 - 1
SequenceId = Annotated[int, Path(ge=1, le=MAX_ID)]
# Blank step rows offered after the sequence's own (up to MAX_STEPS rows in all).
BLANK_ROWS = 3
DELAY_UNITS = {"hours": "hours", "business_days": "business days (Mon-Fri)"}
FIELD_NAMES = {"name": "Name", "trigger": "Trigger", "enabled": "Enabled", "steps": "Steps"}
CHOICES = {
    "triggers": [t.value for t in SequenceTrigger],
    "channels": [c.value for c in Channel],
    "units": DELAY_UNITS,
    "max_steps": MAX_STEPS,
}


def _hours(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else repr(value)


@dataclass
class StepRow:
    """One step row of the form, as the browser posts it (strings)."""

    channel: str = Channel.EMAIL.value
    delay: str = ""
    unit: str = "hours"
    subject: str = ""
    template: str = ""
    remove: bool = False

    @property
    def blank(self) -> bool:
        return not (self.delay.strip() or self.subject.strip() or self.template.strip())

    def body(self) -> dict[str, Any]:
        """The API's step body: the delay under the key its unit names (an unknown unit is
        an extra field, which ``StepIn`` refuses)."""
        step: dict[str, Any] = {"channel": self.channel, "template": self.template}
        if self.delay.strip():
            step[f"delay_{self.unit}"] = self.delay.strip()
        if self.subject.strip():
            step["subject"] = self.subject
        return step

    @classmethod
    def of(cls, step: StepOut) -> StepRow:
        if step.delay_business_days is not None:
            delay, unit = str(step.delay_business_days), "business_days"
        else:
            delay, unit = _hours(step.delay_hours), "hours"
        return cls(step.channel.value, delay, unit, step.subject or "", step.template)


@dataclass
class SequenceForm:
    name: str = ""
    trigger: str = SequenceTrigger.MANUAL.value
    enabled: bool = True
    rows: list[StepRow] = field(default_factory=list)

    @classmethod
    def of(cls, seq: SequenceOut) -> SequenceForm:
        return cls(seq.name, seq.trigger.value, seq.enabled, [StepRow.of(s) for s in seq.steps])

    @classmethod
    def posted(cls, form: dict[str, str]) -> SequenceForm:
        rows = []
        for i in range(MAX_STEPS):
            prefix = f"steps-{i}-"
            if not any(k.startswith(prefix) for k in form):
                continue
            rows.append(
                StepRow(
                    channel=form.get(prefix + "channel", ""),
                    delay=form.get(prefix + "delay", ""),
                    unit=form.get(prefix + "unit", "hours"),
                    subject=form.get(prefix + "subject", ""),
                    # A browser posts a textarea with CRLF line ends.
                    template=form.get(prefix + "template", "").replace("\r\n", "\n"),
                    remove=prefix + "remove" in form,
                )
            )
        return cls(
            name=form.get("name", ""),
            trigger=form.get("trigger", ""),
            enabled="enabled" in form,
            rows=rows,
        )

    def padded(self) -> list[StepRow]:
        """The rows to draw: the posted (or stored) ones in place, then blank ones."""
        rows = list(self.rows)
        trailing = 0
        for row in reversed(rows):
            if not row.blank:
                break
            trailing += 1
        while trailing < BLANK_ROWS and len(rows) < MAX_STEPS:
            rows.append(StepRow())
            trailing += 1
        return rows


def _message(error: Any) -> str:
    msg = str(error.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def validate(values: SequenceForm) -> tuple[SequenceIn | None, dict[str, str]]:
    """The API's ``SequenceIn`` of the form, or its problems keyed by the form field they
    belong to (``name``, ``steps``, ``steps-3`` for a whole row, ``steps-3-template`` …)."""
    kept = [i for i, row in enumerate(values.rows) if not row.remove and not row.blank]
    body = {
        "name": values.name,
        "trigger": values.trigger,
        "enabled": values.enabled,
        "steps": [values.rows[i].body() for i in kept],
    }
    try:
        return SequenceIn.model_validate(body), {}
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            if len(loc) >= 2 and loc[0] == "steps" and loc[1].isdigit():
                row = kept[int(loc[1])]
                where = f"steps-{row}"
                if len(loc) >= 3:
                    name = "delay" if loc[2].startswith("delay_") else loc[2]
                    where = f"{where}-{name}"
                label = f"Step {row + 1}" + (
                    f" {loc[2].replace('_', ' ')}" if len(loc) >= 3 else ""
                )
            else:
                where = loc[0] if loc and loc[0] in FIELD_NAMES else "form"
                label = FIELD_NAMES.get(where, "Sequence")
            problems.setdefault(where, f"{label}: {_message(error)}")
        return None, problems


def _base(place: Place) -> str:
    return f"/w/{place.workspace_id}/sequences"


async def _list_page(
    request: Request,
    place: Place,
    session: SessionDep,
    values: SequenceForm,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    listing = await service.list_sequences(session, place.workspace_id)
    context = place.context(
        sequences=listing.items,
        form=values,
        rows=values.padded(),
        problems=problems or {},
        section="sequences",
        **CHOICES,
    )
    return render(request, "sequences.html", context, status_code=status_code)


def _edit_page(
    request: Request,
    place: Place,
    seq: SequenceOut,
    values: SequenceForm,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    context = place.context(
        sequence=seq,
        form=values,
        rows=values.padded(),
        problems=problems or {},
        saved=saved,
        section="sequences",
        **CHOICES,
    )
    return render(request, "sequence.html", context, status_code=status_code)


@router.get("")
async def sequences_page(place: PlaceDep, request: Request, session: SessionDep) -> Response:
    return await _list_page(request, place, session, SequenceForm())


@router.post("")
async def create_sequence(
    place: AdminPlaceDep, request: Request, session: SessionDep, form: FormDep
) -> Response:
    values = SequenceForm.posted(form)
    body, problems = validate(values)
    if body is None:
        return await _list_page(request, place, session, values, problems, 422)
    created = await service.create_sequence(session, place.workspace_id, body, place.viewer.user_id)
    await commit_before_answering(session)
    return redirect(request, f"{_base(place)}/{created.id}?saved=true")


@router.get("/{sequence_id}")
async def sequence_page(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    sequence_id: SequenceId,
    saved: Annotated[bool, Query()] = False,
) -> Response:
    seq = await service.get_sequence(session, place.workspace_id, sequence_id)
    return _edit_page(request, place, seq, SequenceForm.of(seq), saved=saved)


@router.post("/{sequence_id}")
async def update_sequence(
    place: AdminPlaceDep,
    request: Request,
    session: SessionDep,
    sequence_id: SequenceId,
    form: FormDep,
) -> Response:
    # Another workspace's (or an unknown) id is the 404 page, before any validation.
    current = await service.get_sequence(session, place.workspace_id, sequence_id)
    values = SequenceForm.posted(form)
    body, problems = validate(values)
    if body is None:
        return _edit_page(request, place, current, values, problems, 422)
    await service.update_sequence(
        session, place.workspace_id, sequence_id, body, place.viewer.user_id
    )
    await commit_before_answering(session)
    return redirect(request, f"{_base(place)}/{sequence_id}?saved=true")
