"""End to end on the real broker and node: a fake Jetstream -> BlueskyConnector -> Kafka
(mentions.raw, checkpoints in a compacted topic) -> Faust worker -> Elasticsearch.

The connector is stopped halfway and restarted as a separate `luister connect` process: it
resumes from the Kafka checkpoint, and every mention reaches Elasticsearch exactly once with
nothing extra on the raw topic. A malformed event lands on the dead-letter topic.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from websockets.asyncio.server import serve as ws_serve

from connectors.bluesky import BlueskyConfig, BlueskyConnector
from connectors.runtime.checkpoint import KafkaCheckpointStore
from connectors.runtime.sink import KafkaMentionSink
from core.kafka_admin import end_offsets, read_from
from harness.wait import wait_for
from schemas import DeadLetter, RawMention

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
T0 = 1_790_000_000_000_000
TEXTS = ["PakjePost heeft mijn pakket kwijtgemaakt", "Waarom is PakjePost altijd te laat?",
         "Top bezorger vandaag, dank PakjePost!", "mooi weer in Utrecht",
         "Vliegwel lost my luggage again", "Can Vliegwel refund my ticket?"]


def events(n: int) -> list[str]:
    out = []
    for i in range(n):
        if i == 7:
            out.append('{"did": "did:plc:broken", "time_us": ')  # malformed
            continue
        out.append(json.dumps({"did": f"did:plc:user{i % 5}", "time_us": T0 + i * 1000, "kind": "commit", "commit": {
            "rev": f"rev{i}", "operation": "create", "collection": "app.bsky.feed.post", "rkey": f"3lrk{i:05d}",
            "cid": f"bafy{i}", "record": {"$type": "app.bsky.feed.post", "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
                                          "createdAt": f"2026-10-01T09:{i // 60:02d}:{i % 60:02d}.000Z",
                                          "langs": ["nl" if i % 6 < 4 else "en"]}}}))
    return out


EVENTS = events(40)
EXPECTED = [f"bluesky:did:plc:user{i % 5}/app.bsky.feed.post/3lrk{i:05d}" for i in range(40)
            if i != 7 and i % len(TEXTS) != 3]


class ThreadedJetstream:
    """A Jetstream fake in its own thread, so a connector in another process can use it too."""

    def __init__(self) -> None:
        self.available = 20
        self.cursors: list[str | None] = []
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def _handler(self, ws):
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = int(query["cursor"][0]) if "cursor" in query else 0
        self.cursors.append(query.get("cursor", [None])[0])
        sent = 0
        while True:
            for e in EVENTS[sent:self.available]:
                sent += 1
                if T0 + (sent - 1) * 1000 >= cursor:  # replay from the cursor, like Jetstream
                    await ws.send(e)
            try:
                await asyncio.wait_for(ws.wait_closed(), 0.2)
                return
            except TimeoutError:
                continue

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with ws_serve(self._handler, "127.0.0.1", 0) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/subscribe"
            self.ready.set()
            await self._stop.wait()

    def __enter__(self) -> "ThreadedJetstream":
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        assert self.ready.wait(30)
        return self

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._main()

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


def _es_ids(es: Elasticsearch, alias: str) -> list[str]:
    if not es.indices.exists_alias(name=alias):
        return []
    es.indices.refresh(index=alias)
    return [h["_id"] for h in es.search(index=alias, size=200, query={"prefix": {"id": "bluesky:"}})["hits"]["hits"]]


def test_streaming_connector_to_elasticsearch_with_restart_through_the_cli(worker, settings, isolated_env, tmp_path):
    checkpoints = f"test-{uuid.uuid4().hex[:8]}.connectors.checkpoints"
    raw_start = end_offsets(settings.kafka_bootstrap, settings.topic_raw)
    dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)
    es = Elasticsearch(settings.es_url)
    config_file = tmp_path / "bluesky.toml"
    brands = '[[brands]]\nname = "PakjePost"\n\n[[brands]]\nname = "Vliegwel"\n\n'

    with ThreadedJetstream() as jetstream:
        config_file.write_text(brands + f'[bluesky]\nurl = "{jetstream.url}"\nrewind_seconds = 0.002\n'
                                        'commit_interval_seconds = 0.5\n')
        first_half = [i for i in EXPECTED if int(i[-5:]) < jetstream.available]
        # phase 1: in-process, real Kafka sink and checkpoint store
        config = BlueskyConfig(name="e2e-bluesky", url=jetstream.url, rewind_seconds=0.002,
                               brands=[{"name": "PakjePost"}, {"name": "Vliegwel"}])
        sink = KafkaMentionSink(settings.kafka_bootstrap, settings.topic_raw, settings.topic_dlq)
        store = KafkaCheckpointStore(settings.kafka_bootstrap, checkpoints)
        connector = BlueskyConnector(config, sink, store)

        async def phase_one():
            stop = asyncio.Event()
            task = asyncio.create_task(connector.run(stop))
            while connector.stats.published < len(first_half):
                assert not task.done(), task
                await asyncio.sleep(0.05)
            stop.set()
            return await task

        stats = asyncio.run(phase_one())
        sink.close()
        store.close()
        assert stats.published == len(first_half) and stats.dead_lettered == 1
        saved = KafkaCheckpointStore(settings.kafka_bootstrap, checkpoints)
        assert saved.load("e2e-bluesky").cursor["main"] == json.loads(EVENTS[19])["time_us"]
        saved.close()

        # phase 2: more posts arrive; a separate `luister connect` process resumes from the checkpoint
        jetstream.available = len(EVENTS)
        env = {**os.environ, **isolated_env, "LUISTER_TOPIC_CONNECTOR_CHECKPOINTS": checkpoints}
        log_path = tmp_path / "connect.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "luister.cli", "connect", "bluesky", "--config",
                                     str(config_file), "--name", "e2e-bluesky"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: len(read_from(settings.kafka_bootstrap, settings.topic_raw, raw_start)) >= len(EXPECTED)
                     or proc.poll() is not None, timeout=60, what="the rest of the posts on the raw topic")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        output = log_path.read_text()
        assert proc.returncode == 0, output
        assert "resuming from checkpoint" in output and "stopped: published" in output

    assert jetstream.cursors[0] is None and int(jetstream.cursors[-1]) == json.loads(EVENTS[19])["time_us"] - 2000
    raw = [RawMention.model_validate_json(v) for v in read_from(settings.kafka_bootstrap, settings.topic_raw,
                                                                raw_start)]
    assert sorted(m.id for m in raw) == sorted(EXPECTED), "nothing missing (order holds per partition only)"
    assert len(raw) == len(set(m.id for m in raw)), "no duplicates on the raw topic across the restart"
    letters = [DeadLetter.model_validate_json(v) for v in read_from(settings.kafka_bootstrap, settings.topic_dlq,
                                                                    dlq_start)]
    mine = [d for d in letters if d.stage == "connector.e2e-bluesky"]
    assert len(mine) == 1 and mine[0].reason.value == "malformed_json"
    # every mention reached Elasticsearch through the pipeline, classified
    ids = wait_for(lambda: (lambda got: got if sorted(got) == sorted(EXPECTED) else None)(
        _es_ids(es, settings.es_write_alias)), timeout=90, what=f"{len(EXPECTED)} documents in Elasticsearch")
    assert len(ids) == len(EXPECTED)
    doc = es.search(index=settings.es_write_alias, query={"ids": {"values": [EXPECTED[0]]}})["hits"]["hits"][0][
        "_source"]
    assert doc["source"] == "bluesky" and doc["brand"] == "PakjePost" and doc["type"] and doc["sentiment"]
