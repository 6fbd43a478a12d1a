"""The base of webhook connectors: a Starlette app served by uvicorn in the connector's loop.

A delivery is answered 2xx only after its mentions are acknowledged by the broker, so a
sender that retries on failure never loses one; dedupe by native id absorbs its retries.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.publisher import DeliveryFailed
from connectors.runtime.live import LiveConnector

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes whether or not Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"{declared} bytes declared; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
    return bytes(body)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the connector's owner handles signals, not uvicorn
        yield


class WebhookConnector(LiveConnector):
    """Subclasses define `routes()`; /healthz and /metrics come with it."""

    host: str
    port: int

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ready = asyncio.Event()
        self.bound_port: int | None = None
        self._fatal: BaseException | None = None
        self._server: _Server | None = None

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def app(self) -> Starlette:
        return Starlette(routes=[*self.routes(), Route("/healthz", self._healthz), Route("/metrics", self._metrics)])

    async def _healthz(self, request: Request) -> Response:  # noqa: ARG002
        return JSONResponse({"status": "ok" if self._fatal is None else "failing", "connector": self.name,
                             "published": self.stats.published})

    async def _metrics(self, request: Request) -> Response:  # noqa: ARG002
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def run_forever(self) -> None:
        config = uvicorn.Config(self.app(), host=self.config.host, port=self.config.port,  # type: ignore[attr-defined]
                                log_level="warning", access_log=False, lifespan="off")
        self._server = server = _Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            task.result()
            raise RuntimeError(f"webhook server for {self.name} did not start")
        self.bound_port = server.servers[0].sockets[0].getsockname()[1]
        log.info("webhook listening", extra={"connector": self.name, "host": self.config.host,  # type: ignore[attr-defined]
                                             "port": self.bound_port})
        self.ready.set()
        try:
            await asyncio.shield(task)
        finally:
            server.should_exit = True  # finish the requests in flight, then stop
            with contextlib.suppress(Exception):
                await task
        if self._fatal is not None:
            raise self._fatal

    async def deliver(self) -> None:
        """Flush what a request published (and now and then save the seen ids) before answering."""
        try:
            await asyncio.to_thread(self.sink.flush)
            if self._commit_due():
                await self.commit()
        except DeliveryFailed as exc:
            self._fatal = exc  # sticky: stop; a restart resumes, the sender retries this delivery
            if self._server is not None:
                self._server.should_exit = True
            raise
