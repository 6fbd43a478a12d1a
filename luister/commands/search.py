"""`luister search`: find mentions, as a table or JSON lines, with facets."""
from __future__ import annotations

import json
import re

import click

from core.settings import Settings
from luister.commands._es import connect, split_values

TERM_OPTIONS = ("type", "sentiment", "persona", "source", "channel", "brand", "language")
_EM = re.compile(r"</?em>")


def snippet(text: str, width: int = 90) -> str:
    """One line of at most `width` visible characters, around the first highlighted match."""
    text = " ".join(text.split())
    start = text.find("<em>")
    visible = _EM.sub("", text)
    if len(visible) <= width:
        return _bold(text)
    offset = max(0, len(_EM.sub("", text[:start])) - width // 3) if start >= 0 else 0
    if offset:
        offset = visible.find(" ", offset) + 1 or offset  # start on a word
    # cut on the visible text (at a word end), then re-mark the words that were highlighted
    marked = set(re.findall(r"<em>(.*?)</em>", text))
    cut = visible[offset:offset + width - 2]
    if offset + width - 2 < len(visible) and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    out = ("…" if offset else "") + cut + ("…" if offset + len(cut) < len(visible) else "")
    for word in sorted(marked, key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", f"<em>{word}</em>", out)
    return _bold(out)


def _bold(text: str) -> str:
    return re.sub(r"<em>(.*?)</em>", lambda m: click.style(m.group(1), bold=True, underline=True), text)


@click.command(name="search")
@click.argument("query", required=False)
@click.option("--type", "type_", multiple=True,
              help="complaint, question, suggestion, compliment, other (repeat or a,b).")
@click.option("--sentiment", multiple=True, help="negative, neutral, positive.")
@click.option("--persona", multiple=True,
              help="brand_ambassador, chronic_critic, temporarily_angry, quiet_lurker, regular.")
@click.option("--source", multiple=True, help="twitter, facebook, review_site, … (see `luister schemas`).")
@click.option("--channel", multiple=True, help="own or third_party.")
@click.option("--brand", multiple=True, help="Brand as matched by the connectors.")
@click.option("--language", multiple=True, help="nl, en, …")
@click.option("--severity", default=None, help="N exactly, N+ at least, N-M a range (0..3).")
@click.option("--since", default=None, help="From this date/time (2026-10-01, 2026-10, now-7d/d).")
@click.option("--until", default=None, help="Before this date/time (exclusive; a month means its end).")
@click.option("--watchlist", multiple=True, help="Only mentions by members of this watchlist (repeat: any of them).")
@click.option("--should-respond/--no-should-respond", default=None, help="Only mentions that (do not) need a reply.")
@click.option("--overdue", is_flag=True,
              help="Need a reply, past their respond_by, not answered (when reply data exists).")
@click.option("--where", multiple=True, metavar="FIELD=V[,V]",
              help="Any exact field of the mapping, e.g. flags.legal_threat=true or customer_id=twitter:x.")
@click.option("--has", multiple=True, metavar="FIELD", help="The field must exist, e.g. repeated_negativity.")
@click.option("--size", type=click.IntRange(0, 10_000), default=20, show_default=True, help="Hits to show.")
@click.option("--sort", type=click.Choice(["auto", "relevance", "newest", "oldest", "severity"]), default="auto",
              show_default=True, help="auto: relevance with a query, else newest.")
@click.option("--facets", is_flag=True, help="Also count hits per type, sentiment, persona, severity, source, …")
@click.option("--facet", multiple=True, metavar="FIELD", help="Count per this field instead of the default facets.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.pass_obj
def search_command(settings: Settings, query: str | None, type_, sentiment, persona, source, channel, brand, language,
                   severity, since, until, watchlist, should_respond, overdue, where, has, size, sort, facets, facet,
                   fmt) -> None:
    """Search mentions with Dutch and English stemming, filters, highlighting and facets.

    \b
    QUERY uses simple query syntax: words (all must match, stemmed in Dutch and
    English), "exact phrases", -exclude, a | b for either, pakket* for a prefix.
    \b
    Examples:
      luister search "pakket kwijt" --brand PakjePost --since 2026-10 --facets
      luister search --type complaint --severity 2+ --watchlist journalists
      luister search --overdue --format jsonl > overdue.jsonl
    """
    from sinks.elasticsearch.search import DEFAULT_FACETS, SearchError, SearchRequest, run

    values = dict(zip(TERM_OPTIONS, (type_, sentiment, persona, source, channel, brand, language), strict=True))
    terms = {name: split_values(v) for name, v in values.items() if v}
    for item in where:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use FIELD=VALUE", param_hint="--where")
        terms[name.strip()] = terms.get(name.strip(), ()) + split_values((value,))
    req = SearchRequest(text=query, terms=terms, severity=severity, since=since, until=until,
                        time_zone=settings.report_timezone, watchlists=split_values(watchlist),
                        should_respond=should_respond, overdue=overdue, has=split_values(has), size=size, sort=sort,
                        facets=split_values(facet) or (DEFAULT_FACETS if facets else ()))
    es = connect(settings)
    try:
        result = run(es, settings.es_index_prefix, req, watchlist_index=settings.es_watchlist_index)
    except SearchError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "jsonl":
        for hit in result.hits:
            click.echo(json.dumps({"_id": hit.id, "_index": hit.index, "_score": hit.score, **hit.source,
                                   **({"highlight": hit.highlight} if hit.highlight else {})}, ensure_ascii=False))
        if result.facets:
            click.echo(json.dumps({"_facets": result.facets, "_total": result.total}, ensure_ascii=False))
        return
    _print_table(result)


def _print_table(result) -> None:
    from tabulate import tabulate

    rows = []
    for hit in result.hits:
        s = hit.source
        rows.append([s.get("created_at", "")[:16].replace("T", " "), s.get("brand", ""), s.get("source", ""),
                     s.get("type", ""), s.get("sentiment", ""), s.get("severity", ""), s.get("customer_id", ""),
                     snippet(hit.highlight or s.get("text", ""))])
    if rows:
        click.echo(tabulate(rows, headers=["created (UTC)", "brand", "source", "type", "sentiment", "sev", "customer",
                                           "text"], tablefmt="simple", disable_numparse=True))
    click.echo(f"\n{result.total} mention(s) match" + (f"; showing {len(rows)}" if len(rows) < result.total else ""))
    for name, buckets in result.facets.items():
        click.echo(f"  {name:<12} " + (", ".join(f"{key} {count}" for key, count in buckets) or "-"))


COMMANDS = [search_command]
