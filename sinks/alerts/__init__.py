"""Alert delivery: the alerts topic to Slack, PagerDuty, Alertmanager, a signed webhook and Elasticsearch.

One consumer per destination, each in its own consumer group, commits an alert's offset only after the
destination accepted it (docs/crisis.md, "Delivery").
"""
