"""Logging set-up: kafka-python's slow-step warning, which GIL waits set off, stays out of sight."""
from __future__ import annotations

import logging
import logging.config
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.logs import SLOW_STEP_LOGGER, KafkaSlowStepFilter, dict_config

ROOT = Path(__file__).resolve().parent.parent
SLOW = ("Task <kafka.net.selector.Task object at 0x7f> ran for 0.121s (>0.100s threshold). It is blocking the "
        "event loop -- likely a tight sync loop inside a coroutine. Other pollers will time out.")


def _record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(SLOW_STEP_LOGGER, level, __file__, 1, msg, None, None)


def test_the_slow_step_warning_becomes_debug_and_other_warnings_pass():
    flt = KafkaSlowStepFilter()
    logging.getLogger(SLOW_STEP_LOGGER).setLevel(logging.WARNING)
    slow = _record(SLOW)
    assert flt.filter(slow) is False and slow.levelname == "DEBUG"
    other = _record("Task left RUNNING after step; demoting to UNSCHEDULED")
    assert flt.filter(other) is True and other.levelname == "WARNING"
    logging.getLogger(SLOW_STEP_LOGGER).setLevel(logging.DEBUG)
    try:
        assert flt.filter(_record(SLOW)) is True  # someone who asks for DEBUG sees it
    finally:
        logging.getLogger(SLOW_STEP_LOGGER).setLevel(logging.NOTSET)


def test_the_worker_s_logging_config_has_the_filter():
    config = dict_config("INFO", "text")
    logging.config.dictConfig(config)
    assert any(isinstance(f, KafkaSlowStepFilter) for f in logging.getLogger(SLOW_STEP_LOGGER).filters)


_PUBLISH_WITH_A_BUSY_THREAD = r"""
import sys, threading
from core.logs import setup_logging
setup_logging("INFO", "text")
from connectors.file_replay import FileReplayConnector
from connectors.publisher import MentionPublisher
from core.kafka_admin import read_from
busy = True
def spin():
    while busy:
        sum(i * i for i in range(200_000))
threading.Thread(target=spin, daemon=True).start()
topic = sys.argv[1]
with MentionPublisher("127.0.0.1:9092", topic) as publisher:
    FileReplayConnector("data/sample/mentions.jsonl").run(publisher)
for _ in range(3):
    read_from("127.0.0.1:9092", topic, {}, timeout_s=2)
busy = False
"""


@pytest.mark.e2e
def test_publishing_beside_a_busy_thread_logs_no_slow_step_warning_with_our_logging(services):
    """What the demo does (publish, read the dead letters) with a busy Python thread beside it; with
    plain logging this printed the warning 5 times in 5 of 5 runs on this 2-core machine."""
    from kafka import KafkaAdminClient

    topic = f"test-logs-{uuid.uuid4().hex[:8]}"
    try:
        out = subprocess.run([sys.executable, "-c", _PUBLISH_WITH_A_BUSY_THREAD, topic], cwd=ROOT,
                             capture_output=True, text=True, timeout=180, check=True)
    finally:
        admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:9092")
        try:
            if topic in admin.list_topics():
                admin.delete_topics([topic])
        finally:
            admin.close()
    assert "blocking the event loop" not in out.stderr, out.stderr[-2000:]
    assert "invalid line sent on for dead-lettering" in out.stderr  # our own warnings still come through
