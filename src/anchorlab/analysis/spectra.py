"""Spectra: singular values of every weight matrix and their stable rank.

Small initialization keeps the learned matrices low-rank (a few large singular values);
large initialization leaves the random bulk of the initial matrix in place.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def singular_values(weight: np.ndarray) -> np.ndarray:
    """Singular values of a matrix, descending."""
    return np.linalg.svd(np.asarray(weight, dtype=np.float64), compute_uv=False)


def stable_rank(weight: np.ndarray) -> float:
    """||W||_F^2 / ||W||_2^2: the sum of squared singular values over the largest one
    squared; between 1 (rank one) and the rank. NaN for a zero matrix."""
    values = singular_values(weight)
    if values.size == 0 or values[0] == 0:
        return float("nan")
    return float((values**2).sum() / values[0] ** 2)


def weight_matrices(model: nn.Module) -> dict[str, np.ndarray]:
    """Every linear layer's and embedding table's weight by module name, each stored
    matrix once (a readout tied to the embedding appears under the embedding's name)."""
    matrices: dict[str, np.ndarray] = {}
    seen: set[int] = set()
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Linear, nn.Embedding)):
            continue
        weight = module.weight
        if id(weight) in seen:
            continue
        seen.add(id(weight))
        with torch.no_grad():
            matrices[name] = weight.detach().float().cpu().numpy()
    return matrices


def layer_spectra(model: nn.Module) -> dict[str, np.ndarray]:
    """Singular values of every weight matrix (see :func:`weight_matrices`)."""
    return {name: singular_values(w) for name, w in weight_matrices(model).items()}
