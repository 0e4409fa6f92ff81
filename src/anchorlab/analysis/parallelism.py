"""Equal-target parallelism and single-anchor value vectors.

An inferential model computes the target from the key and the anchors' shifts, so two
sequences whose answers agree should look alike inside it even when their pairs differ:
the last position's vector after the second attention block is nearly parallel for equal
targets, and the second layer's value vector at the first anchor's position lines up where
the single-anchor results key + shift(first anchor) agree. A symmetric model has no such
reason to align them.

Both analyses share one measure, :func:`agreement_cosine_gap`, over groups of vectors
indexed by key: groups are anchor pairs (equal targets) or first anchors (single-anchor
results).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` (..., K, D) with every row of ``b``
    (..., M, D): (..., K, M). A zero vector has cosine 0 with everything."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a_norm = np.linalg.norm(a, axis=-1, keepdims=True)
    b_norm = np.linalg.norm(b, axis=-1, keepdims=True)
    a_unit = np.divide(a, a_norm, out=np.zeros_like(a), where=a_norm > 0)
    b_unit = np.divide(b, b_norm, out=np.zeros_like(b), where=b_norm > 0)
    return a_unit @ np.swapaxes(b_unit, -1, -2)


def agreement_mask(keys: Sequence[int], offset_a: int, offset_b: int) -> np.ndarray:
    """(K, K) boolean: cell (i, j) is True where keys[i] + offset_a == keys[j] + offset_b."""
    keys = np.asarray(keys)
    return (keys[:, None] + offset_a) == (keys[None, :] + offset_b)


@dataclass(frozen=True)
class CosineGrid:
    """Cosines between two groups' vectors over the same keys, and where results agree."""

    group_a: Hashable
    group_b: Hashable
    keys: tuple[int, ...]
    cosine: np.ndarray  # (K, K): row = key of group_a, column = key of group_b
    agree: np.ndarray  # (K, K) bool


def cosine_grid(
    vectors: Mapping[Hashable, np.ndarray],
    keys: Sequence[int],
    offsets: Mapping[Hashable, int],
    group_a: Hashable,
    group_b: Hashable,
) -> CosineGrid:
    """The heatmap of one comparison. ``vectors[g]`` has shape (C, K, D): C contexts, one
    row per key; the cosine of two cells is averaged over the contexts they share.
    ``offsets[g]`` is what group g adds to the key (its target offset or its shift)."""
    cosine = cosine_matrix(vectors[group_a], vectors[group_b]).mean(axis=0)
    agree = agreement_mask(keys, offsets[group_a], offsets[group_b])
    return CosineGrid(group_a, group_b, tuple(int(k) for k in keys), cosine, agree)


def agreement_cosine_gap(
    vectors: Mapping[Hashable, np.ndarray],
    keys: Sequence[int],
    offsets: Mapping[Hashable, int],
    groups: Sequence[Hashable] | None = None,
) -> float:
    """Mean cosine over cells whose results agree minus mean cosine over cells whose results
    differ, pooled over every unordered couple of distinct groups.

    ``vectors[g]``: (C, K, D) per group g (contexts x keys x width); ``offsets[g]``: the
    group's offset, so that cell (i, j) of groups (g, h) agrees when
    keys[i] + offsets[g] == keys[j] + offsets[h]. About 1 when vectors encode only the
    result, about 0 when they ignore it. NaN when no cell agrees or none differs.
    """
    groups = list(vectors) if groups is None else list(groups)
    agree_values, differ_values = [], []
    for i, group_a in enumerate(groups):
        for group_b in groups[i + 1 :]:
            grid = cosine_grid(vectors, keys, offsets, group_a, group_b)
            agree_values.append(grid.cosine[grid.agree])
            differ_values.append(grid.cosine[~grid.agree])

    agree = np.concatenate(agree_values) if agree_values else np.empty(0)
    differ = np.concatenate(differ_values) if differ_values else np.empty(0)
    if not agree.size or not differ.size:
        return float("nan")
    return float(agree.mean() - differ.mean())
