"""Condensation: do the neurons of a weight matrix point in a few shared directions?

Under small initialization the rows ("neurons") of a layer's input matrix condense onto a
few directions (low complexity); under large initialization they stay spread out. The
study shows the cosine-similarity matrix of the first layer's query rows, reordered so
that rows with similarity above 0.7 sit together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from anchorlab.analysis.parallelism import cosine_matrix

CONDENSATION_THRESHOLD = 0.7


@dataclass(frozen=True)
class Condensation:
    """Groups of neurons whose rows are mutually similar."""

    cosine: np.ndarray  # (n, n) signed cosine between rows, in the original order
    groups: np.ndarray  # (n,) group label per row, 0 = largest group
    order: np.ndarray  # (n,) row order that puts each group's rows together, largest first
    threshold: float

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1 if self.groups.size else 0

    @property
    def mean_abs_cosine(self) -> float:
        """Mean |cosine| over pairs of distinct rows (1 = fully condensed, ~0 = spread)."""
        n = len(self.cosine)
        if n < 2:
            return float("nan")
        off_diagonal = ~np.eye(n, dtype=bool)
        return float(np.abs(self.cosine[off_diagonal]).mean())

    def reordered(self) -> np.ndarray:
        """The cosine matrix with rows and columns in ``order``."""
        return self.cosine[np.ix_(self.order, self.order)]


def condensation(weight: np.ndarray, threshold: float = CONDENSATION_THRESHOLD) -> Condensation:
    """Group the rows of ``weight`` (n_neurons, d_in) so that every two rows in a group have
    cosine similarity above ``threshold`` (complete linkage on 1 - cosine; signed, so a row
    and its negation fall in different groups). Every row belongs to exactly one group; a
    row like no other is a group of its own. Rows of zero norm are groups of their own.
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2 or weight.shape[0] < 1:
        raise ValueError(f"weight must be a non-empty matrix (n_neurons, d_in), got {weight.shape}")
    if not -1 <= threshold < 1:
        raise ValueError(f"the similarity threshold must lie in [-1, 1), got {threshold}")
    cosine = cosine_matrix(weight, weight)
    n = len(weight)

    if n == 1:
        raw = np.ones(1, dtype=int)
    else:
        distance = np.clip(1.0 - cosine, 0.0, 2.0)
        zero_rows = np.linalg.norm(weight, axis=1) == 0
        distance[zero_rows, :] = distance[:, zero_rows] = 2.0
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="complete")
        raw = fcluster(tree, t=1.0 - threshold, criterion="distance")

    groups, order = _relabel_by_size(raw, cosine)
    return Condensation(cosine=cosine, groups=groups, order=order, threshold=threshold)


def _relabel_by_size(raw: np.ndarray, cosine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0..G-1 by decreasing group size (ties: first row), and the grouped row order
    (within a group, rows by decreasing mean cosine to the group)."""
    labels, first_index, counts = np.unique(raw, return_index=True, return_counts=True)
    ranking = sorted(range(len(labels)), key=lambda i: (-counts[i], first_index[i]))
    new_label = {labels[i]: rank for rank, i in enumerate(ranking)}
    groups = np.array([new_label[label] for label in raw], dtype=int)

    order = []
    for group in range(len(labels)):
        members = np.flatnonzero(groups == group)
        cohesion = cosine[np.ix_(members, members)].mean(axis=1)
        order.extend(members[np.argsort(-cohesion, kind="stable")])
    return groups, np.asarray(order, dtype=int)
