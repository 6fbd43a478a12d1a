"""Connectors: pull or receive mentions and publish `RawMention`s to Kafka."""
