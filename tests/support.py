"""Diagnosis for end-to-end tests. Running the pipeline (a worker process, waiting, isolated
names) is in the `harness` package, which the benchmarks and the demo use too."""
from __future__ import annotations


def searchable(es, settings, mention_id: str) -> dict | None:
    """The mention's document as a search finds it now (after a refresh), or None."""
    es.indices.refresh(index=settings.es_write_alias)
    hits = es.search(index=settings.es_write_alias, query={"ids": {"values": [mention_id]}})["hits"]["hits"]
    return hits[0]["_source"] if hits else None


def where_mentions_stopped(settings, missing_ids: set[str]) -> str:
    """For a failed end-to-end wait: on which pipeline topics each missing mention id appears,
    and how far the worker group committed on each partition. Kafka is the truth: this tells
    whether a mention was never produced to the next stage or produced and then skipped."""
    import json

    from kafka import KafkaConsumer, TopicPartition

    stages = [settings.topic_raw, settings.topic_normalized, settings.topic_enriched, settings.topic_classified,
              settings.topic_dlq]
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=3000, auto_offset_reset="earliest")
    # same group id, never subscribed: it only reads the group's committed offsets, it doesn't join
    group = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id,
                          enable_auto_commit=False)
    try:
        lines = []
        for topic in stages:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            if not tps:
                continue
            ends = consumer.end_offsets(tps)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            found: dict[str, list[str]] = {}
            for record in consumer:
                text = (record.value or b"").decode(errors="replace")
                for mention_id in missing_ids:
                    if f"\"{mention_id}\"" in text:
                        found.setdefault(mention_id, []).append(f"p{record.partition}@{record.offset}")
                if all(consumer.position(tp) >= ends[tp] for tp in tps):
                    break
            offsets = ", ".join(f"p{tp.partition}: committed {group.committed(tp)} / end {ends[tp]}" for tp in tps)
            lines.append(f"  {topic}: {json.dumps(found)}; {offsets}")
        return "Where the missing mentions are:\n" + "\n".join(lines)
    finally:
        consumer.close()
        group.close()
