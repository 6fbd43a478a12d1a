"""`luister connect SOURCE --config FILE` runs one connector; `luister connectors` lists them."""
from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from core.settings import Settings


@click.command("connectors")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def connectors_command(name: str | None, as_json: bool) -> None:
    """List the connectors and their config keys (secrets come from env or secret files only)."""
    from connectors.registry import config_keys, connectors, lookup

    entries = [lookup(name)] if name else list(connectors().values())
    if as_json:
        click.echo(json.dumps({e.name: {"summary": e.summary, "keys": config_keys(e.config)} for e in entries},
                              indent=2, default=str))
        return
    for entry in entries:
        click.echo(f"{entry.name:<10} {entry.summary}")
        for key in config_keys(entry.config):
            if not name and key["key"] in _COMMON:
                continue
            if key["secret"]:
                value = f"SECRET (env {key['env']})"
            elif key["required"]:
                value = "required"
            else:
                value = f"default {json.dumps(key['default'], default=str)}"
            click.echo(f"    {key['key']:<34} {key['type']:<28} {value}" + (f"  {key['help']}" if key["help"] else ""))
        click.echo("")
    if not name:
        click.echo(f"every connector also takes: {', '.join(sorted(_COMMON))}  (see `luister connectors NAME`)")
        click.echo("aliases: x -> twitter, facebook/instagram -> meta, atom -> rss, jetstream -> bluesky")


_COMMON = {"name", "brands", "include_own_posts", "dedupe_window", "commit_every", "commit_interval_seconds",
           "backoff_initial_seconds", "backoff_max_seconds", "request_timeout_seconds", "max_payload_bytes",
           "user_agent"}


@click.command("connect")
@click.argument("source")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Connector TOML: top-level keys, or a [SOURCE] table (shared keys like [[brands]] at top level).")
@click.option("--name", default=None, help="Instance name: the checkpoint key and metrics label (default: config).")
@click.option("--checkpoint", default="kafka", show_default=True,
              help="Where the cursor lives: kafka (compacted topic), file:DIR, or none.")
@click.option("--dry-run", is_flag=True, help="Print mentions as JSON lines instead of publishing; save no cursor.")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus /metrics on this port.")
@click.pass_obj
def connect_command(settings: Settings, source: str, config_file: str | None, name: str | None, checkpoint: str,
                    dry_run: bool, metrics_port: int | None) -> None:
    """Run one connector until Ctrl-C / SIGTERM, e.g. `luister connect rss --config feeds.toml`.

    It resumes from its checkpoint, publishes RawMentions to the raw topic (bad payloads to
    the dead-letter topic) and commits its cursor after the broker acknowledged them.
    """
    from connectors.registry import connectors, lookup
    from connectors.runtime.config import ConfigError, load_config

    try:
        entry = lookup(source)
        overrides = {"name": name} if name else {}
        config = load_config(entry.config, config_file, known_kinds=set(connectors()) | {"replay"}, **overrides)
    except (KeyError, ConfigError) as exc:
        raise click.UsageError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    if metrics_port is not None:
        from core.metrics import serve_metrics

        # the shared server: /metrics, /healthz, /readyz on `metrics_host` (0.0.0.0 in a container)
        server = serve_metrics(metrics_port, component=f"connector-{entry.name}")
        click.echo(f"metrics on http://{settings.metrics_host}:{server.port}/metrics", err=True)
    if entry.live is None:
        _replay(settings, entry.name, config, dry_run)
        return
    sink, store = _outputs(settings, checkpoint, dry_run)
    connector = entry.live(config, sink, store)
    click.echo(f"{entry.name} connector {connector.name!r} starting "
               f"({'dry run' if dry_run else f'to {settings.topic_raw}, checkpoints: {checkpoint}'})", err=True)
    try:
        stats = asyncio.run(_run(connector))
    finally:
        sink.close()
        store.close()
    click.echo(f"stopped: published {stats.published}, duplicates {stats.duplicates}, unmatched {stats.unmatched}, "
               f"dead-lettered {stats.dead_lettered}, reconnects {stats.reconnects}", err=True)


def _outputs(settings: Settings, checkpoint: str, dry_run: bool) -> tuple[Any, Any]:
    from connectors.runtime.checkpoint import FileCheckpointStore, KafkaCheckpointStore, MemoryCheckpointStore
    from connectors.runtime.sink import KafkaMentionSink, StdoutSink

    if dry_run:
        return StdoutSink(), MemoryCheckpointStore()
    from core.kafka_admin import create_topics

    create_topics(settings)
    sink = KafkaMentionSink(settings.kafka_bootstrap, settings.topic_raw, settings.topic_dlq)
    if checkpoint == "kafka":
        store: Any = KafkaCheckpointStore(settings.kafka_bootstrap, settings.topic_connector_checkpoints,
                                          replication=settings.topic_replication)
    elif checkpoint.startswith("file:"):
        store = FileCheckpointStore(checkpoint.removeprefix("file:"))
    elif checkpoint == "none":
        store = MemoryCheckpointStore()
    else:
        raise click.UsageError("--checkpoint is kafka, file:DIR or none")
    return sink, store


async def _run(connector: Any) -> Any:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    progress = asyncio.create_task(_progress(connector))
    try:
        return await connector.run(stop)
    finally:
        progress.cancel()


async def _progress(connector: Any, every: float = 30.0) -> None:
    while True:
        await asyncio.sleep(every)
        s = connector.stats
        click.echo(f"  {connector.name}: published {s.published}, duplicates {s.duplicates}, "
                   f"unmatched {s.unmatched}, dead-lettered {s.dead_lettered}, reconnects {s.reconnects}", err=True)


def _replay(settings: Settings, kind: str, config: Any, dry_run: bool) -> None:
    from connectors.csv_replay import CsvReplayConnector
    from connectors.file_replay import FileReplayConnector
    from connectors.publisher import MentionPublisher

    path = Path(config.path)
    replay = CsvReplayConnector(path, restamp=config.restamp, delimiter=config.delimiter) if kind == "csv" \
        else FileReplayConnector(path, restamp=config.restamp)
    if dry_run:
        for n, record in enumerate(replay.records()):
            if config.limit is not None and n >= config.limit:
                break
            line = record.model_dump_json(exclude_none=True) if hasattr(record, "model_dump_json") \
                else "# invalid: " + record.decode("utf-8", "replace")
            sys.stdout.write(line + "\n")
        return
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
        stats = replay.run(publisher, limit=config.limit, rate_per_second=config.rate,
                           progress=lambda s: click.echo(f"  published {s.total}", err=True))
    click.echo(f"published {stats.total} records ({stats.valid} valid, {stats.passthrough} invalid, sent on for "
               f"dead-lettering) to {settings.topic_raw} in {stats.seconds:.1f}s")


COMMANDS = [connect_command, connectors_command]
