"""`luister customers link/unlink/import/list/show`: linked identities and customer profiles."""
from __future__ import annotations

import json

import click

from core.settings import Settings


@click.group(name="customers")
def customers() -> None:
    """One customer, many accounts: link them, and read a customer's profile back.

    Links go to the compacted registry topic (setting `topic_customers`); every
    running worker follows it and keys new mentions of a linked account by the
    customer's id, so their history is shared from then on. Accounts are written
    "source:handle", e.g. twitter:@SanneDV, whatsapp:+31612345678.
    """


def _ensure(settings: Settings) -> None:
    from core.kafka_admin import ensure_topics

    if ensure_topics(settings, ["account_links"]):
        click.echo(f"created the compacted topic {settings.topic_customers}")


def _accounts(values: tuple[str, ...]) -> list[str]:
    from pipeline.customers.registry import account_key

    try:
        return [account_key(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ACCOUNTS") from exc


@customers.command()
@click.argument("customer_id")
@click.argument("accounts", nargs=-1, required=True)
@click.option("--name", default=None, help="The customer's name, shown in the profile.")
@click.option("--move-history/--no-move-history", default=True, show_default=True,
              help="Move what each account posted before the link into the customer's history.")
@click.pass_obj
def link(settings: Settings, customer_id: str, accounts: tuple[str, ...], name: str | None,
         move_history: bool) -> None:
    """Link ACCOUNTS (source:handle ...) to CUSTOMER_ID."""
    from pipeline.customers.registry import Link
    from pipeline.customers.registry_topic import publish, request_moves

    _ensure(settings)
    keys = _accounts(accounts)
    links = [Link(a, customer_id, name) for a in keys]
    n = publish(settings.kafka_bootstrap, settings.topic_customers, [(link.account, link) for link in links])
    click.echo(f"linked {n} account(s) to {customer_id}: {', '.join(keys)}")
    if move_history:
        from core.kafka_admin import ensure_topics

        ensure_topics(settings, ["customer_control"])
        moved = request_moves(settings.kafka_bootstrap, settings.topic_customer_control, links)
        click.echo(f"asked the workers to move the earlier history of {moved} account(s) into {customer_id}")


@customers.command()
@click.argument("accounts", nargs=-1, required=True)
@click.pass_obj
def unlink(settings: Settings, accounts: tuple[str, ...]) -> None:
    """Unlink ACCOUNTS: each becomes its own customer again for new mentions."""
    from pipeline.customers.registry_topic import publish

    _ensure(settings)
    keys = _accounts(accounts)
    n = publish(settings.kafka_bootstrap, settings.topic_customers, [(a, None) for a in keys])
    click.echo(f"unlinked {n} account(s): {', '.join(keys)}")


@customers.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def import_(settings: Settings, path: str) -> None:
    """Publish every link in a registry file (YAML/JSON, see data/registry/example.yaml)."""
    from pipeline.customers.registry import load_file
    from pipeline.customers.registry_topic import publish

    _ensure(settings)
    links = load_file(path)
    click.echo(f"publishing {len(links)} link(s) from {path}")
    n = publish(settings.kafka_bootstrap, settings.topic_customers, [(link.account, link) for link in links])
    click.echo(f"published {n} link(s) for {len({link.customer_id for link in links})} customer(s)")


@customers.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_(settings: Settings, as_json: bool) -> None:
    """Show every link in the registry topic (account -> customer)."""
    from pipeline.customers.registry_topic import read_all

    click.echo(f"reading {settings.topic_customers} ...", err=True)
    registry = read_all(settings.kafka_bootstrap, settings.topic_customers)
    rows = sorted(registry.links.values(), key=lambda link: (link.customer_id, link.account))
    if as_json:
        click.echo(json.dumps([{"account": r.account, "customer_id": r.customer_id, "name": r.name} for r in rows],
                              indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r.customer_id:<24} {r.account:<40} {r.name or ''}")
    click.echo(f"{len(rows)} link(s)", err=True)


@customers.command()
@click.argument("who")
@click.option("--json", "as_json", is_flag=True, help="Print the whole profile document as JSON.")
@click.option("--timeline", "timeline_n", type=int, default=10, show_default=True, help="Timeline items to show.")
@click.pass_obj
def show(settings: Settings, who: str, as_json: bool, timeline_n: int) -> None:
    """Show the profile of WHO: a customer id, or an account (source:handle) to resolve first."""
    from elasticsearch import Elasticsearch, NotFoundError

    customer_id = who
    if ":" in who:
        from pipeline.customers.registry import account_key
        from pipeline.customers.registry_topic import read_all

        customer_id = read_all(settings.kafka_bootstrap, settings.topic_customers).resolve(account_key(who))
    try:
        doc = Elasticsearch(settings.es_url).get(index=settings.es_customers_index, id=customer_id)["_source"]
    except NotFoundError:
        raise click.ClickException(f"no profile for {customer_id} in {settings.es_customers_index}") from None
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    click.echo(f"{doc['customer_id']}  {doc.get('name') or ''}")
    click.echo(f"  accounts     {', '.join(doc['accounts'])}")
    click.echo(f"  persona      {doc.get('persona')} ({doc.get('persona_confidence')}): {doc.get('persona_reason')}")
    click.echo(f"  mentions     {doc['mentions']}  first {doc['first_seen']}  last {doc['last_seen']}")
    click.echo(f"  repeated negativity  {doc['repeated_negativity']}")
    for t in doc.get("transitions", [])[-3:]:
        click.echo(f"  change       {t['at']}: {t['from_persona']} -> {t['to_persona']} ({t['reason']})")
    for item in doc.get("timeline", [])[-timeline_n:]:
        flag = " [repeated]" if item.get("repeated_negativity") else ""
        click.echo(f"  {item['at'][:16]} {item['source']:<12} {item['type']:<11} {item['sentiment']:<8}"
                   f" sev {item['severity']}{flag}  {item['snippet'][:60]}")


COMMANDS = [customers]
