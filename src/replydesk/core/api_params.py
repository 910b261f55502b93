"""Path and query parameters and error docs shared by the workspace API routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from replydesk.core.http import error_doc

MAX_ID = 2**63 - 1  # bigint identity columns
LeadId = Annotated[int, Path(ge=1, le=MAX_ID, description="Lead id")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="next_cursor of the previous page")
]
Limit = Annotated[int, Query(ge=1, description="Page size (capped by inbox_page_size_max)")]
# The refusals every workspace-scoped read or write can give.
COMMON: dict[int | str, dict[str, object]] = {
    401: error_doc("signed_out"),
    404: error_doc("not_found (also: another workspace's id)"),
    422: error_doc("validation_error"),
}
