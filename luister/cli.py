"""The `luister` command. Every subcommand has `--help`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from core.logs import setup_logging
from core.paths import PROJECT_ROOT
from core.settings import Settings, load_settings
from luister import __version__
from luister.commands import register_all

SERVICES_SCRIPT = PROJECT_ROOT / "deploy" / "local" / "services.py"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              envvar="LUISTER_CONFIG", help="TOML config file (keys as in core/settings/__init__.py); env LUISTER_* wins.")
@click.version_option(__version__, prog_name="luister")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """Luister: hear every public mention, classify it, index it, alert on a crisis."""
    settings = load_settings(config_file)
    setup_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


# ------------------------------------------------------------------ services

@main.group()
def services() -> None:
    """Local Kafka (KRaft) and Elasticsearch for development, tests and the demo."""


for _name, _help in (("fetch", "Download Kafka's jars and Elasticsearch (cached)."),
                     ("up", "Start Kafka and Elasticsearch on 127.0.0.1 and wait until healthy."),
                     ("down", "Stop the services that `up` started."),
                     ("status", "Show whether each service runs and answers.")):
    def _make(name: str):
        def command() -> None:
            sys.exit(subprocess.call([sys.executable, str(SERVICES_SCRIPT), name]))
        return command
    services.command(name=_name, help=_help + " (see deploy/local/services.py --help for ports)")(_make(_name))


# ------------------------------------------------------------------ setup

@main.command()
@click.pass_obj
def setup(settings: Settings) -> None:
    """Create the Kafka topics and the Elasticsearch index template and index (idempotent)."""
    from core.kafka_admin import create_topics

    created = create_topics(settings)
    click.echo(f"topics: {', '.join(created) if created else 'all present'}")
    from sinks.elasticsearch.index import ensure_mention_index

    index = ensure_mention_index(settings.es_url, settings.es_index_prefix, settings.es_refresh_interval)
    click.echo(f"index: {index} (alias {settings.es_write_alias})")


# ------------------------------------------------------------------ worker

@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--loglevel", "-l", default="info", show_default=True, help="Faust worker log level.")
@click.option("--web-port", type=int, default=None, help="Port of /metrics and /healthz (default: setting).")
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def worker(settings: Settings, loglevel: str, web_port: int | None, faust_args: tuple[str, ...]) -> None:
    """Run a Faust worker of the pipeline (same as `faust -A pipeline.worker worker`).

    Start more workers (each with its own --web-port) to scale out: they share the
    work through Kafka's consumer group.
    """
    env = dict(os.environ)
    if web_port is not None:
        env["LUISTER_WORKER_WEB_PORT"] = str(web_port)
    cmd = [sys.executable, "-m", "faust", "-A", "pipeline.worker", "worker", "-l", loglevel,
           "--web-port", str(web_port or settings.worker_web_port), *faust_args]
    os.execvpe(cmd[0], cmd, env)


# ------------------------------------------------------------------ connectors

@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--rate", type=float, default=None, help="Mentions per second (default: as fast as possible).")
@click.option("--limit", type=int, default=None, help="Stop after this many records.")
@click.pass_obj
def replay(settings: Settings, path: str, rate: float | None, limit: int | None) -> None:
    """Replay a JSONL file of mentions into the raw topic (bad lines go on to the DLQ)."""
    from connectors.file_replay import FileReplayConnector
    from connectors.publisher import MentionPublisher

    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
        stats = FileReplayConnector(path).run(
            publisher, limit=limit, rate_per_second=rate,
            progress=lambda s: click.echo(f"  published {s.total}", err=True))
    click.echo(f"published {stats.total} records ({stats.valid} valid, {stats.passthrough} invalid, sent on for "
               f"dead-lettering) to {settings.topic_raw} in {stats.seconds:.1f}s")


@main.command()
@click.option("--count", type=int, default=500, show_default=True, help="How many mentions (burst included).")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same stream.")
@click.option("--rate-per-minute", type=float, default=30.0, show_default=True, help="Stream-time pace of posts.")
@click.option("--burst-brand", default=None, help="Inject a negative surge for this brand (e.g. PakjePost).")
@click.option("--burst-topic", default="storing", show_default=True, help="What the surge is about.")
@click.option("--burst-start-minutes", type=float, default=10.0, show_default=True)
@click.option("--burst-minutes", type=float, default=15.0, show_default=True)
@click.option("--burst-rate-per-minute", type=float, default=20.0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write JSONL here ('-' for stdout).")
@click.option("--publish", is_flag=True, help="Publish to the raw topic instead of writing a file.")
@click.pass_obj
def generate(settings: Settings, count: int, seed: int, rate_per_minute: float, burst_brand: str | None,
             burst_topic: str, burst_start_minutes: float, burst_minutes: float, burst_rate_per_minute: float,
             out: str | None, publish: bool) -> None:
    """Generate realistic Dutch and English synthetic mentions (seeded), optionally with a crisis burst."""
    from datetime import timedelta

    from connectors.synthetic import BurstSpec, SyntheticConnector, to_json_line
    from connectors.synthetic import generate as generate_mentions

    if publish == (out is not None):
        raise click.UsageError("give exactly one of --out FILE or --publish")
    burst = None
    if burst_brand:
        burst = BurstSpec(brand=burst_brand, start_offset=timedelta(minutes=burst_start_minutes),
                          duration=timedelta(minutes=burst_minutes), rate_per_minute=burst_rate_per_minute,
                          topic=burst_topic)
    if publish:
        from connectors.publisher import MentionPublisher

        with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
            stats = SyntheticConnector(count, seed=seed, rate_per_minute=rate_per_minute, burst=burst).run(
                publisher, progress=lambda s: click.echo(f"  published {s.total}", err=True), progress_every=500)
        click.echo(f"published {stats.valid} mentions to {settings.topic_raw} in {stats.seconds:.1f}s")
        return
    stream = click.open_file(out, "w", encoding="utf-8")
    with stream:
        for mention, _label in generate_mentions(count, seed=seed, rate_per_minute=rate_per_minute, burst=burst):
            stream.write(to_json_line(mention) + "\n")


# ------------------------------------------------------------------ schemas

@main.command()
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Write one <Model>.schema.json per model into this folder instead of printing.")
@click.option("--model", type=click.Choice(["RawMention", "ClassifiedMention", "Alert", "DeadLetter"]), default=None,
              help="Only this model.")
def schemas(out: str | None, model: str | None) -> None:
    """Export the JSON Schema of the contracts between stages."""
    from schemas import ALL_MODELS

    chosen = {model: ALL_MODELS[model]} if model else ALL_MODELS
    documents = {name: cls.model_json_schema() for name, cls in chosen.items()}
    if out is None:
        click.echo(json.dumps(documents if model is None else documents[model], indent=2, ensure_ascii=False))
        return
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, doc in documents.items():
        (folder / f"{name}.schema.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        click.echo(f"wrote {folder / f'{name}.schema.json'}")


# ------------------------------------------------------------------ demo

@main.command()
@click.option("--sample", type=click.Path(exists=True, dir_okay=False),
              default=str(PROJECT_ROOT / "data" / "sample" / "mentions.jsonl"), show_default=True,
              help="JSONL file to stream through the pipeline.")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds to wait for every mention to be indexed or dead-lettered.")
@click.option("--keep-services/--stop-services", default=True, show_default=True,
              help="Leave Kafka and Elasticsearch running afterwards (to explore the data).")
@click.pass_obj
def demo(settings: Settings, sample: str, timeout: float, keep_services: bool) -> None:
    """Start the services, stream the bundled sample through the whole pipeline, print a summary."""
    from luister.demo import run_demo

    sys.exit(run_demo(settings, Path(sample), timeout=timeout, keep_services=keep_services))


register_all(main)

if __name__ == "__main__":
    main()
