"""The Faust application, and nothing else: stages register on it from their own modules,
which pipeline/worker.py imports. Run a worker with either of:

    luister worker
    faust -A pipeline.worker worker -l info

Settings come from core.settings (env LUISTER_*, or the TOML file named by LUISTER_CONFIG). What
takes time or reads files beyond that (the model, the triage config, the customer registry) is
loaded when the worker starts (pipeline/resources.py), not here.
"""
from __future__ import annotations

import faust

from core.logs import dict_config, setup_logging
from core.settings import Settings, get_settings
from pipeline.consumer import InOrderTransport
from pipeline.faust_compat import AppWithTransport, check_version


class LuisterApp(AppWithTransport):
    # the aiokafka transport with a consumer that never skips offsets (pipeline/consumer.py)
    transport_class = InOrderTransport


def broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def create_app(settings: Settings) -> LuisterApp:
    check_version()
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    created = LuisterApp(
        settings.app_id,
        broker=broker_url(settings.kafka_bootstrap),
        key_serializer="raw",
        value_serializer="raw",  # the schemas, not Faust records, are the contract: we parse ourselves
        datadir=str(settings.worker_data_dir),
        store=settings.store,  # rocksdb:// (rocksdict) keeps customer state on disk; tables recover from changelogs
        web_host=settings.metrics_host,
        web_port=settings.worker_web_port,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        producer_linger=settings.kafka_producer_linger_seconds,  # batch the many small sends between stages
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        logging_config=dict_config(settings.log_level, settings.log_format),  # Faust re-configures logging at start
    )

    @created.on_configured.connect
    def _configure_logging(app: faust.App, conf, **kwargs) -> None:  # noqa: ARG001
        setup_logging(settings.log_level, settings.log_format)

    return created


settings = get_settings()
app = create_app(settings)
