"""Handlers by queue table and kind (``provider:event_type`` for events, the type for jobs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.queue.queues import ClaimedItem, table_named

# Runs inside the item's transaction together with the status update; returns None when done
# or a reason to mark the item ``ignored`` (nothing to do). Must not make network calls.
Apply = Callable[[AsyncSession, ClaimedItem], Awaitable[str | None]]
# Optional slow part (e.g. a network call), run before the transaction opens; its result is
# given to ``apply`` as ``item.prepared``. No transaction is ever held across it.
Prepare = Callable[[ClaimedItem], Awaitable[Any]]
# Optional: the identity of the rows ``apply`` will lock (e.g. the lead). Items applied in one
# transaction are sorted by it, so concurrent groups lock rows in one global order and
# cannot deadlock (each deadlock costs PostgreSQL's deadlock_timeout, 1 s by default).
OrderKey = Callable[[ClaimedItem], str]
# Optional: ``apply`` for several items of a group at once (e.g. set-based SQL), in the group's
# transaction and order; returns one ``apply`` result per item. Its result must equal applying
# the items one by one: a failing group is rolled back and each item then runs alone.
ApplyGroup = Callable[[AsyncSession, list[ClaimedItem]], Awaitable[list[str | None]]]


@dataclass(frozen=True)
class Handler:
    apply: Apply
    prepare: Prepare | None = None
    order_key: OrderKey | None = None
    apply_group: ApplyGroup | None = None


class Registry:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], Handler] = {}

    def add(
        self,
        table: str,
        kind: str,
        apply: Apply,
        *,
        prepare: Prepare | None = None,
        order_key: OrderKey | None = None,
        apply_group: ApplyGroup | None = None,
    ) -> None:
        key = (table_named(table).name, kind)
        if key in self._handlers:
            raise ValueError(f"a handler for {table} {kind} is already registered")
        self._handlers[key] = Handler(apply, prepare, order_key, apply_group)

    def get(self, table: str, kind: str) -> Handler | None:
        return self._handlers.get((table, kind))

    def kinds(self, table: str) -> list[str]:
        return sorted(k for t, k in self._handlers if t == table)
