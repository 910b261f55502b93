"""Every auth and inbox operation documents its success body and its error shape."""

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
    assert len(operations) == 16  # 10 + the 6 identity operations (merge_endpoints)
    for path, method, op in operations:
        responses = op["responses"]
        ok = responses.get("200") or responses.get("204")
        assert ok is not None, (path, method)
        if "200" in responses:
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
