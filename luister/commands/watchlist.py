"""`luister watchlist add/remove/show/delete`: named lists of customers and accounts."""
from __future__ import annotations

import json

import click

from core.settings import Settings
from luister.commands._es import connect

MEMBER_HELP = ("twitter:handle (that account's customer id), customer:<id> (a linked customer), "
               "or @handle (that handle on any platform)")


@click.group(name="watchlist")
def watchlist() -> None:
    """Named lists of accounts and customers (journalists, critics, VIPs, …).

    Use a list as a filter: `luister search --watchlist journalists`,
    `luister report --watchlist critics`, and in Kibana the saved search
    "Watchlist: <name>" (`luister kibana export`).
    """


@watchlist.command(help=f"Add MEMBERS to the list NAME (created when new). A member is {MEMBER_HELP}.")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@click.option("--description", default=None, help="What the list is for (kept with it).")
@click.pass_obj
def add(settings: Settings, name: str, members: tuple[str, ...], description: str | None) -> None:
    from sinks.elasticsearch import watchlists

    parsed = watchlists.parse_members(list(members))
    try:
        wl = watchlists.add(connect(settings), settings.es_watchlist_index, name, parsed, description)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc
    click.echo(f"{name}: added {len(parsed)}; now {len(wl.members)} member(s)")


@watchlist.command()
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@click.pass_obj
def remove(settings: Settings, name: str, members: tuple[str, ...]) -> None:
    """Remove MEMBERS from the list NAME (same forms as for `add`)."""
    from sinks.elasticsearch import watchlists

    wl = watchlists.remove(connect(settings), settings.es_watchlist_index, name,
                           watchlists.parse_members(list(members)))
    if wl is None:
        raise click.UsageError(f"no watchlist named {name!r}")
    click.echo(f"{name}: now {len(wl.members)} member(s)")


@watchlist.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def show(settings: Settings, name: str | None, fmt: str) -> None:
    """Show one list with its members, or every list with its size."""
    from sinks.elasticsearch import watchlists

    es = connect(settings)
    if name:
        wl = watchlists.get(es, settings.es_watchlist_index, name)
        if wl is None:
            raise click.UsageError(f"no watchlist named {name!r}")
        lists = [wl]
    else:
        lists = watchlists.all_lists(es, settings.es_watchlist_index)
    if fmt == "json":
        click.echo(json.dumps([{"name": w.name, "description": w.description, "customer_ids": w.members.customer_ids,
                                "handles": w.members.handles, "updated_at": w.updated_at} for w in lists],
                              ensure_ascii=False, indent=2))
        return
    if not lists:
        click.echo("no watchlists yet; create one with: luister watchlist add journalists twitter:handle")
    for w in lists:
        click.echo(f"{w.name}  ({len(w.members)} member(s)) {w.description}")
        if name:
            for cid in w.members.customer_ids:
                click.echo(f"  customer  {cid}")
            for handle in w.members.handles:
                click.echo(f"  handle    @{handle}")


@watchlist.command()
@click.argument("name")
@click.confirmation_option(prompt="Delete the whole list?")
@click.pass_obj
def delete(settings: Settings, name: str) -> None:
    """Delete the list NAME entirely."""
    from sinks.elasticsearch import watchlists

    if not watchlists.delete(connect(settings), settings.es_watchlist_index, name):
        raise click.UsageError(f"no watchlist named {name!r}")
    click.echo(f"deleted watchlist {name}")


COMMANDS = [watchlist]
