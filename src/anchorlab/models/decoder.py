"""The study's decoder-only transformer, read top to bottom: attention, feed-forward, block,
configuration, model.

Activations are exposed under stable names (layers counted from 0):

- ``embed``                    token embedding, (B, T, C)
- ``pos_embed``                position embedding, (T, C)
- ``blocks.{l}.attn.pattern``  attention weights, (B, H, T, T); row = query, column = key
- ``blocks.{l}.attn.values``   value vectors, (B, H, T, d_v / H)
- ``blocks.{l}.attn_out``      after the attention residual (and its norm when post-LN)
- ``blocks.{l}.out``           block output, after the feed-forward residual (and norm)

``model(tokens, cache={})`` fills the dict with these tensors; without a cache the last block
is computed at the last position only, since nothing else reaches the logits.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, model_validator
from pydantic.dataclasses import dataclass as validated_dataclass
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.d_head = config.d_k // config.n_heads
        self.d_value = config.d_v // config.n_heads
        bias = config.block_bias
        self.query = nn.Linear(config.d_model, config.d_k, bias=bias)
        self.key = nn.Linear(config.d_model, config.d_k, bias=bias)
        self.value = nn.Linear(config.d_model, config.d_v, bias=bias)
        self.output = nn.Linear(config.d_v, config.d_model, bias=bias)
        mask = torch.ones(config.seq_len, config.seq_len, dtype=torch.bool).tril()
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, last_only: bool, cache: dict | None, prefix: str):
        B, T, _ = x.shape
        source = x[:, -1:] if last_only else x
        q = self.query(source).view(B, -1, self.n_heads, self.d_head).transpose(1, 2)
        k = self.key(x).view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, Dh)
        v = self.value(x).view(B, T, self.n_heads, self.d_value).transpose(1, 2)

        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, Tq, T)
        mask = self.causal_mask[T - q.shape[2] : T, :T]
        pattern = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = pattern @ v  # (B, H, Tq, Dv)
        y = y.transpose(1, 2).reshape(B, q.shape[2], -1)  # (B, Tq, d_v)

        if cache is not None:
            cache[f"{prefix}.attn.pattern"] = pattern
            cache[f"{prefix}.attn.values"] = v
        return self.output(y)


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.up = nn.Linear(config.d_model, config.d_ff, bias=config.block_bias)
        self.down = nn.Linear(config.d_ff, config.d_model, bias=config.block_bias)
        self.activation = ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.activation(self.up(x)))


class Block(nn.Module):
    """Post-LN: h = LN(x + Attn(x)); out = LN(h + FFN(h)). Pre-LN: norms before each part."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.post_norm = config.norm_position == "post"
        self.attn_norm = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ffn_norm = nn.LayerNorm(config.d_model)
        self.ffn = FeedForward(config)

    def forward(self, x, last_only: bool = False, cache: dict | None = None, prefix: str = ""):
        residual = x[:, -1:] if last_only else x
        if self.post_norm:
            h = self.attn_norm(residual + self.attn(x, last_only, cache, prefix))
            out = self.ffn_norm(h + self.ffn(h))
        else:
            h = residual + self.attn(self.attn_norm(x), last_only, cache, prefix)
            out = h + self.ffn(self.ffn_norm(h))

        if cache is not None:
            cache[f"{prefix}.attn_out"] = h
            cache[f"{prefix}.out"] = out
        return out


@validated_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ModelConfig:
    """Sizes and switches of the decoder. Defaults are the study's decoder (1 head, post-LN, ReLU,
    d_model 400, d_ff 1200, d_k = d_v 200)."""

    vocab_size: int = 201
    """Token ids 0..vocab_size-1, inputs and targets alike."""
    seq_len: int = 9
    """Longest input; the learned position table has this many rows."""
    n_layers: int = 2
    """Depth: number of attention + feed-forward blocks."""
    n_heads: int = 1
    """Attention heads; d_k and d_v are split evenly between them."""
    d_model: int = 400
    """Residual stream width."""
    d_k: int = 200
    """Total query/key width over all heads."""
    d_v: int = 200
    """Total value width over all heads."""
    d_ff: int = 1200
    """Hidden width of the feed-forward network."""
    activation: Literal["relu", "gelu"] = "relu"
    """Feed-forward nonlinearity."""
    norm_position: Literal["post", "pre"] = "post"
    """``post``: LN after each residual add (the study). ``pre``: LN before each part, plus a
    final LN before the readout."""
    block_bias: bool = False
    """Biases inside attention and feed-forward layers."""
    readout_bias: bool = True
    """Bias on the vocabulary readout."""
    tie_embedding: bool = False
    """The readout shares the token embedding's matrix (as GPT-2 does); the init rate then
    draws that matrix once, by the embedding's rule."""
    arch: Literal["study", "gpt2"] = "study"
    """Model family these settings started from: ``study`` (the study's decoder) or ``gpt2``
    (GPT-2's block: multi-head, GELU, biases, d_ff = 4 d_model, tied embedding). Setting it
    through an ``arch`` override fills in the family's defaults (``anchorlab.models.gpt2``);
    the fields above decide the model."""

    @model_validator(mode="after")
    def _check(self):
        for name in ("vocab_size", "seq_len", "n_layers", "n_heads", "d_model", "d_k", "d_v"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_ff < 1:
            raise ValueError(f"d_ff must be >= 1, got {self.d_ff}")
        for name in ("d_k", "d_v"):
            if getattr(self, name) % self.n_heads:
                raise ValueError(
                    f"{name}={getattr(self, name)} is not divisible by n_heads={self.n_heads}"
                )
        return self


class AnchorTransformer(nn.Module):
    """Decoder with learned absolute positions and a readout at the last position (untied
    unless ``tie_embedding``)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_embed = nn.Embedding(config.seq_len, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.final_norm = nn.LayerNorm(config.d_model) if config.norm_position == "pre" else None
        self.readout = nn.Linear(config.d_model, config.vocab_size, bias=config.readout_bias)
        if config.tie_embedding:
            self.readout.weight = self.embed.weight  # (vocab, d_model) both

    def forward(
        self, tokens: torch.Tensor, cache: dict | None = None, all_positions: bool = False
    ) -> torch.Tensor:
        """Logits at the last position, (B, vocab); with ``all_positions``, logits at every
        position, (B, T, vocab), for sequence-to-sequence losses. ``cache`` (a dict)
        receives activations."""
        B, T = tokens.shape
        if T > self.config.seq_len:
            raise ValueError(f"sequence of {T} tokens exceeds seq_len={self.config.seq_len}")
        tok = self.embed(tokens)  # (B, T, C)
        pos = self.pos_embed.weight[:T]  # (T, C)
        x = tok + pos
        if cache is not None:
            cache["embed"] = tok
            cache["pos_embed"] = pos

        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            last_only = cache is None and index == last and not all_positions
            x = block(x, last_only=last_only, cache=cache, prefix=f"blocks.{index}")

        if not all_positions:
            x = x[:, -1]  # (B, C)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return self.readout(x)  # (B, vocab) or (B, T, vocab)

    @torch.no_grad()
    def run_with_cache(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cache: dict[str, torch.Tensor] = {}
        logits = self(tokens, cache=cache)
        return logits, cache
