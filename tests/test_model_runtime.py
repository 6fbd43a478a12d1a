"""The inference runtime: session options, the memory-mapped graph, and helpers of the batched stages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from classifiers.e5 import onnx_session
from classifiers.e5.encoder import OnnxEncoder
from classifiers.transformer import HEADS_FILE, WEIGHTS_DIR, e5_dir, ensure_onnx
from pipeline.customers.config import HistoryLimits
from pipeline.customers.state import CustomerState, Item, add_item

TEXTS = ["Mijn pakket is al een week zoek en niemand reageert. Schandalig!",
         "Thank you so much, the new app is fantastic 😍", "",
         "Zou het niet handig zijn als jullie app ook een donkere modus kreeg?",
         "Hoe laat gaat de winkel morgen open? " * 40]


def test_session_options_sleep_instead_of_spinning_and_take_the_thread_count():
    opts = onnx_session.session_options(threads=1)
    assert opts.intra_op_num_threads == 1
    assert opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert onnx_session.session_options().intra_op_num_threads == onnx_session.available_cores()


@pytest.mark.skipif(not (WEIGHTS_DIR / HEADS_FILE).is_file(), reason="no trained heads")
@pytest.mark.parametrize("backend", ["onnx-fp32", "onnx-int8"])
def test_the_memory_mapped_graph_gives_the_same_embeddings_bit_for_bit(backend):
    path = ensure_onnx(WEIGHTS_DIR, backend=backend)
    mapped = OnnxEncoder(e5_dir(), path, threads=1, mapped=True)
    whole = OnnxEncoder(e5_dir(), path, threads=2, mapped=False)
    assert mapped.session._model_path != whole.session._model_path  # really the copy
    assert onnx_session.mapped_path(path).parent.joinpath("model.onnx.data").is_file()
    assert np.array_equal(mapped.embed(TEXTS), whole.embed(TEXTS))


def test_add_item_leaves_the_state_it_was_given_unchanged():
    limits = HistoryLimits(recent_max=5, history_days=2)
    at = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)

    def item(n: int, when: datetime) -> Item:
        return Item(id=f"m{n}", seq=n, at=when, source="x", site="x", channel="own", account=f"x:a{n % 2}",
                    brand="B", type="complaint", sentiment="negative", polarity="negative")

    state = CustomerState(customer_id="c")
    for n in range(7):
        state = add_item(state, item(n, at + timedelta(days=n // 3)), limits)
    before = state.model_dump(mode="json")
    after = add_item(state, item(7, at + timedelta(days=3)), limits)
    assert state.model_dump(mode="json") == before
    assert after.totals["n"] == before["totals"]["n"] + 1
    assert [i.id for i in after.recent] == ["m3", "m4", "m5", "m6", "m7"]
    assert after.accounts == ["x:a0", "x:a1"]
    assert min(after.daily) >= (at + timedelta(days=1)).date().isoformat()  # older days dropped
