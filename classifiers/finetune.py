"""Fine-tune the encoder's top layers together with the two heads, on CPU.

The lower layers stay frozen, so their output is computed once per text and cached: the
hidden states entering the first trained layer, and the pooled outputs of the frozen layers
that the feature reads. Each epoch then runs only the top `layers` BertLayers, the same pooled
feature as serving (encoder.POOL_LAYERS) and the heads. The changed
layers are what ships (fp16, a few MB); `apply_top_layers` puts them into a loaded BertModel.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from classifiers.e5.encoder import POOL_LAYERS, length_batches, load_tokenizer, mean_pool, prefixed
from classifiers.heads import TASKS, HeadConfig, Heads, build_torch_heads, class_weights, heads_from_torch


@dataclass(frozen=True)
class FinetuneConfig:
    layers: int = 2
    lora_rank: int = 0  # 0: train the top layers' weights; >0: low-rank adapters on their linear maps
    epochs: int = 5
    lr: float = 1e-4
    head_lr: float = 1e-3
    weight_decay: float = 1e-2
    dropout: float = 0.1
    hidden: int = 0
    batch_size: int = 16
    seed: int = 13


def cache_layer_inputs(model, model_dir, texts: Sequence[str], start: int, batch_size: int = 32,
                       progress: Callable[[int], None] | None = None) -> list:
    """Per text: (hidden states entering layer `start`, trimmed to its length; the sum of the
    unit-length pooled outputs of the frozen POOL_LAYERS, i.e. those numbered `start` or lower)."""
    import torch

    tok = load_tokenizer(model_dir)
    enc = tok.encode_batch(prefixed(texts))
    lengths = [len(e.ids) for e in enc]
    out: list = [None] * len(texts)
    model.eval()
    for batch in length_batches(lengths, batch_size):
        width = max(lengths[i] for i in batch)
        ids = torch.ones((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, :lengths[i]] = torch.tensor(enc[i].ids)
            mask[row, :lengths[i]] = 1
        with torch.inference_mode():
            states = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        frozen = sum((mean_pool(states[k].numpy(), mask.numpy()) for k in POOL_LAYERS if k <= start),
                     np.zeros((len(batch), states[start].shape[-1]), dtype=np.float32))
        for row, i in enumerate(batch):
            out[i] = (states[start][row, :lengths[i]].clone(), torch.from_numpy(frozen[row].copy()))
        if progress:
            progress(len(batch))
    return out


class _Top:
    """Top BertLayers + mean pooling + L2 norm + heads, as one trainable torch module."""

    def __init__(self, model, layers: int, config: FinetuneConfig) -> None:
        import torch.nn as nn
        from transformers.masking_utils import create_bidirectional_mask

        self._mask_fn = create_bidirectional_mask
        self.config = model.config
        self.start = model.config.num_hidden_layers - layers
        if self.start >= max(POOL_LAYERS):
            raise ValueError(f"fine-tune at least {model.config.num_hidden_layers - max(POOL_LAYERS) + 1} layers: "
                             f"the feature pools layers {POOL_LAYERS}")
        self.layers = nn.ModuleList(copy.deepcopy(list(model.encoder.layer[self.start:])))
        self.lora_rank = config.lora_rank
        if config.lora_rank:
            for p in self.layers.parameters():
                p.requires_grad_(False)
            for layer in self.layers:
                for parent, name in _linear_slots(layer):
                    setattr(parent, name, LoRALinear(getattr(parent, name), config.lora_rank, config.seed))
        self.heads = build_torch_heads(model.config.hidden_size, HeadConfig(hidden=config.hidden, dropout=config.dropout))
        self.module = nn.ModuleDict({"layers": self.layers, "heads": self.heads})

    def forward(self, hidden, mask, frozen):
        """`frozen`: the cached sum of the pooled frozen layers' outputs (see cache_layer_inputs)."""
        import torch

        attn = self._mask_fn(config=self.config, inputs_embeds=hidden, attention_mask=mask)
        states = {}  # hidden_states index -> output, as BertModel numbers them
        for i, layer in enumerate(self.layers):
            hidden = layer(hidden, attn)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            states[self.start + i + 1] = hidden
        m = mask.unsqueeze(-1).to(hidden.dtype)
        norm = torch.nn.functional.normalize
        trained = [norm((states[i] * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1) for i in POOL_LAYERS if i in states]
        emb = norm(frozen + sum(trained), dim=-1)
        return {t: self.heads[f"{t}_head"](emb) for t in TASKS}


_SLOT_PATHS = {("BertSelfAttention", "query"): "attention.self.query", ("BertSelfAttention", "key"): "attention.self.key",
               ("BertSelfAttention", "value"): "attention.self.value",
               ("BertSelfOutput", "dense"): "attention.output.dense",
               ("BertIntermediate", "dense"): "intermediate.dense", ("BertOutput", "dense"): "output.dense"}


def _linear_slots(layer) -> list[tuple[object, str]]:
    a = layer.attention
    return [(a.self, "query"), (a.self, "key"), (a.self, "value"), (a.output, "dense"),
            (layer.intermediate, "dense"), (layer.output, "dense")]


def _lora_class():
    import torch
    import torch.nn as nn

    class LoRALinear(nn.Module):
        """y = W x + b + (alpha / r) * B A x, with W frozen; merged into W when saved."""

        def __init__(self, base: nn.Linear, rank: int, seed: int) -> None:
            super().__init__()
            self.base = base
            self.scale = 16.0 / rank
            gen = torch.Generator().manual_seed(seed + base.in_features * 7 + base.out_features)
            self.a = nn.Parameter(torch.randn(rank, base.in_features, generator=gen) / base.in_features ** 0.5)
            self.b = nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x):
            return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale

        def merged(self) -> nn.Linear:
            out = copy.deepcopy(self.base)
            with torch.no_grad():
                out.weight += (self.b @ self.a) * self.scale
            return out

    return LoRALinear


def LoRALinear(base, rank: int, seed: int):  # noqa: N802 - a factory that reads like the class
    return _lora_class()(base, rank, seed)


def _pad(cached: list, idx: Sequence[int]):
    """(hidden [b, L, H] padded, mask [b, L], frozen pooled sum [b, H]) for the cached texts `idx`."""
    import torch

    width = max(cached[i][0].shape[0] for i in idx)
    dim = cached[idx[0]][0].shape[1]
    hidden = torch.zeros((len(idx), width, dim))
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        n = cached[i][0].shape[0]
        hidden[row, :n] = cached[i][0]
        mask[row, :n] = 1
    return hidden, mask, torch.stack([cached[i][1] for i in idx])


def predict_cached(top: _Top, cached: list, batch_size: int = 64) -> dict[str, np.ndarray]:
    import torch

    top.module.eval()
    lengths = [c[0].shape[0] for c in cached]
    out = {t: np.zeros((len(cached), len(labels)), dtype=np.float32) for t, labels in TASKS.items()}
    with torch.inference_mode():
        for batch in length_batches(lengths, batch_size):
            logits = top.forward(*_pad(cached, batch))
            for t in TASKS:
                out[t][batch] = torch.softmax(logits[t], -1).numpy()
    return out


def finetune(model, cached: list, y: dict[str, np.ndarray], config: FinetuneConfig,
             on_epoch: Callable[[int, "_Top"], None] | None = None,
             on_step: Callable[[int], None] | None = None) -> "_Top":
    """Train the top layers and heads on cached layer inputs; `on_epoch(epoch, top)` after each epoch."""
    import torch

    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    top = _Top(model, config.layers, config)
    params = [
        {"params": [p for p in top.layers.parameters() if p.requires_grad], "lr": config.lr},
        {"params": list(top.heads.parameters()), "lr": config.head_lr},
    ]
    opt = torch.optim.AdamW(params, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(cached) // config.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps))
    yt = {t: torch.from_numpy(y[t].astype(np.int64)) for t in TASKS}
    losses = {t: torch.nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(y[t], len(TASKS[t]))))
              for t in TASKS}
    for epoch in range(config.epochs):
        top.module.train()
        perm = torch.randperm(len(cached), generator=gen).tolist()
        for start in range(0, len(perm), config.batch_size):
            idx = perm[start:start + config.batch_size]
            logits = top.forward(*_pad(cached, idx))
            loss = sum(losses[t](logits[t], yt[t][idx]) for t in TASKS)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if on_step:
                on_step(len(idx))
        if on_epoch:
            on_epoch(epoch + 1, top)
    top.module.eval()
    return top


def top_layer_state(top: _Top) -> dict[str, np.ndarray]:
    """The changed layers as fp16 arrays, named as in BertModel's state dict."""
    if top.lora_rank:  # only the adapters: lora.<linear>.a [r, in] and .b [out, r] (scale folded into b)
        out = {}
        for i, layer in enumerate(top.layers):
            for parent, name in _linear_slots(layer):
                slot = getattr(parent, name)
                path = f"lora.encoder.layer.{top.start + i}.{_SLOT_PATHS[(type(parent).__name__, name)]}"
                out[path + ".a"] = slot.a.detach().numpy().astype(np.float16)
                out[path + ".b"] = (slot.b.detach() * slot.scale).numpy().astype(np.float16)
        return out
    return {f"encoder.layer.{top.start + i}.{k}": v.detach().cpu().numpy().astype(np.float16)
            for i, layer in enumerate(top.layers) for k, v in layer.state_dict().items()}


def top_heads(top: _Top, meta: dict) -> Heads:
    return heads_from_torch(top.heads, meta)


def apply_top_layers(model, state: dict[str, np.ndarray]) -> None:
    """Load fp16 overlay weights into a BertModel (cast to the model's fp32)."""
    import torch

    params = model.state_dict()
    full = {k: v for k, v in state.items() if not k.startswith("lora.")}
    merged = {}
    for key in (k for k in state if k.startswith("lora.") and k.endswith(".a")):
        path = key[len("lora."):-len(".a")] + ".weight"
        a, b = state[key].astype(np.float32), state[key[:-2] + ".b"].astype(np.float32)
        if path not in params:
            raise ValueError(f"overlay adapter for {path}, which the model lacks")
        merged[path] = params[path] + torch.from_numpy(b @ a)
    missing = set(full) - set(params)
    if missing:
        raise ValueError(f"overlay names not in the model: {sorted(missing)[:3]}")
    model.load_state_dict({**{k: torch.from_numpy(v.astype(np.float32)) for k, v in full.items()}, **merged},
                          strict=False)


def config_dict(config: FinetuneConfig) -> dict:
    return asdict(config)
