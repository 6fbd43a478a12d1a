"""The destinations that the settings enable."""
from __future__ import annotations

from core.settings import Settings
from sinks.alerts.alertmanager import AlertmanagerDestination
from sinks.alerts.base import Backoff, Destination
from sinks.alerts.pagerduty import PagerDutyDestination
from sinks.alerts.slack import SlackDestination
from sinks.alerts.webhook import WebhookDestination

NAMES = ("slack", "pagerduty", "alertmanager", "webhook")


def destinations(settings: Settings) -> dict[str, Destination]:
    a = settings.alerts
    out: dict[str, Destination] = {}
    if a.slack_url.get_secret_value():
        out["slack"] = SlackDestination(a.slack_url.get_secret_value(), min_severity=a.slack_min_severity)
    if a.pagerduty_routing_key.get_secret_value() and a.pagerduty_url:
        out["pagerduty"] = PagerDutyDestination(a.pagerduty_url, a.pagerduty_routing_key.get_secret_value(),
                                                min_severity=a.pagerduty_min_severity, client_url=a.source_url)
    if a.alertmanager_url:
        out["alertmanager"] = AlertmanagerDestination(a.alertmanager_url, min_severity=a.alertmanager_min_severity,
                                                      active_hours=a.alertmanager_active_hours,
                                                      generator_url=a.source_url)
    if a.webhook_url:
        out["webhook"] = WebhookDestination(a.webhook_url, a.webhook_secret.get_secret_value(), min_severity=a.webhook_min_severity)
    return out


def backoff(settings: Settings) -> Backoff:
    a = settings.alerts
    return Backoff(a.retry_initial_seconds, a.retry_max_seconds, a.retry_after_max_seconds)
