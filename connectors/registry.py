"""Every connector `luister connect` can run, by name, with its config keys."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.live import LiveConnector


class ReplayConfig(ConnectorConfig):
    """File replay (JSONL or CSV): published as fast as asked, no checkpoint."""

    model_config = SettingsConfigDict(env_prefix="LUISTER_REPLAY_")
    kind = "replay"

    path: str = Field(description="the file to replay")
    rate: float | None = Field(None, gt=0, description="mentions per second (default: as fast as possible)")
    limit: int | None = Field(None, ge=1, description="stop after this many records")
    restamp: bool = Field(True, description="set ingested_at to the publish time")


class JsonlConfig(ReplayConfig):
    kind = "jsonl"


class CsvConfig(ReplayConfig):
    kind = "csv"
    delimiter: str = Field(",", min_length=1, max_length=1)


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    config: type[ConnectorConfig]
    live: type[LiveConnector] | None  # None: a file replay


def _entries() -> dict[str, Entry]:
    from connectors.bluesky import BlueskyConnector
    from connectors.mastodon import MastodonConnector
    from connectors.meta import MetaWebhookConnector
    from connectors.reddit import RedditConnector
    from connectors.rss import RssConnector
    from connectors.twitter import TwitterConnector
    from connectors.webhook import WebhookIngestConnector

    live = [RssConnector, MastodonConnector, BlueskyConnector, RedditConnector, TwitterConnector,
            MetaWebhookConnector, WebhookIngestConnector]
    entries = {c.kind: Entry(c.kind, c.summary, c.Config, c) for c in live}
    entries["jsonl"] = Entry("jsonl", "Replay a JSONL file of RawMentions (bad lines go to the DLQ via normalize)",
                             JsonlConfig, None)
    entries["csv"] = Entry("csv", "Replay a CSV export of mentions (bad rows go to the DLQ via normalize)",
                           CsvConfig, None)
    return entries


ALIASES = {"x": "twitter", "facebook": "meta", "instagram": "meta", "atom": "rss", "jetstream": "bluesky"}


def connectors() -> dict[str, Entry]:
    return _entries()


def lookup(name: str) -> Entry:
    entries = _entries()
    key = ALIASES.get(name.lower(), name.lower())
    if key not in entries:
        raise KeyError(f"unknown connector {name!r}; choose one of {', '.join(sorted(entries))}")
    return entries[key]


def config_keys(config: type[ConnectorConfig]) -> list[dict[str, Any]]:
    """The keys of a connector's config: name, type, default, description, secret + env name."""
    secrets = set(config.secret_fields())
    keys = []
    for name, f in config.model_fields.items():
        required = f.is_required()
        default = None if required else f.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump()
        keys.append({"key": name, "type": _type_name(f.annotation), "required": required,
                     "default": None if name in secrets else default, "secret": name in secrets,
                     "env": config.env_name(name), "help": f.description or ""})
    return keys


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if not getattr(annotation, "__args__", None) else None
    return text or str(annotation).replace("typing.", "").replace("pydantic.types.", "") \
        .replace("connectors.", "").replace("schemas.mention.", "")
