"""Information flow: how attention moves the key and the anchors between positions.

In the study's picture of a 2-layer model, an inferential (reasoning) model moves the key
onto each anchor position in layer 1 (single-anchor maps) and gathers both anchors into the
last position in layer 2 (composition); a symmetric (memorizing) model merges both anchors
into the last position already in layer 1 (order is lost) and brings in the key in layer 2.
"""

from __future__ import annotations

import numpy as np


def information_flow(patterns: np.ndarray, key_position: np.ndarray) -> dict[str, float]:
    """Attention between the key, the anchors and the last position, per layer.

    ``patterns``: attention weights (L, N, T, T) for N sequences (row = query position,
    column = attended position; average over heads first). ``key_position``: (N,) 0-indexed
    key positions; the anchors sit at key_position + 1 and + 2.

    Returns, for each layer l counted from 1:

    - ``layer{l}_anchor_to_key``: mean attention of the two anchor positions on the key;
    - ``layer{l}_last_to_anchors``: attention of the last position on the two anchor
      positions together (their sum), over sequences whose pair ends before the last
      position (where the second anchor is the last token this would count its attention to
      itself); NaN when no sequence qualifies;
    - ``layer{l}_last_to_key``: attention of the last position on the key.
    """
    patterns = np.asarray(patterns, dtype=np.float64)
    key_position = np.asarray(key_position, dtype=np.int64)
    if patterns.ndim != 4 or patterns.shape[2] != patterns.shape[3]:
        raise ValueError(f"patterns must have shape (L, N, T, T), got {patterns.shape}")
    n_layers, n, seq_len, _ = patterns.shape
    if key_position.shape != (n,):
        raise ValueError(f"key_position must have shape ({n},), got {key_position.shape}")
    if n and (key_position.min() < 0 or key_position.max() > seq_len - 3):
        raise ValueError(f"key positions must lie in 0..{seq_len - 3} so that the pair fits")

    rows = np.arange(n)
    first, second, last = key_position + 1, key_position + 2, seq_len - 1
    pair_before_last = second < last
    numbers: dict[str, float] = {}
    for layer in range(n_layers):
        weights = patterns[layer]
        anchor_to_key = (
            weights[rows, first, key_position] + weights[rows, second, key_position]
        ) / 2
        last_to_anchors = weights[rows, last, first] + weights[rows, last, second]
        last_to_key = weights[rows, last, key_position]

        name = f"layer{layer + 1}"
        numbers[f"{name}_anchor_to_key"] = _mean(anchor_to_key)
        numbers[f"{name}_last_to_anchors"] = _mean(last_to_anchors[pair_before_last])
        numbers[f"{name}_last_to_key"] = _mean(last_to_key)
    return numbers


def head_average(patterns: np.ndarray) -> np.ndarray:
    """(N, H, T, T) attention weights averaged over heads -> (N, T, T)."""
    return np.asarray(patterns).mean(axis=1)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
