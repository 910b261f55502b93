"""A message's signature: the message with what varies between occurrences stripped.

Two steps, both SQL over a whole column (DuckDB ``regexp_replace``, RE2):

1. ``shape_sql``: ONE pass over every distinct message that replaces what makes messages
   unique (timestamps, e-mails, uuids, hex, long ids and long numbers) by ``<id>``. It keeps
   what the rules read (short numbers such as SQLSTATE 57014 or HTTP 401, codes like P2024,
   quoted texts), and it turns a million distinct messages into a few hundred shapes.
2. ``signature_sql``: on those shapes only, the rest (whitespace, quoted values, every
   number), in order: the specific shapes first, bare numbers last.
"""

from __future__ import annotations

SIGNATURE_MAX_CHARS = 160

# What makes messages unique, in one RE2 alternation (case-insensitive), replaced by <id>.
HIGH_CARDINALITY = "|".join(
    (
        r"\d{4}-\d\d-\d\d[t ]\d\d:\d\d(:\d\d)?(\.\d+)?(z|[+-]\d\d:?\d\d)?",  # timestamps
        r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",  # e-mails
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",  # uuids
        r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b",  # hex
        # ids: runs of letters and digits with a digit and 5+ characters on one side of it
        # (cuids, request ids; not error codes such as P2024)
        r"\b[a-z0-9_-]*[0-9][a-z0-9_-]{5,}\b|\b[a-z0-9_-]{5,}[0-9][a-z0-9_-]*\b",
        r"\b\d{6,}\b",  # long numbers
    )
)

# (RE2 pattern, replacement), applied to shapes. Case-insensitive.
NORMALISERS: tuple[tuple[str, str], ...] = (
    (r"\s+", " "),  # multi-line messages and stack traces become one line
    (r"\d{4}-\d\d-\d\d[t ]\d\d:\d\d(:\d\d)?(\.\d+)?(z|[+-]\d\d:?\d\d)?", "<ts>"),
    (r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", "<email>"),
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>"),
    (r"\"[^\"]{0,200}\"|'[^']{0,200}'|`[^`]{0,200}`", "<q>"),
    (r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", "<hex>"),
    # ids: runs of letters and digits with a digit and 5+ characters on one side of it
    # (cuids, request ids; not error codes such as P2024)
    (r"\b[a-z0-9_-]*[0-9][a-z0-9_-]{5,}\b|\b[a-z0-9_-]{5,}[0-9][a-z0-9_-]*\b", "<id>"),
    (r"\b\d+(\.\d+)?\b", "<n>"),
)


def shape_sql(column: str) -> str:
    """The SQL expression of the shape of ``column`` (a VARCHAR expression)."""
    return f"regexp_replace({column}, {_literal(HIGH_CARDINALITY)}, '<id>', 'gi')"


def signature_sql(column: str) -> str:
    """The SQL expression of the signature of ``column`` (a VARCHAR expression)."""
    expr = column
    for pattern, replacement in NORMALISERS:
        expr = f"regexp_replace({expr}, {_literal(pattern)}, {_literal(replacement)}, 'gi')"
    return f"left(trim({expr}), {SIGNATURE_MAX_CHARS})"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
