"""Every auth, inbox and integrations operation documents its success body and its error shape."""

from __future__ import annotations

import httpx


async def test_every_api_v1_operation_has_response_schemas(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]
    # 10 auth + inbox, 1 dead-letter detail, 10 administration, 1 unlock (issue 9);
    # 7 integrations (issue 10); 14 timeline, notes, tags, read marks, 6 identity,
    # 2 identity settings (issue 9); POST replies, DELETE quarantine/{channel}, POST sync
    # (issue 10); PUT integrations/openai, GET/PUT settings/automation and
    # settings/availability, GET leads/{id}/drafts, GET drafts, POST drafts/{id}/approve|reject,
    # POST leads/{id}/meeting; GET/POST sequences, GET/PUT sequences/{id},
    # GET/POST leads/{id}/followups, POST …/followups/{id}/pause|resume|stop (issue 11).
    assert len(operations) == 73
    for path, method, op in operations:
        responses = op["responses"]
        success = [code for code in ("200", "201", "202", "204") if code in responses]
        assert success, (path, method)
        ok = responses[success[0]]
        if success[0] != "204":
            schema = ok["content"]["application/json"]["schema"]
            assert "$ref" in schema, (path, method, schema)
        errors = [code for code in responses if code.startswith(("4", "5"))]
        assert errors, (path, method)
        for code in errors:
            if code == "422" and "content" not in responses[code]:
                continue
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse"), (path, method, code, ref)
    schemas = spec["components"]["schemas"]
    assert set(schemas["CountsOut"]["required"]) == {
        "requires_attention",
        "by_channel",
        "by_category",
        "total_leads",
        "stale",
        "computed_at",
    }
    assert {"items", "next_cursor"} <= set(schemas["LeadPage"]["properties"])
