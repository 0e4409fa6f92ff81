"""Probe sequences for the mechanism analyses, and the activations a model computes on them.

Probes are anchor-task sequences built on purpose: a chosen key and anchor pair placed into
random noise contexts (a key position plus noise items), so that two probes differ only in
what an analysis compares. Activations come from ``model.run_with_cache`` under the
decoder's stable names (see ``anchorlab.models.decoder``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from anchorlab.tasks.anchor import AnchorPair, TaskSpec


def all_pairs(spec: TaskSpec) -> tuple[AnchorPair, ...]:
    """Every ordered pair of the task's anchors, trained or held out, in reading order."""
    return tuple((a1, a2) for a1 in spec.anchors for a2 in spec.anchors)


@dataclass(frozen=True)
class NoiseContexts:
    """Random surroundings for probes: per context a key position and a full row of noise
    items (the key and the pair overwrite three of them)."""

    key_position: np.ndarray  # (C,) int
    noise: np.ndarray  # (C, T) int

    def __len__(self) -> int:
        return len(self.key_position)


def noise_contexts(
    spec: TaskSpec, n: int, seed: int = 0, key_position: int | None = None
) -> NoiseContexts:
    """``n`` contexts drawn from ``seed``; ``key_position`` fixes the key's position, else
    it is drawn from the task's key positions."""
    if n < 1:
        raise ValueError(f"the number of noise contexts must be >= 1, got {n}")
    if key_position is not None and key_position not in spec.positions:
        raise ValueError(
            f"key position {key_position} is not one the task uses; choose from {spec.positions}"
        )
    rng = np.random.default_rng([seed, 7])
    positions = np.asarray(spec.positions)
    noise = rng.integers(spec.item_min, spec.item_max + 1, size=(n, spec.seq_len))
    if key_position is None:
        chosen = positions[rng.integers(len(positions), size=n)]
    else:
        chosen = np.full(n, key_position)
    return NoiseContexts(key_position=chosen.astype(np.int64), noise=noise.astype(np.int64))


def probe_tokens(
    contexts: NoiseContexts, keys: Sequence[int], pairs: Sequence[AnchorPair]
) -> np.ndarray:
    """Token ids for every (pair, key, context): shape (P, K, C, T).

    Probes that share a context differ only at the key and the two anchor positions.
    """
    keys = np.asarray(keys, dtype=np.int64)
    pairs_array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    P, K, C = len(pairs_array), len(keys), len(contexts)

    tokens = np.broadcast_to(contexts.noise, (P, K, C, contexts.noise.shape[1])).copy()
    rows = np.arange(C)
    for p, (a1, a2) in enumerate(pairs_array):
        for k, key in enumerate(keys):
            tokens[p, k, rows, contexts.key_position] = key
            tokens[p, k, rows, contexts.key_position + 1] = a1
            tokens[p, k, rows, contexts.key_position + 2] = a2
    return tokens


@torch.no_grad()
def activations(
    model: torch.nn.Module,
    tokens: np.ndarray,
    names: Iterable[str],
    batch_size: int = 2048,
) -> dict[str, np.ndarray]:
    """The named activations (float32 numpy, leading axis aligned with ``tokens`` rows) for
    token ids of shape (N, T). Refuses a name the model does not record."""
    names = list(names)
    model.eval()
    device = next(model.parameters()).device
    flat = torch.as_tensor(np.asarray(tokens).reshape(-1, np.asarray(tokens).shape[-1]))

    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for batch in flat.split(batch_size):
        _, cache = model.run_with_cache(batch.to(device))
        for name in names:
            if name not in cache:
                known = ", ".join(sorted(cache))
                raise KeyError(f"the model records no activation {name!r}; it has: {known}")
            value = cache[name]
            if value.dim() == 2:  # per-position tables such as pos_embed: same for every row
                value = value.unsqueeze(0).expand(len(batch), *value.shape)
            chunks[name].append(value.float().cpu().numpy())
    return {name: np.concatenate(parts) for name, parts in chunks.items()}
