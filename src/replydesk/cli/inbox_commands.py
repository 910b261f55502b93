"""``replydesk inbox recount``: recompute the inbox counter rows from the leads."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from replydesk.cli.common import run_work
from replydesk.core.db import Database
from replydesk.inbox.counters import recount_workspaces

inbox_app = typer.Typer(no_args_is_help=True, help="Inbox maintenance.")


def register(app: typer.Typer) -> None:
    app.add_typer(inbox_app, name="inbox")


@inbox_app.command("recount")
def recount(
    workspace: Annotated[
        uuid.UUID | None, typer.Option("--workspace", help="Workspace id (default: every one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute the requires-attention counter rows from the leads and fix any drift; prints
    each (workspace, channel, category) that differed, with the counted and actual values."""

    async def work(db: Database) -> dict[str, Any]:
        checked, drift = await recount_workspaces(db, workspace)
        return {
            "workspaces_checked": checked,
            "drift_fixed": [
                {
                    "workspace_id": str(d.workspace_id),
                    "channel": d.channel,
                    "category": d.category,
                    "counted": d.counted,
                    "actual": d.actual,
                }
                for d in drift
            ],
        }

    result = run_work(work)
    if as_json:
        typer.echo(json.dumps(result))
        return
    fixed = result["drift_fixed"]
    typer.echo(f"workspaces checked: {result['workspaces_checked']}")
    if not fixed:
        typer.echo("no drift: the counters equal the leads")
    for d in fixed:
        typer.echo(
            f"fixed workspace={d['workspace_id']} channel={d['channel']} "
            f"category={d['category']} counted={d['counted']} actual={d['actual']}"
        )
