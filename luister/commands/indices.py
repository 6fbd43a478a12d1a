"""`luister indices status|migrate`: the monthly, versioned mention indices behind the read alias."""
from __future__ import annotations

import asyncio

import click

from core.settings import Settings


@click.group(name="indices")
def indices() -> None:
    """Monthly mention indices (<prefix>-v<N>-<YYYY.MM>) behind the read alias <prefix>."""


async def _status(settings: Settings) -> list:
    from elasticsearch import AsyncElasticsearch

    from sinks.elasticsearch import lifecycle

    async with AsyncElasticsearch(settings.es_url, request_timeout=settings.es_request_timeout) as es:
        return await lifecycle.family(es, settings.es_index_prefix)


def _state(old_layout: bool, in_alias: bool) -> str:
    if not old_layout:
        return ""
    return "to migrate" if in_alias else "migrated, kept (--delete-old removes)"


@indices.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """List the mention indices: version, month, documents, size, and whether the read alias covers them."""
    from tabulate import tabulate

    from sinks.elasticsearch import lifecycle
    from sinks.elasticsearch.mapping import MAPPING_VERSION

    prefix = settings.es_index_prefix
    family = asyncio.run(_status(settings))
    rows = [[i.name, i.version, i.month or "(one index)", i.docs, f"{i.size_bytes / 1e6:.1f} MB",
             "yes" if i.in_read_alias else "no",
             _state(lifecycle.needs_migration(lifecycle.parse_index(prefix, i.name), MAPPING_VERSION),
                    i.in_read_alias)] for i in family]
    click.echo(tabulate(rows, headers=["index", "version", "month", "docs", "size", f"in {prefix}", ""],
                        disable_numparse=True))  # (a month "2026.10" is no number)
    stale = [r for r in rows if r[-1] == "to migrate"]
    click.echo(f"\nmapping version in this code: {MAPPING_VERSION}; {len(family)} index(es), "
               f"{sum(i.docs for i in family if i.in_read_alias)} searchable document(s)")
    if stale:
        click.echo(f"{len(stale)} index(es) to move to the current layout: run `luister indices migrate`")


async def _migrate(settings: Settings, delete_old: bool):
    from elasticsearch import AsyncElasticsearch

    from sinks.elasticsearch import lifecycle

    # a scroll page or bulk chunk of a busy node can be slow: be patient
    async with AsyncElasticsearch(settings.es_url, request_timeout=max(120.0, settings.es_request_timeout)) as es:
        return await lifecycle.migrate(es, settings.es_index_prefix, delete_old=delete_old,
                                       progress=lambda msg: click.echo(msg, err=True))


@indices.command()
@click.option("--delete-old", is_flag=True,
              help="Delete the old indices after the switch (default: keep them, out of the read alias).")
@click.pass_obj
def migrate(settings: Settings, delete_old: bool) -> None:
    """Reindex every older-version (or pre-monthly) index into monthly indices of the current mapping.

    Each source month is copied with op_type=create (a document already in the new layout
    is kept), the counts are checked, and only then is the read alias switched, in one
    atomic request. Writes that old workers make meanwhile are caught up afterwards.
    Safe to run again. Best: stop the workers, migrate, start the upgraded workers.
    """
    from sinks.elasticsearch.lifecycle import MigrationError

    try:
        report = asyncio.run(_migrate(settings, delete_old))
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if not report.sources:
        return
    copied = sum(report.copied.values())
    click.echo(f"migrated {len(report.sources)} index(es) to v{report.version}: {copied} copied, "
               f"{report.already_there} already there, {report.caught_up} caught up"
               + (f"; deleted {len(report.deleted)}" if report.deleted else ""))


COMMANDS = [indices]
