"""Prometheus Alertmanager API v2: POST <base>/api/v2/alerts with a list of postable alerts.

Alertmanager identifies an alert by its label set, so the labels are the stable ones (alertname,
kind, brand, topic, alert_id) plus `severity` for routing. Because an escalation changes `severity`,
it also ends the lower-severity copies (endsAt = now). An open alert gets endsAt = updated_at +
`active_hours` (Alertmanager resolves an alert that is not re-sent before its endsAt); the resolve
sends endsAt = resolved_at. Acknowledgements are not sent (Alertmanager silences instead). Alertmanager
answers 200.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from schemas import Alert, AlertStatus
from sinks.alerts.base import SEVERITY_NAMES, Destination, HttpRequest, links_of

_ALERTNAMES = {"negative_surge": "LuisterNegativeSurge", "severe_mention": "LuisterSevereMention",
               "repeated_negativity_spreading": "LuisterRepeatedNegativitySpreading"}


def _rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def postable_alerts(alert: Alert, *, now: datetime, active_hours: float = 24.0, generator_url: str = "") -> list[dict]:
    labels = {"alertname": _ALERTNAMES.get(alert.kind.value, "LuisterAlert"), "kind": alert.kind.value,
              "brand": alert.brand, "alert_id": alert.id, "source": "luister"}
    if alert.topic:
        labels["topic"] = alert.topic
    annotations = {"summary": alert.summary, "status": alert.status.value, "version": str(alert.sequence)}
    signal = alert.evidence.get("signal") or {}
    if signal:
        annotations["description"] = (f"{signal.get('negative')} negative mentions in {signal.get('window_seconds')}s, "
                                      f"{signal.get('expected_negative')} expected ({signal.get('ratio')}x)")
    links = links_of(alert)
    if links:
        annotations["links"] = " ".join(links)
    if alert.mention_ids:
        annotations["mention_ids"] = ",".join(alert.mention_ids[:20])
    if alert.status is AlertStatus.resolved:
        ends = alert.resolved_at or alert.updated_at
    else:
        ends = alert.updated_at + timedelta(hours=active_hours)
    url = generator_url or (links[0] if links else "")
    out = []
    for severity in range(alert.severity, -1, -1):
        item = {"labels": {**labels, "severity": SEVERITY_NAMES[severity]}, "annotations": annotations,
                "startsAt": _rfc3339(alert.opened_at),
                "endsAt": _rfc3339(ends if severity == alert.severity else min(now, ends))}
        if url:
            item["generatorURL"] = url
        out.append(item)
        if alert.status is AlertStatus.open and alert.sequence == 0:
            break  # nothing lower to end on the first version
    return out


class AlertmanagerDestination(Destination):
    name = "alertmanager"

    def __init__(self, base_url: str, *, min_severity: int = 1, active_hours: float = 24.0, generator_url: str = ""):
        super().__init__(re.sub(r"/+$", "", base_url) + "/api/v2/alerts", min_severity=min_severity)
        self.active_hours = active_hours
        self.generator_url = generator_url

    def wants(self, alert: Alert) -> bool:
        # Alertmanager has no acknowledgement (that is a silence, made by a person in Alertmanager)
        return alert.status is not AlertStatus.acknowledged and super().wants(alert)

    def build(self, alert: Alert, *, now: datetime) -> HttpRequest:
        body = postable_alerts(alert, now=now, active_hours=self.active_hours, generator_url=self.generator_url)
        return HttpRequest(self.url, json.dumps(body, ensure_ascii=False).encode(),
                           {"Content-Type": "application/json"})
