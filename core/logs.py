"""Structured logging: `key=value` text for people, JSON lines for machines."""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# user:password@ in any URL of a log line (an es_url with credentials, a broker URL in an error)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/\s@\"']*):[^@/\s\"']+@")


def redact_credentials(line: str) -> str:
    """Every line a Luister process logs passes here: passwords in URLs become ***."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", line)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _extra_fields(record)
        ts = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact_credentials(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extra_fields(record),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return redact_credentials(json.dumps(payload, default=str, ensure_ascii=False))


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


def _kv(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or any(c in text for c in ' ="')) else text


class KafkaSlowStepFilter(logging.Filter):
    """kafka-python 3 warns "Task ... ran for 0.12s ... blocking the event loop" when one step of its
    I/O loop takes over 0.1 s of *wall* time. In our processes that time is spent waiting for the GIL
    while another of our threads works (the demo's searchable probe and file parsing, a worker's model
    threads beside its lag reader): measured, a publish of the demo sample logs it 5 times with a
    busy Python thread beside it and 0 times without. No loop of ours blocks, so the line is kept,
    at DEBUG, where it helps someone who looks for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and "blocking the event loop" in str(record.msg):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


SLOW_STEP_LOGGER = "kafka.net.selector"


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "aiokafka", "elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    selector = logging.getLogger(SLOW_STEP_LOGGER)
    if not any(isinstance(f, KafkaSlowStepFilter) for f in selector.filters):
        selector.addFilter(KafkaSlowStepFilter())


def dict_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The same set-up as a `logging.config` dict, for Faust: its worker configures logging
    itself after start-up (replacing `setup_logging`'s handler) unless given this."""
    root_level = logging.getLevelName(level.upper())
    quiet = logging.getLevelName(max(logging.WARNING, root_level if isinstance(root_level, int) else logging.INFO))
    formatter = "core.logs.JsonFormatter" if fmt == "json" else "core.logs.KeyValueFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"luister": {"()": formatter}},
        "filters": {"kafka_slow_step": {"()": "core.logs.KafkaSlowStepFilter"}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "luister", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {**{name: {"level": quiet} for name in ("kafka", "aiokafka", "elastic_transport", "urllib3")},
                    SLOW_STEP_LOGGER: {"filters": ["kafka_slow_step"]}},
    }
