"""Export the (possibly fine-tuned) BertModel to ONNX, optionally quantised to int8 per channel.

The graph outputs the hidden states of the layers the sentence feature pools (POOL_LAYERS).

Built once per weights version into the ignored model cache; `OnnxEncoder` runs the result.
Per-channel int8 keeps embeddings much closer to fp32 than per-tensor (docs/model.md).

Dynamic int8 also quantises each MatMul's input activations, per tensor. The inputs of the
feed-forward down-projections of layers 4 and 5 carry outliers (peak about 600 and 300 times
their mean, against at most 150 elsewhere), so one scale leaves their ordinary values a few
levels: those two MatMuls stay fp32. Cosine of the sentence feature to fp32 goes from 0.994
to 0.999, and the share of labels that differ from fp32 from ~4 % to ~1.5 %, for ~5 % of
int8's speed (2 of 72 MatMuls; docs/model.md).
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

from classifiers.e5.encoder import POOL_LAYERS

OPSET = 17
FP32_LAYERS = (4, 5)  # 0-based BertLayer index whose feed-forward output MatMul is not quantised
INT8_RECIPE = "pc-f" + "".join(map(str, FP32_LAYERS))  # names the cached graph: a new recipe, a new file


def fp32_nodes() -> list[str]:
    """The MatMuls that stay fp32 in the int8 graph (names as torch's exporter writes them)."""
    return [f"/bert/encoder/layer.{k}/output/dense/MatMul" for k in FP32_LAYERS]


def check_fp32_nodes(int8_path: Path) -> None:
    """The quantiser skips unknown names silently: make sure the kept nodes exist, still plain MatMuls."""
    import onnx

    ops = {n.name: n.op_type for n in onnx.load(str(int8_path)).graph.node}
    wrong = [n for n in fp32_nodes() if ops.get(n) != "MatMul"]
    if wrong:
        raise ValueError(f"int8 graph: expected fp32 MatMul nodes {wrong}; did the exporter rename them?")


def export_onnx(model, out: Path, int8: bool = True, log=print) -> Path:
    """Write `out` (int8 per-channel, or fp32) ONNX from a torch BertModel; atomic (temp file, then rename)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _LastHidden(torch.nn.Module):
        def __init__(self, bert) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return tuple(out.hidden_states[i] for i in POOL_LAYERS)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.set_attn_implementation("eager")  # plain ops: the TorchScript exporter traces them cleanly
    outputs = [f"hidden_{i}" for i in POOL_LAYERS]
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        log("exporting the encoder to ONNX")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_LastHidden(model), (ids, mask), str(fp32), dynamo=False, opset_version=OPSET,
                              input_names=["input_ids", "attention_mask"], output_names=outputs,
                              dynamic_axes={name: {0: "batch", 1: "seq"}
                                            for name in ("input_ids", "attention_mask", *outputs)})
        if int8:
            log("quantising to int8 (per channel)")
            partial = Path(tmp) / "int8.onnx"
            quiet = logging.getLogger().level
            logging.getLogger().setLevel(logging.WARNING)  # the quantiser logs every tensor at INFO
            try:
                quantize_dynamic(str(fp32), str(partial), per_channel=True, weight_type=QuantType.QInt8,
                                 nodes_to_exclude=fp32_nodes())
            finally:
                logging.getLogger().setLevel(quiet)
            check_fp32_nodes(partial)
            os.replace(partial, out)
        else:
            os.replace(fp32, out)
    model.set_attn_implementation("sdpa")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB)")
    return out
