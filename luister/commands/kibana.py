"""`luister kibana export`: Kibana saved objects (data views, dashboards, saved searches) as NDJSON."""
from __future__ import annotations

from pathlib import Path

import click

from core.paths import PROJECT_ROOT
from core.settings import Settings

DEFAULT_OUT = PROJECT_ROOT / "deploy" / "kibana" / "luister.ndjson"


@click.group(name="kibana")
def kibana() -> None:
    """Kibana saved objects generated from the mapping's field list."""


@kibana.command()
@click.option("--out", type=click.Path(dir_okay=False), default=str(DEFAULT_OUT), show_default=True,
              help="NDJSON file to write ('-' for stdout).")
@click.option("--watchlists", "from_es", flag_value=True, default=True,
              help="A saved search per watchlist in Elasticsearch plus the default lists (default).")
@click.option("--default-watchlists", "from_es", flag_value=False,
              help="Only the default lists (journalists, critics, vips): what deploy/kibana/ holds.")
@click.pass_obj
def export(settings: Settings, out: str, from_es: bool) -> None:
    """Write the data views (mentions, alerts), Lens charts, saved searches (one per watchlist)
    and the webcare and crisis dashboards. Import the file in Kibana under Stack Management >
    Saved objects > Import, or: curl -X POST <kibana>/api/saved_objects/_import?overwrite=true
    -H 'kbn-xsrf: true' --form file=@deploy/kibana/luister.ndjson
    """
    from sinks.elasticsearch import kibana as objects
    from sinks.elasticsearch import watchlists

    names = set(watchlists.DEFAULT_LISTS)
    if from_es:
        from luister.commands._es import connect

        names |= {w.name for w in watchlists.all_lists(connect(settings), settings.es_watchlist_index)}
        mentions_title, alerts_title, wl_index = (settings.es_index_prefix, f"{settings.es_alerts_index}*",
                                                  settings.es_watchlist_index)
    else:  # the committed file: default names
        mentions_title, alerts_title, wl_index = "luister-mentions", "luister-alerts*", "luister-watchlists"
    saved = objects.saved_objects(mentions_title=mentions_title, alerts_title=alerts_title,
                                  watchlist_index=wl_index, watchlist_names=sorted(names))
    text = objects.to_ndjson(saved)
    if out == "-":
        click.echo(text, nl=False)
        return
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text, encoding="utf-8")
    kinds: dict[str, int] = {}
    for o in saved:
        kinds[o["type"]] = kinds.get(o["type"], 0) + 1
    click.echo(f"wrote {out}: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))


COMMANDS = [kibana]
