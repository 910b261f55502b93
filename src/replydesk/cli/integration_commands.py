"""``replydesk integrations hosts list | add | remove HOST[:PORT]`` (the EmailBison host
allowlist, instance level; the API shows it read-only) and ``replydesk integrations
reencrypt`` (finish a secret key rotation)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from replydesk.cli.common import prepare, run_with_db
from replydesk.core.crypto import KeyRing, UnreadableSecret
from replydesk.core.db import Database
from replydesk.core.errors import ReplyDeskError
from replydesk.integrations.credentials import hosts, service

integrations_app = typer.Typer(no_args_is_help=True, help="Integration settings.")
hosts_app = typer.Typer(no_args_is_help=True, help="The EmailBison host allowlist.")
integrations_app.add_typer(hosts_app, name="hosts")

HostArg = Annotated[str, typer.Argument(help="HOST or HOST:PORT, e.g. send.meetinboxxia.com")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(integrations_app, name="integrations")


def _run(work: Any) -> Any:
    return _run_with(prepare("warning"), work)


def _run_with(settings: Any, work: Any) -> Any:
    try:
        return run_with_db(settings, work)
    except (ReplyDeskError, UnreadableSecret) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@hosts_app.command("list")
def hosts_list(as_json: JsonOpt = False) -> None:
    """Print the allowed EmailBison hosts."""

    async def work(db: Database) -> list[str]:
        async with db.session() as session:
            return await hosts.list_hosts(session)

    found: list[str] = _run(work)
    typer.echo(json.dumps({"hosts": found}) if as_json else "\n".join(found))


@hosts_app.command("add")
def hosts_add(host: HostArg, as_json: JsonOpt = False) -> None:
    """Allow an EmailBison host (idempotent)."""

    async def work(db: Database) -> tuple[str, bool]:
        async with db.session() as session:
            return await hosts.add_host(session, host)

    stored, added = _run(work)
    if as_json:
        typer.echo(json.dumps({"host": stored, "added": added}))
    else:
        typer.echo(f"{stored}: {'added' if added else 'already allowed'}")


@hosts_app.command("remove")
def hosts_remove(host: HostArg, as_json: JsonOpt = False) -> None:
    """Stop allowing an EmailBison host (stored credentials keep working until changed)."""

    async def work(db: Database) -> str:
        async with db.session() as session:
            return await hosts.remove_host(session, host)

    removed = _run(work)
    typer.echo(json.dumps({"host": removed, "removed": True}) if as_json else f"{removed}: removed")


@integrations_app.command("reencrypt")
def reencrypt(
    chunk: Annotated[int, typer.Option(help="Credentials per transaction.", min=1)] = 200,
) -> None:
    """Re-encrypt every stored secret with REPLYDESK_SECRET_KEY (reading with the old key
    too); afterwards REPLYDESK_SECRET_KEY_OLD can be removed."""
    settings = prepare("warning")
    keyring = KeyRing.from_settings(settings)

    async def work(db: Database) -> int:
        total = 0
        after: Any = service.FIRST_KEY
        while after is not None:
            async with db.session() as session:
                done, after = await service.reencrypt_chunk(session, keyring, after, chunk)
            total += done
        return total

    typer.echo(json.dumps({"reencrypted": _run_with(settings, work)}))
