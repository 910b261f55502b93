"""``replydesk workspace create | list`` and ``replydesk webhook-token rotate``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from replydesk.auth.service import create_workspace
from replydesk.cli.common import emit, emit_rows, run_work
from replydesk.core.db import Database
from replydesk.core.settings import get_settings
from replydesk.workspaces import service as workspaces

workspace_app = typer.Typer(no_args_is_help=True, help="Manage workspaces.")
webhook_token_app = typer.Typer(no_args_is_help=True, help="Manage a workspace's webhook token.")


def register(app: typer.Typer) -> None:
    app.add_typer(workspace_app, name="workspace")
    app.add_typer(webhook_token_app, name="webhook-token")


@workspace_app.command("create")
def workspace_create(
    name: Annotated[str, typer.Argument(help="Display name (need not be unique).")],
    owner_email: Annotated[str, typer.Option("--owner-email", help="Owner's e-mail.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a workspace; prints its id and its tokens (shown this once only)."""

    async def work(db: Database) -> dict[str, str]:
        async with db.session() as session:
            created = await create_workspace(session, name, owner_email)
        return {
            "workspace_id": str(created.workspace_id),
            "webhook_token": created.webhook_token,
            "api_token": created.api_token,
        }

    emit(run_work(work), as_json, "Tokens are shown once; store them now.")


@workspace_app.command("list")
def workspace_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List workspaces by name (id, name, created_at)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            found = await workspaces.list_workspaces(session, limit)
        return [
            {"workspace_id": str(w.id), "name": w.name, "created_at": w.created_at.isoformat()}
            for w in found
        ]

    emit_rows(run_work(work), as_json)


@webhook_token_app.command("rotate")
def webhook_token_rotate(
    workspace: Annotated[uuid.UUID, typer.Option("--workspace", help="Workspace id.")],
    grace_s: Annotated[
        int | None,
        typer.Option(
            "--grace-s", min=0, help="How long the old token keeps working (default: setting)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Issue a new webhook token (printed once); the old one works for the grace period
    (REPLYDESK_WEBHOOK_TOKEN_GRACE_S unless --grace-s)."""

    grace = get_settings().webhook_token_grace_s if grace_s is None else grace_s

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            rotated = await workspaces.rotate_webhook_token(session, workspace, grace)
        return {
            "workspace_id": str(rotated.workspace_id),
            "webhook_token": rotated.webhook_token,
            "previous_valid_until": rotated.previous_valid_until.isoformat(),
        }

    emit(
        run_work(work),
        as_json,
        "The token is shown once; configure the providers with it before the old one expires.",
    )
