"""Lead list ``sort=score``: highest score first, ties by id (newest first), unscored leads
last; keyset pages with their own cursor kind; the plan reads the workspace-led index."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.http import https_client
from tests.support.members import Member
from tests.support.rows import fetch_rows, insert_lead


async def _page(app: FastAPI, member: Member, **params: Any) -> dict[str, Any]:
    async with https_client(app) as client:
        resp = await client.get(member.url("leads"), params=params, headers=member.headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _walk(app: FastAPI, member: Member, limit: int, **params: Any) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        page = await _page(
            app,
            member,
            sort="score",
            limit=limit,
            **params,
            **({"cursor": cursor} if cursor else {}),
        )
        assert len(page["items"]) <= limit
        ids += [lead["id"] for lead in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def test_sort_by_score_pages_highest_first_and_unscored_last(
    app: FastAPI, db: Database, owner: Member, rival: Member
) -> None:
    ws = owner.workspace_id
    scores = [40, None, 90, 40, 0, None, 100, 40, 75]
    ids = [
        await insert_lead(db, ws, email=f"l{n}@x.example", score=score)
        for n, score in enumerate(scores)
    ]
    await insert_lead(db, rival.workspace_id, email="other@x.example", score=99)
    expected = [
        i
        for _, i in sorted(
            ((s, i) for s, i in zip(scores, ids, strict=True) if s is not None),
            key=lambda pair: (-pair[0], -pair[1]),
        )
    ] + sorted((i for s, i in zip(scores, ids, strict=True) if s is None), reverse=True)
    for limit in (1, 2, 3, 4, 50):
        assert await _walk(app, owner, limit) == expected, limit
    first = await _page(app, owner, sort="score", limit=2)
    assert [lead["score"] for lead in first["items"]] == [100, 90]
    assert {"score", "score_reasons", "scored_at"} <= set(first["items"][0])
    # Filters combine with the sort; the rival's lead never shows.
    assert len(await _walk(app, owner, 3, filter="all")) == len(scores)


async def test_a_cursor_keeps_its_sort(app: FastAPI, db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    for n in range(3):
        await insert_lead(db, ws, email=f"c{n}@x.example", score=10 * n)
    by_score = (await _page(app, owner, sort="score", limit=1))["next_cursor"]
    by_message = (await _page(app, owner, limit=1))["next_cursor"]
    async with https_client(app) as client:
        crossed = await client.get(
            owner.url("leads"),
            params={"sort": "last_message", "cursor": by_score},
            headers=owner.headers,
        )
        assert crossed.status_code == 400
        crossed = await client.get(
            owner.url("leads"),
            params={"sort": "score", "cursor": by_message},
            headers=owner.headers,
        )
        assert crossed.status_code == 400
        broken = await client.get(
            owner.url("leads"), params={"sort": "score", "cursor": "nope"}, headers=owner.headers
        )
        assert broken.status_code == 400
        unknown = await client.get(
            owner.url("leads"), params={"sort": "scores"}, headers=owner.headers
        )
        assert unknown.status_code == 422 and "score" in unknown.text


async def test_the_score_order_reads_the_workspace_led_index(db: Database, owner: Member) -> None:
    rows = await fetch_rows(
        db,
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_leads_workspace_id_score_id'",
    )
    assert rows and "(workspace_id, score DESC NULLS LAST, id DESC)" in rows[0]["indexdef"]
    async with db.session() as session:
        from sqlalchemy import text

        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await session.execute(
                text(
                    "EXPLAIN SELECT id FROM leads WHERE workspace_id = :ws AND score IS NOT NULL "
                    "ORDER BY score DESC NULLS LAST, id DESC LIMIT 51"
                ),
                {"ws": owner.workspace_id},
            )
        )
    assert "ix_leads_workspace_id_score_id" in plan
