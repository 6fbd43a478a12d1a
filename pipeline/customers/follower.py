"""Keep every worker's registry current: read the compacted registry topic from the start,
all partitions, no consumer group (every worker needs every link), then follow it.

Faust's GlobalTable would do this but is known to stall with several workers, so this
is a plain aiokafka consumer. `ready` is set once the topic has been read up to the
end offsets seen at start-up: normalize waits for it, so no mention is keyed before the
links that existed when the worker started are known.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer

from core import metrics
from pipeline.customers.registry import Registry, parse_record

log = logging.getLogger(__name__)


class RegistryFollower:
    def __init__(self, registry: Registry, bootstrap: str, topic: str):
        self.registry = registry
        self.bootstrap = bootstrap
        self.topic = topic
        self.ready = asyncio.Event()
        self.applied = 0

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker may be away; keep the links we have
                log.warning("registry follower failed; retrying", extra={"topic": self.topic, "error": repr(exc)[:300],
                                                                         "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _follow(self) -> None:
        # subscribed without a group: aiokafka assigns every partition and starts at the earliest offset
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            while not consumer.assignment():  # metadata may lag the topic's creation
                await asyncio.sleep(0.2)
            tps = sorted(consumer.assignment())
            ends = {tp: off for tp, off in (await consumer.end_offsets(tps)).items() if off > 0}
            if not ends:
                self._mark_ready()
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        try:
                            self.registry.apply(*parse_record(record.key, record.value))
                            self.applied += 1
                            metrics.REGISTRY_LINKS.set(len(self.registry))
                        except (ValueError, KeyError) as exc:
                            log.warning("bad registry record skipped", extra={"offset": record.offset,
                                                                              "error": str(exc)[:200]})
                for tp in list(ends):
                    if await consumer.position(tp) >= ends[tp]:
                        del ends[tp]
                if not ends:
                    self._mark_ready()
        finally:
            # aiokafka's no-group coordinator may surface its own cancelled task on stop
            with contextlib.suppress(asyncio.CancelledError):
                await consumer.stop()

    def _mark_ready(self) -> None:
        if not self.ready.is_set():
            log.info("customer registry loaded", extra={"topic": self.topic, "links": len(self.registry)})
            self.ready.set()
