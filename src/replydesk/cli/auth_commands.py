"""``replydesk user create | unlock`` and ``replydesk token create | list | revoke``."""

from __future__ import annotations

import sys
import uuid
from typing import Annotated, Any

import typer

from replydesk.auth import service
from replydesk.cli.common import emit, emit_rows, run_work
from replydesk.core.db import Database

user_app = typer.Typer(no_args_is_help=True, help="Manage users (passwords, memberships).")
token_app = typer.Typer(no_args_is_help=True, help="Manage personal API tokens.")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


def _read_password(from_stdin: bool, no_password: bool) -> str | None:
    if no_password:
        return None
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            typer.echo("error: no password on stdin", err=True)
            raise typer.Exit(1)
        return value
    value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(value)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="E-mail (stored trimmed and lower-case).")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password (API tokens only).")
    ] = False,
    reset_password: Annotated[
        bool, typer.Option("--reset-password", help="Replace an existing password.")
    ] = False,
    workspace: Annotated[
        uuid.UUID | None, typer.Option("--workspace", help="Also make the user a member.")
    ] = None,
    role: Annotated[str, typer.Option("--role", help="owner | admin | member")] = "member",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a user (or complete an existing one) with an argon2 password hash."""
    password = _read_password(password_stdin, no_password)

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            saved = await service.save_user(
                session,
                email,
                password=password,
                display_name=name,
                reset_password=reset_password,
            )
            if workspace is not None:
                await service.set_membership(session, workspace, saved.user_id, role)
        result: dict[str, Any] = {
            "user_id": str(saved.user_id),
            "email": saved.email,
            "created": saved.created,
            "password_set": saved.password_set,
            "sessions_ended": saved.sessions_ended,
        }
        if workspace is not None:
            result.update(workspace_id=str(workspace), role=role)
        return result

    emit(run_work(work), as_json)


@user_app.command("unlock")
def user_unlock(
    email: Annotated[str, typer.Argument(help="The rate-limited user's e-mail.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Clear a user's login rate limits (after too many failed logins) at once."""

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            unlocked = await service.unlock_login(session, email)
        return {
            "user_id": str(unlocked.user_id),
            "email": unlocked.email,
            "counters_cleared": unlocked.counters_cleared,
        }

    emit(run_work(work), as_json)


@token_app.command("create")
def token_create(
    workspace: Annotated[uuid.UUID, typer.Option("--workspace", help="Workspace id.")],
    email: Annotated[str, typer.Option("--email", help="The member the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a personal API token for one workspace; it is printed this once only."""

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            created = await service.create_api_token(session, workspace, email, name)
        return {
            "token_id": created.token_id,
            "token": created.token,
            "workspace_id": str(created.workspace_id),
            "user_id": str(created.user_id),
            "name": created.name,
        }

    emit(run_work(work), as_json, "The token is shown once; store it now.")


@token_app.command("list")
def token_list(
    workspace: Annotated[uuid.UUID, typer.Option("--workspace", help="Workspace id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List a workspace's tokens (never the tokens themselves)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            tokens = await service.list_api_tokens(session, workspace)
        return [
            {
                "token_id": t.token_id,
                "name": t.name,
                "email": t.email,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in tokens
        ]

    emit_rows(run_work(work), as_json)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (from token create / list).")],
    workspace: Annotated[
        uuid.UUID | None, typer.Option("--workspace", help="Only if it is this workspace's.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Revoke a token (idempotent); requests with it are signed out from now on."""

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            revoked_at = await service.revoke_api_token(session, token_id, workspace)
        return {"token_id": token_id, "revoked_at": revoked_at.isoformat()}

    emit(run_work(work), as_json)
