"""Embedding structure: are the items laid out in value order, and in how many directions?

Under small initialization the item embeddings (tokens 20..99) line up by value along the
leading principal components, with few large covariance eigenvalues; under large
initialization no order appears and the spectrum stays flat.

Two more numbers look past the first two principal components: the rank correlation
between embedding distances and value differences, and how often an item's nearest
neighbour differs from it by a difference of two anchor shifts (the study's arithmetic
progressions, e.g. steps 3 and 4 for shifts +5, +1, -2, -8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr


@dataclass(frozen=True)
class EmbeddingStructure:
    principal_components: np.ndarray  # (n_items, 2) projections on the first two PCs
    covariance_eigenvalues: np.ndarray  # descending
    order: float
    effective_rank: float
    distance_order: float
    shift_neighbours: float | None


def covariance_eigenvalues(embeddings: np.ndarray) -> np.ndarray:
    """Eigenvalues of the covariance of the rows of ``embeddings`` (n, D), descending,
    clipped at 0."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise ValueError(f"need at least two embedding rows (n, D), got {embeddings.shape}")
    centred = embeddings - embeddings.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return np.clip(singular**2 / (len(embeddings) - 1), 0.0, None)


def effective_rank(eigenvalues: np.ndarray) -> float:
    """exp of the entropy of the normalized eigenvalues: 1 for a single direction, D for
    D equal ones. NaN when every eigenvalue is 0."""
    eigenvalues = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = eigenvalues.sum()
    if total <= 0:
        return float("nan")
    p = eigenvalues[eigenvalues > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def principal_components(embeddings: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Projections (n, n_components) of the centred rows on their leading principal axes."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    centred = embeddings - embeddings.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:n_components].T


def embedding_order(embeddings: np.ndarray, values: np.ndarray) -> float:
    """Largest |Spearman rho| between the item values and the projection on either of the
    first two principal components: 1 when the items lie in value order along one of them,
    near 0 when no leading direction orders them."""
    values = np.asarray(values)
    if len(values) != len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings but {len(values)} values")
    components = principal_components(embeddings, 2)
    rhos = []
    for column in components.T:
        if np.ptp(column) == 0:
            continue
        rhos.append(abs(spearmanr(values, column).statistic))
    return float(max(rhos)) if rhos else float("nan")


def embedding_distance_order(embeddings: np.ndarray, values: np.ndarray) -> float:
    """Spearman rho between the distances of every two items' embeddings and the
    differences of their values: near 1 when items lie in value order along a line, positive
    when nearby values sit nearby along any curve, about 0 without order."""
    distances = pdist(np.asarray(embeddings, dtype=np.float64))
    differences = pdist(np.asarray(values, dtype=np.float64)[:, None])
    if np.ptp(distances) == 0 or np.ptp(differences) == 0:
        return float("nan")
    return float(spearmanr(distances, differences).statistic)


def shift_differences(shifts: Iterable[int]) -> set[int]:
    """|s_a - s_b| for every two distinct anchor shifts (0 left out)."""
    shifts = list(shifts)
    return {abs(a - b) for a in shifts for b in shifts if a != b}


def shift_neighbour_fraction(
    embeddings: np.ndarray, values: np.ndarray, steps: Iterable[int]
) -> float:
    """Fraction of items whose nearest other item in embedding space (Euclidean) differs
    in value by one of ``steps``. Refuses fewer than two items."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    values = np.asarray(values)
    if len(embeddings) < 2 or len(values) != len(embeddings):
        raise ValueError("need at least two items, each with a value")
    distances = squareform(pdist(embeddings))
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    differences = np.abs(values[nearest] - values)
    return float(np.isin(differences, sorted(set(steps))).mean())


def embedding_structure(
    embeddings: np.ndarray, values: np.ndarray, shifts: Iterable[int] = ()
) -> EmbeddingStructure:
    """Every number of this analysis for item embeddings (n, D) with values (n,);
    ``shift_neighbours`` is None without at least two distinct anchor shifts."""
    eigenvalues = covariance_eigenvalues(embeddings)
    steps = shift_differences(shifts)
    return EmbeddingStructure(
        principal_components=principal_components(embeddings, 2),
        covariance_eigenvalues=eigenvalues,
        order=embedding_order(embeddings, values),
        effective_rank=effective_rank(eigenvalues),
        distance_order=embedding_distance_order(embeddings, values),
        shift_neighbours=shift_neighbour_fraction(embeddings, values, steps) if steps else None,
    )
