"""Connector configuration: a TOML file for the shape, env or secret files for secrets.

Precedence (highest first): environment `LUISTER_<KIND>_<KEY>`, a secret file
`<secrets_dir>/luister_<kind>_<key>` (dir from `LUISTER_SECRETS_DIR`), the config file.
Secret fields (`SecretStr`) are refused in the config file and never printed: their repr is
`'**********'`.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.runtime.matching import BrandRule


class ConfigError(ValueError):
    pass


class BrandConfig(BaseModel):
    """A brand to listen for: its keywords and its own accounts on this platform."""

    name: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list, description="matched case-insensitively as whole words")
    own_accounts: list[str] = Field(default_factory=list,
                                    description="handles, page ids, subreddits or DIDs of the brand's own profiles")


class ConnectorConfig(BaseSettings):
    """Keys every connector understands."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix="LUISTER_CONNECTOR_", env_nested_delimiter="__")
    kind: ClassVar[str] = "connector"

    name: str | None = Field(None, description="instance name: checkpoint key and metrics label (default: the kind)")
    brands: list[BrandConfig] = Field(default_factory=list, description="[[brands]] name, keywords, own_accounts")
    include_own_posts: bool = Field(False, description="also publish posts written by the brand's own accounts")
    dedupe_window: int = Field(10_000, ge=100, description="native ids remembered (and checkpointed) for dedupe")
    commit_every: int = Field(100, ge=1, description="commit the cursor after this many items")
    commit_interval_seconds: float = Field(5.0, gt=0, description="... or after this many seconds")
    backoff_initial_seconds: float = Field(1.0, gt=0, description="first wait after an error (exponential, jittered)")
    backoff_max_seconds: float = Field(300.0, gt=0, description="longest wait after repeated errors")
    request_timeout_seconds: float = Field(30.0, gt=0)
    max_payload_bytes: int = Field(1024 * 1024, ge=1024, description="larger payloads are dead-lettered")
    user_agent: str = "luister-connector/0.1"

    @property
    def instance(self) -> str:
        return self.name or self.kind

    def brand_rules(self) -> list[BrandRule]:
        return [BrandRule.build(b.name, b.keywords, b.own_accounts) for b in self.brands]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the file's values arrive as init kwargs: env and secret files win over them
        return env_settings, file_secret_settings, init_settings

    @classmethod
    def secret_fields(cls) -> list[str]:
        return [name for name, f in cls.model_fields.items() if _is_secret(f.annotation)]

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(a) for a in getattr(annotation, "__args__", ()) or ())


def read_config_file(path: str | Path | None, kind: str, known_kinds: set[str]) -> dict[str, Any]:
    """Top-level keys apply to every connector; a `[kind]` table overrides them for one."""
    if path is None:
        return {}
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    common = {k: v for k, v in data.items() if k not in known_kinds}
    section = data.get(kind, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{kind}] in {path} must be a table")
    return {**common, **section}


def load_config(cls: type[ConnectorConfig], path: str | Path | None = None, *, known_kinds: set[str] | None = None,
                **overrides: Any) -> ConnectorConfig:
    values = {**read_config_file(path, cls.kind, known_kinds or {cls.kind}), **overrides}
    in_file = [k for k in cls.secret_fields() if k in values and k not in overrides]
    if in_file:
        hints = ", ".join(f"{k} (env {cls.env_name(k)})" for k in in_file)
        raise ConfigError(f"secrets must come from the environment or a secret file, not from {path}: {hints}")
    secrets_dir = os.environ.get("LUISTER_SECRETS_DIR")
    try:
        return cls(**values, _secrets_dir=secrets_dir) if secrets_dir else cls(**values)
    except ValidationError as exc:  # without the input values: they could be secrets
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise ConfigError(f"invalid {cls.kind} connector config{f' in {path}' if path else ''}: {problems}") from None
