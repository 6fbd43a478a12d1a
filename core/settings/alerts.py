"""Alert delivery settings: `Settings.alerts` (TOML table `[alerts]`, env `LUISTER_ALERTS__<NAME>`).

A destination is enabled when its URL (and, for PagerDuty, its routing key) is set.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deliver_in_worker: bool = Field(True, description="run the delivery consumers inside `luister worker`")
    group_prefix: str = Field("", description="consumer group prefix; empty: <app_id>-alerts")
    index_in_elasticsearch: bool = Field(True, description="index every alert version in es_alerts_index")

    retry_initial_seconds: float = Field(1.0, gt=0)
    retry_max_seconds: float = Field(300.0, gt=0, description="cap of the exponential backoff")
    retry_after_max_seconds: float = Field(3600.0, gt=0, description="cap of a destination's Retry-After")
    request_timeout_seconds: float = Field(10.0, gt=0)

    # secrets: SecretStr, so a settings dump, a log line or an error never shows them
    slack_url: SecretStr = Field(SecretStr(""), description="Slack incoming webhook URL (it embeds its secret)")
    slack_min_severity: int = Field(1, ge=0, le=3)

    pagerduty_url: str = Field(PAGERDUTY_EVENTS_URL, description="Events API v2 enqueue endpoint")
    pagerduty_routing_key: SecretStr = Field(SecretStr(""), description="integration key of an Events API v2 "
                                                                       "integration")
    pagerduty_min_severity: int = Field(2, ge=0, le=3, description="page on-call from this severity up")

    alertmanager_url: str = Field("", description="Alertmanager base URL; alerts go to <url>/api/v2/alerts")
    alertmanager_min_severity: int = Field(1, ge=0, le=3)
    alertmanager_active_hours: float = Field(24.0, gt=0, description="endsAt of an open alert: Alertmanager "
                                                                     "would resolve an alert not re-sent by then")

    webhook_url: str = Field("", description="generic JSON webhook, signed with HMAC-SHA256")
    webhook_secret: SecretStr = Field(SecretStr(""), description="HMAC key of the webhook signature")
    webhook_min_severity: int = Field(0, ge=0, le=3)

    source_url: str = Field("", description="link back to Luister (a dashboard), used as client_url/generatorURL")
