"""Credentials in URLs never reach a log line, an error page or `luister doctor`."""
from __future__ import annotations

import io
import logging

import pytest

from core.logs import JsonFormatter, KeyValueFormatter, redact_credentials
from core.redact import redact_url


@pytest.mark.parametrize("url, shown", [
    ("https://elastic:s3cr3t@es.example:9200", "https://elastic:***@es.example:9200"),
    ("http://u:p@127.0.0.1:9200/path?q=1", "http://u:***@127.0.0.1:9200/path?q=1"),
    ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
    ("http://a:1@h1:9200,http://b:2@h2:9200", "http://a:***@h1:9200,http://b:***@h2:9200"),
    ("http://u:p@[::1]:9200", "http://u:***@[::1]:9200"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize("formatter", [KeyValueFormatter(), JsonFormatter()])
def test_every_log_line_hides_passwords_in_urls(formatter):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    try:
        logger.warning("cannot reach http://elastic:hunter2@es:9200", extra={"url": "https://k:key-123@x:1/y"})
        try:
            raise ConnectionError("refused: https://elastic:hunter2@es:9200/_bulk")
        except ConnectionError:
            logger.exception("bulk failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "hunter2" not in text and "key-123" not in text
    assert text.count("elastic:***@es:9200") == 3 and "k:***@x:1" in text


def test_plain_text_with_at_signs_is_left_alone():
    line = "mail jan@example.com about http://es:9200 and @PakjePost"
    assert redact_credentials(line) == line
