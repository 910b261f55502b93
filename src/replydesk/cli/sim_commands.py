"""``replydesk sim [--port P]`` and ``replydesk sim traffic``: the provider simulator."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from replydesk.sim.server import serve_foreground
from replydesk.sim.traffic import Scope, TrafficConfig, run_traffic

sim_app = typer.Typer(
    invoke_without_command=True,
    help="Provider simulator: EmailBison, GHL, Unipile and Slack on one loopback port "
    "(docs/simulator.md).",
)


@sim_app.callback()
def sim(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Loopback port to serve on.")] = 8900,
) -> None:
    """Serve the simulator on 127.0.0.1:PORT until interrupted (without a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    typer.echo(f"provider simulator on http://127.0.0.1:{port}")
    for provider in ("emailbison", "ghl", "unipile", "slack"):
        typer.echo(f"  {provider:<10} http://127.0.0.1:{port}/{provider}")
    serve_foreground("127.0.0.1", port)


@sim_app.command("traffic")
def traffic(
    target: Annotated[str, typer.Option(help="ReplyDesk base URL, e.g. http://127.0.0.1:8000")],
    workspace: Annotated[str, typer.Option(help="Workspace id (the webhook URL's last part).")],
    token: Annotated[str, typer.Option(help="The workspace's webhook token.")],
    rate: Annotated[float, typer.Option(help="Deliveries per second after the burst.")] = 20.0,
    burst: Annotated[int, typer.Option(help="Deliveries sent at once first.")] = 0,
    count: Annotated[int, typer.Option(help="Deliveries in total.")] = 100,
    redeliver: Annotated[
        float, typer.Option(help="Share of deliveries repeating an earlier one (0-1).")
    ] = 0.1,
    providers: Annotated[str, typer.Option(help="Comma-separated providers.")] = (
        "emailbison,ghl,unipile"
    ),
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same stream).")] = None,
    emailbison_instance_url: Annotated[str, typer.Option()] = Scope.emailbison_instance_url,
    emailbison_workspace_id: Annotated[int, typer.Option()] = Scope.emailbison_workspace_id,
    ghl_location_id: Annotated[str, typer.Option()] = Scope.ghl_location_id,
    unipile_account_id: Annotated[str, typer.Option()] = Scope.unipile_account_id,
) -> None:
    """Send realistic webhook streams (campaign sends, opens, replies, SMS, LinkedIn, bursts,
    re-deliveries) to ReplyDesk; prints a JSON report of the answers."""
    chosen = tuple(p.strip() for p in providers.split(",") if p.strip())
    unknown = sorted(set(chosen) - {"emailbison", "ghl", "unipile"})
    if unknown or not chosen or not 0 <= redeliver <= 1 or count < 0 or burst < 0:
        raise typer.BadParameter(
            f"providers must be emailbison, ghl, unipile (got {', '.join(unknown) or 'none'}); "
            "redeliver in 0-1; count and burst at least 0"
        )
    scope = Scope(
        emailbison_instance_url, emailbison_workspace_id, ghl_location_id, unipile_account_id
    )
    config = TrafficConfig(
        target,
        workspace,
        token,
        rate=rate,
        burst=burst,
        count=count,
        redeliver=redeliver,
        providers=chosen,
        scope=scope,
        seed=seed,
    )
    report = asyncio.run(run_traffic(config))
    typer.echo(json.dumps(report.as_dict()))
