"""Every error-level log line carries a ``category`` of the triage taxonomy.

The AST walk reads every log call in src/replydesk: an ``error``/``exception``/``critical``
(or ``log``) call must pass ``category=`` explicitly, and any ``category=`` passed (at any
level) must be a taxonomy word: a literal of the list, a ``LogCategory`` member, or
``log_category(...)`` / ``exception_category(...)``. Reaching an error-level method without
calling it (``emit = log.error if … else …``) is refused, since the walk could not see it.
"""

from __future__ import annotations

import ast
import asyncio
import io
import json
from pathlib import Path

import pytest
import structlog
from sqlalchemy.exc import TimeoutError as PoolTimeout

from replydesk.core.errors import ProviderCategory
from replydesk.core.log_categories import (
    CATEGORIES,
    LogCategory,
    exception_category,
    log_category,
)
from replydesk.core.logging import configure_logging, get_logger

SRC = Path(__file__).resolve().parents[2] / "src" / "replydesk"
ERROR_METHODS = {"error", "exception", "critical"}
MAPPERS = {"log_category", "exception_category"}
ISSUE_LIST = [
    "runtime_timeout",
    "db_timeout",
    "db_pool_wait",
    "db_unavailable",
    "auth_signed_out",
    "client_abort",
    "ai_timeout",
    "ai_truncated",
    "provider_auth",
    "provider_disconnected",
    "provider_invalid_recipient",
    "provider_rate_limited",
    "provider_error",
    "expected_skip",
    "other",
]


def _logger_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("get_logger", "getLogger"):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _valid_category(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in CATEGORIES
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id == "LogCategory" and node.attr in LogCategory.__members__
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name in MAPPERS
    if isinstance(node, ast.IfExp):
        return _valid_category(node.body) and _valid_category(node.orelse)
    return False


def problems_in(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    loggers = _logger_names(tree)
    found: list[str] = []
    called: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        if not (isinstance(func.value, ast.Name) and func.value.id in loggers):
            continue
        called.add(id(func))
        category = next((k.value for k in node.keywords if k.arg == "category"), None)
        at = f"{where}:{node.lineno} {func.value.id}.{func.attr}"
        if func.attr in ERROR_METHODS | {"log"} and category is None:
            found.append(f"{at}: error-level call without category=")
        elif category is not None and not _valid_category(category):
            found.append(f"{at}: category= {ast.unparse(category)} is not a taxonomy word")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ERROR_METHODS
            and isinstance(node.value, ast.Name)
            and node.value.id in loggers
            and id(node) not in called
        ):
            found.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr} used, not called")
    return found


def test_the_vocabulary_is_the_issue_list() -> None:
    assert sorted(CATEGORIES) == sorted(ISSUE_LIST)


def test_every_log_call_in_the_code_names_a_taxonomy_category() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 100
    problems = [p for f in files for p in problems_in(f.read_text(), str(f.relative_to(SRC)))]
    assert problems == []


def test_the_walk_catches_what_it_must() -> None:
    bad = """
from replydesk.core.logging import get_logger
log = get_logger(__name__)
log.error("a")
log.exception("b", category="bug")
log.warning("c", category="scheduler")
emit = log.error if x else log.warning
log.log(40, "d")
"""
    found = problems_in(bad, "m.py")
    assert [p.split(" ", 1)[0] for p in found] == [
        "m.py:4",
        "m.py:5",
        "m.py:6",
        "m.py:8",
        "m.py:7:",
    ]
    good = """
from replydesk.core.logging import get_logger
log = get_logger(__name__)
log.error("a", category="db_timeout")
log.error("b", category=LogCategory.OTHER, error_class="bug")
log.critical("c", category=exception_category(exc))
log.warning("d", category=log_category(cls) if x else "other")
log.info("e")
"""
    assert problems_in(good, "m.py") == []


@pytest.mark.parametrize(
    ("error_class", "category"),
    [
        ("timeout", "runtime_timeout"),
        ("lease_expired", "runtime_timeout"),
        ("invalid_payload", "other"),
        ("bug", "other"),
        ("db_error", "other"),
        (ProviderCategory.AUTH, "provider_auth"),
        (ProviderCategory.DISCONNECTED, "provider_disconnected"),
        (ProviderCategory.RATE_LIMITED, "provider_rate_limited"),
        (ProviderCategory.TIMEOUT, "provider_error"),
        (ProviderCategory.CLIENT_ABORT, "client_abort"),
        ("destination_refused", "provider_error"),
        ("db_unavailable", "db_unavailable"),
        (None, "other"),
    ],
)
def test_error_classes_map_onto_the_taxonomy(error_class: str | None, category: str) -> None:
    assert log_category(error_class) == category


def test_exceptions_map_onto_the_taxonomy() -> None:
    assert exception_category(PoolTimeout("pool")) == "db_pool_wait"
    assert exception_category(TimeoutError()) == "runtime_timeout"
    assert exception_category(asyncio.CancelledError()) == "client_abort"
    assert exception_category(ValueError("x")) == "other"


def test_error_lines_of_other_libraries_get_a_category() -> None:
    """The processor is the safety net for lines our call sites do not write."""
    import logging

    stream = io.StringIO()
    configure_logging("info", stream=stream)
    try:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application")
        get_logger("t").error("ours", category="db_timeout")
        structlog.get_logger("t").error("unknown word", category="scheduler")
        get_logger("t").warning("a warning keeps what it has")
    finally:
        configure_logging("info")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["event"], r.get("category"), r.get("error_class")) for r in lines] == [
        ("Exception in ASGI application", "other", None),
        ("ours", "db_timeout", None),
        ("unknown word", "other", "scheduler"),
        ("a warning keeps what it has", None, None),
    ]
