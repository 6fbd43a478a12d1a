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

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LUISTER_", extra="forbid", validate_default=True)

    # --- Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_raw: str = "mentions.raw"
    topic_normalized: str = "mentions.normalized"
    topic_classified: str = "mentions.classified"
    topic_dlq: str = "mentions.dlq"
    topic_alerts: str = "alerts"
    topic_partitions: int = Field(4, ge=1, description="partitions of every topic Luister creates")
    topic_replication: int = Field(1, ge=1)

    # --- Faust worker
    app_id: str = "luister"
    worker_data_dir: Path = PROJECT_ROOT / ".cache" / "faust"
    worker_web_port: int = 6066
    classify_batch_size: int = Field(64, ge=1)
    normalize_batch_size: int = Field(200, ge=1)
    batch_within_seconds: float = Field(0.5, gt=0, description="max wait to fill a batch")
    classifier: Literal["baseline"] = "baseline"

    # --- Elasticsearch
    es_url: str = "http://127.0.0.1:9200"
    es_index_prefix: str = "luister-mentions"
    es_bulk_size: int = Field(500, ge=1, description="documents per bulk request")
    es_bulk_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    es_sink_within_seconds: float = Field(1.0, gt=0)
    es_retry_initial_seconds: float = Field(0.5, gt=0)
    es_retry_max_seconds: float = Field(30.0, gt=0)
    es_request_timeout: float = Field(30.0, gt=0)

    # --- Operations
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

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
