"""Arbitrary bytes and JSON at every provider endpoint: never a 5xx, never a row for bad input."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replydesk.core.db import Database
from tests.support.http import post
from tests.support.rows import count_events
from tests.support.samples import sample
from tests.support.workspaces import Ws

PROVIDERS = ["emailbison", "ghl", "unipile"]
SAMPLE_NAMES = {"emailbison": "lead_replied", "ghl": "inbound_sms", "unipile": "message_received"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    return out


@st.composite
def mutated_samples(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real sample with one field replaced by arbitrary JSON, or removed."""
    provider = draw(st.sampled_from(PROVIDERS))
    payload = sample(provider, SAMPLE_NAMES[provider])
    path = draw(st.sampled_from(_paths(payload)))
    node = payload
    for step in path[:-1]:
        node = node[step]
    if draw(st.booleans()):
        del node[path[-1]]
    else:
        node[path[-1]] = draw(json_values)
    return provider, json.dumps(payload).encode()


bodies = st.one_of(
    st.tuples(st.sampled_from(PROVIDERS), st.binary(max_size=300)),
    st.tuples(st.sampled_from(PROVIDERS), json_values.map(lambda v: json.dumps(v).encode())),
    mutated_samples(),
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(case=bodies)
async def test_arbitrary_input_never_5xx_and_never_stores_rejects(
    client: httpx.AsyncClient, db: Database, ws: Ws, case: tuple[str, bytes]
) -> None:
    provider, body = case
    before = await count_events(db)
    resp = await post(client, ws, provider, body)
    after = await count_events(db)
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        assert after == before, resp.text
        error = resp.json()["error"]
        assert error["code"] and error["message"]
    elif resp.json()["status"] == "duplicate":
        assert resp.status_code == 200 and after == before
    else:
        assert resp.status_code in (200, 202) and after == before + 1


async def test_deeply_nested_and_huge_numbers_are_handled(
    client: httpx.AsyncClient, db: Database, ws: Ws
) -> None:
    deep = "[" * 1000 + '"leaf"' + "]" * 1000
    known = json.dumps(sample("unipile", "message_received"))[:-1] + f', "extra": {deep}}}'
    cases = [
        (known, 202),  # stored: depth only matters where the body itself is the identity
        (f'{{"event": "something_new", "nested": {deep}}}', 422),
        # Beyond a double's range: orjson rejects it, and the message says so.
        (json.dumps({"event": "something_new", "n": int("9" * 400)}), 400),
        (json.dumps({"event": "something_new", "n": int("9" * 30)}), 200),
        (json.dumps({"event": "something_new", "n": 1e308, "m": -1e-320}), 200),
        ("[" * 5000 + "]" * 5000, 400),
    ]
    for body, status in cases:
        resp = await post(client, ws, "unipile", body.encode())
        assert resp.status_code == status, resp.text
    assert await count_events(db) == 3
