"""Two small classification heads over a sentence embedding: message type and sentiment.

Each head is a one-hidden-layer MLP (or a linear layer when `hidden` is 0). Training uses
torch; prediction is plain numpy, so serving needs no torch. Weights are saved as a small
safetensors file with the labels and the training configuration in its metadata.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from schemas import MessageType, Sentiment

TYPE_LABELS: tuple[str, ...] = tuple(t.value for t in MessageType)
SENTIMENT_LABELS: tuple[str, ...] = tuple(s.value for s in Sentiment)
TASKS = {"type": TYPE_LABELS, "sentiment": SENTIMENT_LABELS}


@dataclass(frozen=True)
class HeadConfig:
    hidden: int = 256
    epochs: int = 60
    lr: float = 5e-4
    weight_decay: float = 1e-2
    dropout: float = 0.3
    batch_size: int = 64
    seed: int = 13
    members: int = 5  # an ensemble of this many MLPs (seeds seed, seed+1, ...): steadier than one


Layers = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Heads:
    """Numpy weights of both heads: {task: [member: [(W, b), ...]]}, GELU between layers.

    Probabilities are the mean of the members' softmax outputs. Stored as fp16 (small to commit).
    """

    layers: dict[str, list[Layers]]
    meta: dict = field(default_factory=dict)

    def member_logits(self, emb: np.ndarray, member: int = 0) -> dict[str, np.ndarray]:
        out = {}
        for task, members in self.layers.items():
            x = emb.astype(np.float32)
            stack = members[member]
            for i, (w, b) in enumerate(stack):
                x = x @ w.T + b
                if i < len(stack) - 1:
                    x = _gelu(x)
            out[task] = x
        return out

    def predict_proba(self, emb: np.ndarray) -> dict[str, np.ndarray]:
        n = len(next(iter(self.layers.values())))
        total: dict[str, np.ndarray] = {}
        for m in range(n):
            for task, z in self.member_logits(emb, m).items():
                total[task] = total.get(task, 0) + softmax(z)
        return {task: p / n for task, p in total.items()}

    @classmethod
    def ensemble(cls, parts: list["Heads"], meta: dict | None = None) -> "Heads":
        return cls({t: [m for h in parts for m in h.layers[t]] for t in TASKS}, meta or {})

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        tensors = {f"{task}.{m}.{i}.{n}": a.astype(np.float16)
                   for task, members in self.layers.items() for m, stack in enumerate(members)
                   for i, wb in enumerate(stack) for n, a in zip("wb", wb)}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata={"luister": json.dumps(self.meta, sort_keys=True)})

    @classmethod
    def load(cls, path: Path) -> "Heads":
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            meta = json.loads((f.metadata() or {}).get("luister", "{}"))
            arrays = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}
        layers: dict[str, list[Layers]] = {}
        for task in TASKS:
            keys = [k.split(".") for k in arrays if k.startswith(task + ".")]
            n_members = len({k[1] for k in keys})
            n_layers = len({k[2] for k in keys})
            layers[task] = [[(arrays[f"{task}.{m}.{i}.w"], arrays[f"{task}.{m}.{i}.b"]) for i in range(n_layers)]
                            for m in range(n_members)]
        return cls(layers, meta)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _gelu(x: np.ndarray) -> np.ndarray:
    # the tanh form, as torch.nn.GELU(approximate="tanh") used in training
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def class_weights(y: np.ndarray, n: int) -> np.ndarray:
    """Inverse-frequency weights (mean 1): rare classes count as much as common ones."""
    counts = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n, 0.0)
    return (w / w[counts > 0].mean()).astype(np.float32)


# Unit-length 384-d embeddings have tiny components; scaled by ~sqrt(dim) they train with
# ordinary learning rates. Training applies the scale; saved weights have it folded in.
INPUT_SCALE = 20.0


def build_torch_heads(dim: int, config: HeadConfig):
    import torch.nn as nn

    class Scale(nn.Module):
        def forward(self, x):
            return x * INPUT_SCALE

    def head(n: int) -> nn.Module:
        if config.hidden <= 0:
            return nn.Sequential(Scale(), nn.Dropout(config.dropout), nn.Linear(dim, n))
        return nn.Sequential(Scale(), nn.Dropout(config.dropout), nn.Linear(dim, config.hidden),
                             nn.GELU(approximate="tanh"), nn.Dropout(config.dropout), nn.Linear(config.hidden, n))

    return nn.ModuleDict({f"{task}_head": head(len(labels)) for task, labels in TASKS.items()})


def heads_from_torch(module, meta: dict) -> Heads:
    import torch.nn as nn

    layers = {}
    for task in TASKS:
        linears = [m for m in module[f"{task}_head"] if isinstance(m, nn.Linear)]
        stack = [(m.weight.detach().cpu().numpy().copy(), m.bias.detach().cpu().numpy().copy()) for m in linears]
        stack[0] = (stack[0][0] * INPUT_SCALE, stack[0][1])
        layers[task] = [stack]
    return Heads(layers, meta)


def train_heads(x: np.ndarray, y: dict[str, np.ndarray], config: HeadConfig, progress=None) -> Heads:
    """Fit both heads on fixed embeddings `x` [n, d]; `y` holds label indices per task.

    `progress(epoch)` is called after every epoch of every member.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, and 2 shared cores stay free
    try:
        members = [_train_member(x, y, config, config.seed + k, progress) for k in range(max(1, config.members))]
    finally:
        torch.set_num_threads(threads)
    return Heads.ensemble(members, {"config": asdict(config), "labels": {t: list(v) for t, v in TASKS.items()}})


def _train_member(x: np.ndarray, y: dict[str, np.ndarray], config: HeadConfig, seed: int, progress) -> Heads:
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    module = build_torch_heads(x.shape[1], config)
    opt = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = {t: torch.from_numpy(y[t].astype(np.int64)) for t in TASKS}
    losses = {t: torch.nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(y[t], len(TASKS[t]))))
              for t in TASKS}
    module.train()
    for epoch in range(config.epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), config.batch_size):
            idx = perm[start:start + config.batch_size]
            loss = sum(losses[t](module[f"{t}_head"](xt[idx]), yt[t][idx]) for t in TASKS)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if progress:
            progress(epoch + 1)
    module.eval()
    return heads_from_torch(module, {})
