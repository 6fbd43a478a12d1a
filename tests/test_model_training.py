"""Training is reproducible with a fixed seed; the split is fixed; the committed report meets the targets."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from classifiers.corpus import SPLIT_FILE, assign, load_corpus, load_split, make_split
from classifiers.heads import TASKS, HeadConfig, Heads, train_heads

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "classifiers" / "reports" / "eval.json"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def _tiny(seed: int = 0, n: int = 60):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = {t: np.arange(n) % len(labels) for t, labels in TASKS.items()}
    return x, y


def _flat(heads: Heads) -> list[np.ndarray]:
    return [a for members in heads.layers.values() for stack in members for wb in stack for a in wb]


def test_heads_training_is_deterministic_with_a_seed():
    x, y = _tiny()
    cfg = HeadConfig(hidden=32, epochs=3, seed=5, members=2)
    first, second = train_heads(x, y, cfg), train_heads(x, y, cfg)
    assert len(first.layers["type"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(_flat(first), _flat(second)))
    other = train_heads(x, y, HeadConfig(hidden=32, epochs=3, seed=6, members=2))
    assert not all(np.array_equal(a, b) for a, b in zip(_flat(first), _flat(other)))


def test_heads_round_trip_through_safetensors(tmp_path):
    x, y = _tiny()
    heads = train_heads(x, y, HeadConfig(hidden=16, epochs=2, members=3))
    heads.meta = {"variant": "test"}
    heads.save(tmp_path / "h.safetensors")
    loaded = Heads.load(tmp_path / "h.safetensors")
    assert loaded.meta == {"variant": "test"} and len(loaded.layers["sentiment"]) == 3
    for task in TASKS:  # stored as fp16
        assert np.allclose(loaded.predict_proba(x)[task], heads.predict_proba(x)[task], atol=2e-3)


def test_numpy_heads_match_the_torch_modules_they_came_from():
    import torch

    from classifiers.heads import build_torch_heads, heads_from_torch

    torch.manual_seed(0)
    module = build_torch_heads(384, HeadConfig(hidden=16)).eval()
    x, _ = _tiny()
    heads = heads_from_torch(module, {})
    with torch.no_grad():
        expected = module["type_head"](torch.from_numpy(x)).numpy()
    assert np.allclose(heads.member_logits(x)["type"], expected, atol=1e-4)


def test_finetuning_is_deterministic_with_a_seed(corpus):
    from classifiers.finetune import FinetuneConfig, cache_layer_inputs, finetune, top_layer_state
    from classifiers.transformer import ensure_converted, load_torch_model
    from classifiers.train import labels

    model_dir = ensure_converted()
    model = load_torch_model(model_dir, None)
    subset = corpus[:24]
    cached = cache_layer_inputs(model, model_dir, [e.text for e in subset], start=11)
    runs = []
    for _ in range(2):
        cfg = FinetuneConfig(layers=1, epochs=1, batch_size=8, lora_rank=4, seed=3)
        runs.append(top_layer_state(finetune(model, cached, labels(subset), cfg)))
    assert runs[0].keys() == runs[1].keys() and runs[0]
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_finetune_candidate_sees_the_serving_feature(corpus):
    """Untrained top layers + cached frozen pools give the same answers as the serving encoder's feature."""
    from classifiers.e5.encoder import TorchEncoder
    from classifiers.finetune import FinetuneConfig, cache_layer_inputs, finetune, predict_cached, top_heads
    from classifiers.train import labels
    from classifiers.transformer import ensure_converted, load_torch_model

    model_dir = ensure_converted()
    model = load_torch_model(model_dir, None)
    subset = corpus[:12]
    texts = [e.text for e in subset]
    top = finetune(model, cache_layer_inputs(model, model_dir, texts, start=10), labels(subset),
                   FinetuneConfig(layers=2, epochs=1, lr=0.0, head_lr=0.0, seed=1))
    served = top_heads(top, {}).predict_proba(TorchEncoder(model_dir, model=model).embed(texts))
    cached = predict_cached(top, cache_layer_inputs(model, model_dir, texts, start=10))
    for task in served:
        assert np.allclose(served[task], cached[task], atol=1e-4)


def test_split_is_fixed_stratified_and_large_enough(corpus):
    split = load_split()
    assert SPLIT_FILE.is_file()
    assert not split["test"] & split["validation"]
    ids = {e.id for e in corpus}
    assert split["test"] <= ids and split["validation"] <= ids
    parts = assign(corpus, split)
    test = parts["test"]
    assert len(test) >= 400
    # stratified: each (language, type) share of the test set is within 3 points of the corpus share
    whole = Counter((e.lang, e.type) for e in corpus)
    part = Counter((e.lang, e.type) for e in test)
    for key, n in whole.items():
        assert abs(part[key] / len(test) - n / len(corpus)) < 0.03, key
    # the rule is deterministic: the same corpus gives the same split
    assert make_split(corpus) == make_split(list(reversed(corpus)))


def _report():
    report = json.loads(REPORT.read_text())
    models = report["models"]
    default = next(m for m in models.values() if m["backend"] == report["default_backend"])
    baseline = next(m for m in models.values() if m["backend"] == "lexicon")
    return report, default, baseline


@pytest.mark.parametrize("task,target", [("type", 0.85), ("sentiment", 0.80)])
def test_committed_report_meets_the_overall_targets_well_above_the_baseline(task, target):
    report, default, baseline = _report()
    assert report["test_size"] >= 400
    assert default["all"][task]["macro_f1"] >= target
    assert default["all"][task]["macro_f1"] >= baseline["all"][task]["macro_f1"] + 0.10


@pytest.mark.parametrize("task", ["type", "sentiment"])
def test_committed_report_languages_within_five_points(task):
    _, default, _ = _report()
    assert abs(default["nl"][task]["macro_f1"] - default["en"][task]["macro_f1"]) <= 0.05
