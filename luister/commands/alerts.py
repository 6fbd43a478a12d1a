"""`luister alerts`: watch crisis alerts live, send a test alert, run delivery, replay a stream offline."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

import click

from core.settings import Settings

DESTINATIONS = ("slack", "pagerduty", "alertmanager", "webhook", "elasticsearch")
STATUS_COLOURS = {"open": "red", "update": "yellow", "resolved": "green", "acknowledged": "cyan"}


@click.group()
def alerts() -> None:
    """Crisis alerts: watch them live, test a destination, run delivery, replay a stream offline."""


def format_alert(alert, *, colour: bool = True) -> str:
    """One terminal line per alert version."""
    status = alert.status.value.upper()
    where = alert.brand + (f"/{alert.topic}" if alert.topic else "")
    stamp = alert.updated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    status_text = click.style(f"{status:<8}", fg=STATUS_COLOURS.get(alert.status.value), bold=True) if colour \
        else f"{status:<8}"
    return (f"{stamp}  {status_text} {alert.kind.value:<30} sev {alert.severity}  {where:<28} "
            f"v{alert.sequence}  {alert.summary}")


@alerts.command()
@click.option("--from-beginning", is_flag=True, help="Show the alerts already on the topic first.")
@click.option("--limit", type=int, default=None, help="Stop after this many alerts.")
@click.option("--idle-timeout", type=float, default=None, help="Stop after this many seconds without an alert.")
@click.option("--kind", type=click.Choice(["negative_surge", "severe_mention", "repeated_negativity_spreading"]),
              default=None, help="Only this kind.")
@click.option("--brand", default=None, help="Only this brand.")
@click.option("--json", "as_json", is_flag=True, help="Print each alert as one JSON line.")
@click.pass_obj
def tail(settings: Settings, from_beginning: bool, limit: int | None, idle_timeout: float | None, kind: str | None,
         brand: str | None, as_json: bool) -> None:
    """Show alerts live as they are published to the alerts topic (Ctrl-C to stop).

    Reads without a consumer group, so it never takes alerts away from delivery.
    """
    from kafka import KafkaConsumer, TopicPartition

    from schemas import Alert

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    shown = 0
    try:
        partitions = consumer.partitions_for_topic(settings.topic_alerts) or set()
        tps = [TopicPartition(settings.topic_alerts, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        click.echo(f"watching {settings.topic_alerts} on {settings.kafka_bootstrap} "
                   f"({len(tps)} partitions){' from the beginning' if from_beginning else ''}", err=True)
        last_seen = time.monotonic()
        while limit is None or shown < limit:
            records = [r for batch in consumer.poll(timeout_ms=500).values() for r in batch]
            if not records:
                if idle_timeout is not None and time.monotonic() - last_seen > idle_timeout:
                    break
                continue
            last_seen = time.monotonic()
            for record in sorted(records, key=lambda r: r.timestamp):
                try:
                    alert = Alert.model_validate_json(record.value)
                except ValueError as exc:
                    click.echo(f"(not an alert at {record.partition}/{record.offset}: {str(exc)[:100]})", err=True)
                    continue
                if (kind and alert.kind.value != kind) or (brand and alert.brand != brand):
                    continue
                click.echo(alert.model_dump_json() if as_json else format_alert(alert))
                shown += 1
                if limit is not None and shown >= limit:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


@alerts.command(name="test")
@click.option("--destination", "-d", type=click.Choice(DESTINATIONS), required=True,
              help="Where to send the test alert (configured in [alerts] / LUISTER_ALERTS__*).")
@click.option("--resolve/--no-resolve", default=True, show_default=True,
              help="Also send the resolve, so nothing stays open at the destination.")
@click.option("--attempts", type=int, default=3, show_default=True, help="Attempts per message before giving up.")
@click.pass_obj
def test_alert(settings: Settings, destination: str, resolve: bool, attempts: int) -> None:
    """Send a clearly marked test alert straight to one destination and report what it answered."""
    from schemas import AlertStatus
    from sinks.alerts.base import sample_alert

    now = datetime.now(timezone.utc)
    versions = [sample_alert(now)] + ([sample_alert(now, AlertStatus.resolved)] if resolve else [])
    ok = asyncio.run(_send_test(settings, destination, versions, attempts))
    raise SystemExit(0 if ok else 1)


async def _send_test(settings: Settings, destination: str, versions, attempts: int) -> bool:
    import aiohttp

    from sinks.alerts.base import deliver
    from sinks.alerts.registry import backoff, destinations

    if destination == "elasticsearch":
        from elasticsearch import AsyncElasticsearch

        from sinks.elasticsearch.alerts_index import alert_document, ensure_alerts_index

        async with AsyncElasticsearch(settings.es_url) as es:
            await ensure_alerts_index(es, settings.es_alerts_index)
            for alert in versions:
                doc_id, doc = alert_document(alert)
                await es.index(index=settings.es_alerts_index, id=doc_id,
                               document={**doc, "indexed_at": datetime.now(timezone.utc).isoformat()})
                click.echo(f"indexed {doc_id} in {settings.es_alerts_index}")
        return True
    configured = destinations(settings)
    if destination not in configured:
        click.echo(f"{destination} is not configured: set its URL (and key/secret) under [alerts] or "
                   f"LUISTER_ALERTS__*; see docs/crisis.md", err=True)
        return False
    dest = configured[destination]
    ok = True
    async with aiohttp.ClientSession() as session:
        for alert in versions:
            result = await deliver(session, dest, alert, backoff(settings),
                                   timeout=settings.alerts.request_timeout_seconds, max_attempts=attempts)
            verdict = "delivered" if result.delivered else "FAILED"
            click.echo(f"{alert.status.value:<8} -> {destination}: {verdict} after {result.attempts} attempt(s)"
                       f"{'' if result.delivered else ': ' + result.outcome.detail}")
            ok = ok and result.delivered
    return ok


@alerts.command()
@click.argument("alert_id")
@click.option("--by", "by", required=True, help="Who takes it (shown in Slack, kept in the alerts index).")
@click.option("--note", default="", help="A short note for the others on call.")
@click.pass_obj
def ack(settings: Settings, alert_id: str, by: str, note: str) -> None:
    """Acknowledge an open alert: PagerDuty stops escalating, Slack and the webhook hear who took it.

    Publishes an `acknowledged` version of the alert's latest version (found in the alerts index) to the
    alerts topic; the delivery consumers take it from there.
    """
    from schemas import AlertStatus

    latest = asyncio.run(_latest_version(settings, alert_id))
    if latest is None:
        raise click.ClickException(f"no alert {alert_id!r} in {settings.es_alerts_index}")
    if latest.status is AlertStatus.resolved:
        raise click.ClickException(f"{alert_id} is already resolved")
    acked = latest.model_copy(update={
        "status": AlertStatus.acknowledged, "updated_at": max(latest.updated_at, datetime.now(timezone.utc)),
        "evidence": {**latest.evidence, "acknowledged_by": by, **({"note": note} if note else {})}})
    from connectors.publisher import MentionPublisher

    with MentionPublisher(settings.kafka_bootstrap, settings.topic_alerts) as pub:
        pub.publish_bytes(acked.model_dump_json().encode(), key=acked.id.encode())
    click.echo(f"acknowledged {acked.version_id} by {by}")


async def _latest_version(settings: Settings, alert_id: str):
    from elasticsearch import AsyncElasticsearch, NotFoundError

    from schemas import Alert

    async with AsyncElasticsearch(settings.es_url) as es:
        try:
            found = await es.search(index=settings.es_alerts_index, size=1, query={"term": {"id": alert_id}},
                                    sort=[{"sequence": "desc"}, {"updated_at": "desc"}])
        except NotFoundError:
            return None
    hits = found["hits"]["hits"]
    if not hits:
        return None
    doc = {k: v for k, v in hits[0]["_source"].items() if k not in ("version_id", "indexed_at")}
    return Alert.model_validate_json(json.dumps(doc))


@alerts.command()
@click.option("--destination", "-d", "only", type=click.Choice(DESTINATIONS), multiple=True,
              help="Only these destinations (default: every configured one, plus Elasticsearch).")
@click.pass_obj
def deliver(settings: Settings, only: tuple[str, ...]) -> None:
    """Run the delivery consumers (one consumer group per destination) until Ctrl-C.

    Use this when delivery runs apart from the workers (alerts.deliver_in_worker = false).
    """
    from sinks.alerts.runner import build_sinks, run

    names = [s.name for s in build_sinks(settings, only)[0]]
    click.echo(f"delivering {settings.topic_alerts} to: {', '.join(names) or 'nothing configured'}", err=True)
    try:
        asyncio.run(run(settings, only))
    except KeyboardInterrupt:
        pass


@alerts.command()
@click.option("--count", type=int, default=4000, show_default=True, help="Mentions to generate.")
@click.option("--seed", type=int, default=11, show_default=True)
@click.option("--rate-per-minute", type=float, default=30.0, show_default=True)
@click.option("--daily", is_flag=True, help="Day/night rate curve (peak 14:00 UTC, a quarter at night).")
@click.option("--burst-brand", default=None, help="Inject a negative surge for this brand.")
@click.option("--burst-topic", default="storing", show_default=True)
@click.option("--burst-start-minutes", type=float, default=60.0, show_default=True)
@click.option("--burst-minutes", type=float, default=10.0, show_default=True)
@click.option("--burst-rate-per-minute", type=float, default=30.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON lines.")
@click.pass_obj
def simulate(settings: Settings, count: int, seed: int, rate_per_minute: float, daily: bool, burst_brand: str | None,
             burst_topic: str, burst_start_minutes: float, burst_minutes: float, burst_rate_per_minute: float,
             as_json: bool) -> None:
    """Replay a synthetic stream through crisis detection offline (no broker) with the current settings."""
    from datetime import timedelta

    from connectors.synthetic import DEFAULT_START, BurstSpec, daily_profile, generate
    from pipeline.crisis.simulate import Replay, classify

    burst = None
    if burst_brand:
        burst = BurstSpec(burst_brand, timedelta(minutes=burst_start_minutes), timedelta(minutes=burst_minutes),
                          burst_rate_per_minute, burst_topic)
    click.echo(f"generating and classifying {count} mentions…", err=True)
    mentions = classify([m for m, _ in generate(count, seed=seed, rate_per_minute=rate_per_minute, burst=burst,
                                                rate_profile=daily_profile() if daily else None)])
    replay = Replay(settings.crisis)
    replay.feed(mentions)
    replay.finish(settings.crisis.allowed_lateness_seconds + 3600)
    for alert in replay.alerts:
        click.echo(alert.model_dump_json() if as_json else format_alert(alert, colour=False))
    span = mentions[-1].created_at - mentions[0].created_at if mentions else timedelta(0)
    opens = [a for a in replay.alerts if a.status.value == "open"]
    click.echo(f"{len(mentions)} mentions over {span}; {len(opens)} alerts opened", err=True)
    if burst:
        start = DEFAULT_START + burst.start_offset
        hit = [a for a in opens if a.kind.value == "negative_surge" and a.brand == burst_brand and a.opened_at >= start]
        other = [a for a in opens if a not in hit[:1]]
        if hit:
            click.echo(f"detection delay: {(hit[0].opened_at - start).total_seconds():.1f}s (stream time); "
                       f"other alerts opened: {len(other)}", err=True)
        else:
            click.echo(f"the burst was NOT detected; other alerts opened: {len(other)}", err=True)


COMMANDS = [alerts]
