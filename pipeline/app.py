"""The Faust application. Run a worker with either of:

    faust -A pipeline.app worker -l info
    luister worker

Settings come from luister.config (env LUISTER_*, or the file named by LUISTER_CONFIG).
"""
from __future__ import annotations

import faust

from luister.config import get_settings
from luister.logs import dict_config, setup_logging

settings = get_settings()


def _broker_url(bootstrap: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


settings.worker_data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level

class LuisterApp(faust.App):
    def _new_transport(self):
        # the aiokafka transport with a consumer that never skips offsets (pipeline/consumer.py)
        from pipeline.consumer import InOrderTransport

        return InOrderTransport(self.conf.broker_consumer, self)


app = LuisterApp(
    settings.app_id,
    broker=_broker_url(settings.kafka_bootstrap),
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


@app.on_configured.connect
def _configure_logging(app: faust.App, conf, **kwargs) -> None:  # noqa: ARG001
    setup_logging(settings.log_level, settings.log_format)


# Importing registers the topics, agents and web views on `app`.
from pipeline import agents, profile, topics, web  # noqa: E402,F401
from pipeline.crisis import agents as crisis_agents  # noqa: E402,F401
