"""Declarative base shared by every domain's models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, MetaData, PrimaryKeyConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def tenant_primary_key() -> PrimaryKeyConstraint:
    """``pk_<table>`` of a tenant table with a surrogate id: ``(id, workspace_id)``.

    Ids stay globally unique (identity columns); workspace_id is in the key so a sharded
    database (Citus, docs/scaling.md) can enforce it per shard, and ``id`` comes first so
    lookups and joins by id alone keep using the key's index (migration 0019)."""
    return PrimaryKeyConstraint("id", "workspace_id")


def tenant_foreign_key(
    table: str, column: str, referred: str, ondelete: str
) -> ForeignKeyConstraint:
    """``(workspace_id, column) REFERENCES referred (workspace_id, id)``: a row cannot point
    at another workspace's row (migration 0019). ``SET NULL`` clears ``column`` only
    (``SET NULL (column)``, PostgreSQL 15+): workspace_id is NOT NULL and the row's own."""
    return ForeignKeyConstraint(
        ["workspace_id", column],
        [f"{referred}.workspace_id", f"{referred}.id"],
        ondelete=f"SET NULL ({column})" if ondelete == "SET NULL" else ondelete,
        name=f"fk_{table}_{column}_{referred}",
    )
