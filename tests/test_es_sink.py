"""The bulk writer against the real Elasticsearch node: idempotent, retries through an
outage, rejects (not drops) what the mapping refuses."""
from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlparse

import pytest
from elasticsearch import AsyncElasticsearch

from core.settings import Settings
from harness.isolation import drop_index_family
from sinks.elasticsearch import BulkWriter, ensure_index
from sinks.elasticsearch.mapping import mention_properties

pytestmark = pytest.mark.e2e


def _doc(i: int) -> tuple[str, dict]:
    return f"test:{i}", {"id": f"test:{i}", "text": f"pakketten nummer {i}", "brand": "PakjePost", "source": "twitter"}


class TcpGate:
    """A loopback TCP forwarder to Elasticsearch that can be closed (an outage) and opened."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.server: asyncio.base_events.Server | None = None
        self.port: int | None = None

    async def open(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:  # the test's loop is closing
            pass


@pytest.fixture
def prefix(services):
    prefix = f"luister-sinktest-{uuid.uuid4().hex[:8]}"
    yield prefix
    drop_index_family(Settings().es_url, prefix)


def test_template_maps_every_schema_field_and_analyzers_exist(prefix):
    async def go():
        async with AsyncElasticsearch(Settings().es_url) as es:
            name = await ensure_index(es, prefix)
            assert await ensure_index(es, prefix) == name  # idempotent
            mapping = (await es.indices.get_mapping(index=prefix))[name]["mappings"]
            nl = await es.indices.analyze(index=name, field="text.nl", text="De klachten over pakketten")
            en = await es.indices.analyze(index=name, field="text.en", text="The parcels were delivered")
            return mapping, [t["token"] for t in nl["tokens"]], [t["token"] for t in en["tokens"]]

    mapping, nl_tokens, en_tokens = asyncio.run(go())
    assert mapping["dynamic"] == "strict"
    assert set(mapping["properties"]) == set(mention_properties())
    assert nl_tokens == ["klacht", "pakket"]
    assert en_tokens == ["parcel", "were", "deliv"]


def test_replayed_ids_overwrite_instead_of_duplicating(prefix):
    async def go():
        async with AsyncElasticsearch(Settings().es_url) as es:
            await ensure_index(es, prefix)
            writer = BulkWriter(es, prefix, chunk_size=7)
            docs = [_doc(i) for i in range(30)]
            first = await writer.write(docs)
            second = await writer.write(docs)
            await es.indices.refresh(index=prefix)
            return first, second, (await es.count(index=prefix))["count"]

    first, second, count = asyncio.run(go())
    assert (first.indexed, second.indexed, count) == (30, 30, 30)
    assert not first.rejected and not second.rejected


def test_mapping_conflict_is_rejected_with_reason_not_dropped(prefix):
    async def go():
        async with AsyncElasticsearch(Settings().es_url) as es:
            await ensure_index(es, prefix)
            docs = [_doc(1), ("test:bad", {"id": "test:bad", "unknown_field": 1}), _doc(2)]
            return await BulkWriter(es, prefix).write(docs)

    result = asyncio.run(go())
    assert result.indexed == 2
    assert [(r.doc_id, r.status) for r in result.rejected] == [("test:bad", 400)]
    assert "strict_dynamic_mapping_exception" in result.rejected[0].reason


def test_outage_is_retried_until_elasticsearch_is_back(prefix):
    es_port = urlparse(Settings().es_url).port

    async def go():
        async with AsyncElasticsearch(Settings().es_url) as direct:
            await ensure_index(direct, prefix)
        gate = TcpGate(es_port)
        await gate.open()
        port = gate.port
        await gate.close()  # the outage starts: nothing listens on `port`
        sleeps: list[float] = []

        async def recording_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 3:  # after three failed attempts, Elasticsearch comes back
                await gate.open(port)
            await asyncio.sleep(0.05)

        async with AsyncElasticsearch(f"http://127.0.0.1:{port}", request_timeout=5, max_retries=0) as es:
            writer = BulkWriter(es, prefix, initial_backoff=0.1, max_backoff=1.0, sleep=recording_sleep)
            result = await writer.write([_doc(i) for i in range(25)])
            await es.indices.refresh(index=prefix)
            count = (await es.count(index=prefix))["count"]
        await gate.close()
        return result, sleeps, count

    result, sleeps, count = asyncio.run(go())
    assert result.indexed == 25 and count == 25 and not result.rejected
    assert len(sleeps) == 3 and result.attempts == 4
    assert sleeps[0] <= 0.1 < 0.2 <= sleeps[2] <= 0.4  # exponential backoff, jittered within [50%, 100%]
