"""The contracts: strict, versioned, exportable as JSON Schema."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from classifiers.base import Classification
from luister.cli import main
from pipeline.classify import classified
from schemas import (
    ALL_MODELS, SCHEMA_VERSION, Author, Channel, ClassifiedMention, MessageType, RawMention, Sentiment, Source,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def _raw(**kw) -> RawMention:
    base = dict(id="twitter:1", source=Source.twitter, channel=Channel.own, author=Author(handle="@Piet"),
                text="Waar blijft mijn pakket?", created_at=NOW, brand="PakjePost", ingested_at=NOW)
    return RawMention(**{**base, **kw})


def test_strict_models_reject_coercion_and_unknown_fields():
    with pytest.raises(ValidationError):
        RawMention.model_validate_json(json.dumps({**json.loads(_raw().model_dump_json()), "followers": 1}))
    with pytest.raises(ValidationError):
        Author.model_validate_json('{"handle": "x", "followers": "12"}')
    with pytest.raises(ValidationError):  # a naive datetime has no place in a stream
        _raw(created_at=datetime(2026, 1, 1))


def test_schema_version_is_carried_and_checked():
    assert json.loads(_raw().model_dump_json())["schema_version"] == SCHEMA_VERSION
    with pytest.raises(ValidationError):
        RawMention.model_validate_json(json.dumps({**json.loads(_raw().model_dump_json()), "schema_version": 99}))


def test_classified_mention_keeps_the_raw_fields_and_measures_latency():
    raw = _raw(ingested_at=datetime(2026, 11, 27, 11, 59, 59, 500_000, tzinfo=timezone.utc))
    result = Classification(MessageType.question, {MessageType.question: 0.8}, Sentiment.neutral, 0.0)
    out = classified(raw, result, model_version="baseline-lexicon-1", processed_at=NOW)
    assert out.text == raw.text and out.customer_id == "twitter:piet"
    assert out.pipeline_latency_ms == pytest.approx(500.0)
    assert ClassifiedMention.model_validate_json(out.model_dump_json()) == out


def test_cli_exports_json_schema_for_every_model(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["schemas", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in ALL_MODELS:
        doc = json.loads((tmp_path / f"{name}.schema.json").read_text())
        assert doc["title"] == name and "properties" in doc
    raw_schema = json.loads((tmp_path / "RawMention.schema.json").read_text())
    assert {"id", "source", "text", "created_at", "brand"} <= set(raw_schema["required"])
