"""`luister classify` and the TransformerClassifier: the public JSON-lines contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.base import Classifier
from classifiers.registry import load_classifier
from luister.commands.model import classify_stream
from schemas import ClassifiedMention, MessageType, Sentiment

ROOT = Path(__file__).resolve().parent.parent
ADDED = {"type", "type_scores", "sentiment", "sentiment_score", "language", "model_version"}

INPUTS = [
    {"id": "a", "text": "Mijn pakket is al een week zoek en niemand reageert. Schandalig!", "brand": "PakjePost",
     "nested": {"keep": [1, 2]}},
    {"text": "Thank you so much, the new app is fantastic 😍", "lang_hint": "en"},
    {"text": ""},
    {"text": "Hoe laat gaat de winkel morgen open? " * 400},  # far beyond 512 tokens
    {"text": "Почему мой заказ до сих пор не доставлен?", "extra": None},
    {"text": "你们的客服太慢了，等了两个小时"},
    {"text": "وصلت الطلبية بسرعة، شكرا جزيلا"},
    {"text": "Zou het niet handig zijn als jullie app ook een donkere modus kreeg?"},
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return load_classifier("transformer")


def _run(classifier, lines: list[str], batch_size: int = 3) -> tuple[list[dict], int]:
    out: list[dict] = []
    bad = classify_stream(classifier, lines, out.append, batch_size)
    return out, bad


def test_classify_keeps_order_and_fields_and_adds_the_contract(classifier):
    out, bad = _run(classifier, [json.dumps(r, ensure_ascii=False) + "\n" for r in INPUTS])
    assert bad == 0 and len(out) == len(INPUTS)
    for given, got in zip(INPUTS, out):
        assert {k: got[k] for k in given} == given  # every input field kept, unchanged
        assert ADDED <= got.keys()
        assert got["type"] in {t.value for t in MessageType}
        assert set(got["type_scores"]) == {t.value for t in MessageType}
        assert all(0 <= v <= 1 for v in got["type_scores"].values())
        assert abs(sum(got["type_scores"].values()) - 1) < 0.01
        assert got["type"] == max(got["type_scores"], key=got["type_scores"].get)
        assert got["sentiment"] in {s.value for s in Sentiment}
        assert -1 <= got["sentiment_score"] <= 1
        assert got["model_version"] == classifier.model_version
    assert out[0]["type"] == "complaint" and out[0]["sentiment"] == "negative"
    assert out[1]["type"] == "compliment" and out[1]["sentiment"] == "positive"
    assert out[0]["language"] == "nl" and out[1]["language"] == "en"


def test_batching_does_not_change_answers(classifier):
    """fp32 answers do not depend on the batch; dynamic int8 scales activations per batch, so its
    scores move a little with the neighbours (measured up to 0.02 here), its labels here not at all."""
    from classifiers.transformer import TransformerClassifier

    lines = [json.dumps(r) for r in INPUTS]
    fp32 = TransformerClassifier(backend="onnx-fp32", with_language=False)
    for clf, tolerance in ((fp32, 1e-3), (classifier, 0.05 if classifier.backend == "onnx-int8" else 1e-3)):
        one, _ = _run(clf, lines, batch_size=1)
        many, _ = _run(clf, lines, batch_size=64)
        for a, b in zip(one, many):
            assert a["type"] == b["type"] and a["sentiment"] == b["sentiment"]
            assert abs(a["sentiment_score"] - b["sentiment_score"]) < tolerance


def test_the_default_back_end_is_the_one_training_chose(classifier):
    assert classifier.backend == classifier.meta["backend"]
    assert classifier.model_version.endswith("-" + classifier.backend)


def test_bad_lines_get_an_error_in_place_and_blank_lines_are_skipped(classifier):
    lines = ['{"text": "goed zo"}', "not json", "", '{"no_text": 1}', '["text"]', '{"text": "prima"}']
    out, bad = _run(classifier, lines)
    assert bad == 3
    assert [("error" in o, o.get("line")) for o in out] == [(False, None), (True, 2), (True, 4), (True, 5),
                                                          (False, None)]


def test_results_fit_the_classified_mention_schema(classifier):
    from datetime import datetime, timezone

    from pipeline.classify import classified
    from schemas import RawMention

    raw = RawMention.model_validate_json(json.dumps({
        "id": "twitter:1", "source": "twitter", "channel": "own", "author": {"handle": "x"}, "text": "Waardeloos!",
        "created_at": datetime.now(timezone.utc).isoformat(), "brand": "Belnet"}))
    result = classifier.classify(raw.text, "nl")
    out = classified(raw, result, model_version=classifier.model_version, processed_at=datetime.now(timezone.utc))
    assert isinstance(out, ClassifiedMention) and out.model_version.startswith("e5-small-")


def test_the_command_line_reads_stdin_and_writes_stdout():
    env = {**os.environ, "LUISTER_CLASSIFIER": "transformer", "HF_HUB_OFFLINE": "1"}
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in INPUTS[:3])
    result = subprocess.run([sys.executable, "-m", "luister.cli", "classify", "--batch-size", "2"], input=lines,
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, None]
    assert all(ADDED <= o.keys() for o in out)


def test_length_batches_cover_every_text_once_and_limit_padding():
    from classifiers.e5.encoder import length_batches

    lengths = [40, 12, 13, 300, 15, 14, 16, 80, 11, 12] * 7
    batches = list(length_batches(lengths, 8))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 8
        longest = max(lengths[i] for i in b)
        assert len(b) == 1 or len(b) * longest <= 1.3 * sum(lengths[i] for i in b)
    assert [len(b) for b in length_batches([10] * 20, 8)] == [8, 8, 4]


def test_int8_graph_keeps_the_outlier_matmuls_in_fp32_and_stays_close_to_fp32():
    import onnx

    from classifiers.corpus import assign, load_corpus, load_split
    from classifiers.e5.onnx_export import fp32_nodes
    from classifiers.transformer import build_encoder, ensure_onnx

    ops = {n.name: n.op_type for n in onnx.load(str(ensure_onnx(backend="onnx-int8"))).graph.node}
    assert all(ops[name] == "MatMul" for name in fp32_nodes())
    assert sum(op == "MatMulInteger" for op in ops.values()) == 72 - len(fp32_nodes())  # 6 weight MatMuls x 12 layers
    texts = [e.text for e in assign(load_corpus(), load_split())["train"][:48]]
    a, b = build_encoder("onnx-fp32").embed(texts), build_encoder("onnx-int8").embed(texts)
    assert float((a * b).sum(1).min()) > 0.99  # worst of 1,732 posts: 0.996 (0.987 quantising all)
