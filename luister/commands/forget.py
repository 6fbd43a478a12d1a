"""`luister forget --customer ID`: GDPR erasure of one customer (right to be forgotten)."""
from __future__ import annotations

import json

import click

from core.settings import Settings
from luister.commands._es import connect


def publish_erase_request(settings: Settings, customer_id: str, erasure_id: str, requested_at: str) -> tuple[int, int]:
    """Key = customer_id on a compacted topic, for the profile agent to tombstone its table rows."""
    from kafka import KafkaProducer

    from core.kafka_admin import ensure_topics

    ensure_topics(settings, ["erase_requests"])  # compacted, kept a month (core/topics.py)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, client_id="luister-forget", acks="all")
    try:
        value = {"customer_id": customer_id, "erasure_id": erasure_id, "requested_at": requested_at}
        meta = producer.send(settings.topic_erase, key=customer_id.encode(),
                             value=json.dumps(value).encode()).get(timeout=60)
        return meta.partition, meta.offset
    finally:
        producer.close(timeout=30)


@click.command(name="forget")
@click.option("--customer", "customer_id", required=True,
              help="The customer id as shown by `luister search` (e.g. twitter:jdevries).")
@click.option("--ticket", default=None, help="Reference of the request (kept in the audit record; no personal data).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def forget(settings: Settings, customer_id: str, ticket: str | None, yes: bool) -> None:
    """Erase a customer: mentions in every index, profile, watchlist entries, alert references.

    \b
    1. publishes an erase request (key = customer id) to the compacted topic
       `topic_erase` (customers.erase), so the profile agent tombstones its table state;
    2. deletes the customer's mentions from every mention index (all versions and months)
       and the profile from the customers index (with the accounts it links), removes them
       from every watchlist, deletes alerts about them and redacts alerts that quote them,
       and checks that nothing is left to search;
    3. records the erasure in the audit index: an HMAC of the id, counts and times only.
    """
    from sinks.elasticsearch import erase

    customer_id = customer_id.strip()
    if not customer_id:
        raise click.BadParameter("empty customer id", param_hint="--customer")
    if not yes:
        click.confirm(f"Erase everything about {customer_id}? This cannot be undone", abort=True)
    es = connect(settings)
    erasure = erase.Erasure.start(customer_id, settings.audit_hmac_key.get_secret_value(), ticket)
    partition, offset = publish_erase_request(settings, customer_id, erasure.erasure_id, erasure.requested_at)
    erasure.erase_topic, erasure.erase_partition, erasure.erase_offset = settings.topic_erase, partition, offset
    click.echo(f"erase request published to {settings.topic_erase} (partition {partition}, offset {offset})", err=True)
    try:
        erase.erase(es, erasure, customer_id=customer_id, mention_prefix=settings.es_index_prefix,
                    customers_index=settings.es_customers_index, watchlist_index=settings.es_watchlist_index,
                    alerts_index=settings.es_alerts_index, progress=lambda msg: click.echo(msg, err=True))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    erase.record(es, settings.es_audit_index, erasure)
    click.echo(f"erased {customer_id}: {erasure.mentions_deleted} mention(s), {erasure.profiles_deleted} profile(s), "
               f"{erasure.watchlists_updated} watchlist(s), {erasure.alerts_deleted} alert(s) deleted and "
               f"{erasure.alerts_scrubbed} redacted; "
               f"audit record {erasure.erasure_id} in {settings.es_audit_index}")


COMMANDS = [forget]
