"""Representation clusters: do mirror pairs (a, b) and (b, a) share a representation?

A symmetric (memorizing) model loses the order of the anchors early, so the first attention
block's output for (a, b) and (b, a) falls into one cluster; an inferential model keeps them
apart. Distances are measured in the original space; t-SNE only draws the picture.
"""

from __future__ import annotations

import logging
import os

import numpy as np

logger = logging.getLogger(__name__)


def pair_centroids(
    vectors: np.ndarray, anchor_pair: np.ndarray
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(pairs in sorted order, their centroids (P, D)) of vectors (N, D) labelled by
    anchor pair (N, 2)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    anchor_pair = np.asarray(anchor_pair).reshape(-1, 2)
    if len(vectors) != len(anchor_pair):
        raise ValueError(f"{len(vectors)} vectors but {len(anchor_pair)} anchor pairs")
    pairs = sorted({(int(a), int(b)) for a, b in anchor_pair})
    centroids = np.stack(
        [
            vectors[(anchor_pair[:, 0] == a) & (anchor_pair[:, 1] == b)].mean(axis=0)
            for a, b in pairs
        ]
    )
    return pairs, centroids


def mirror_pair_ratio(vectors: np.ndarray, anchor_pair: np.ndarray) -> float:
    """Mean distance between the centroids of mirror pairs ((a, b) vs (b, a), a != b)
    divided by the mean distance between the centroids of all other pairs of pairs.

    Small (well below 1) means mirror pairs merged, the symmetric signature; about 1 means
    the anchor order matters as much as the anchors themselves. Refuses data without at
    least one mirror couple and one other couple of pairs.
    """
    pairs, centroids = pair_centroids(vectors, anchor_pair)
    distances = np.linalg.norm(centroids[:, None, :] - centroids[None, :, :], axis=-1)

    mirror, other = [], []
    for i, (a, b) in enumerate(pairs):
        for j in range(i + 1, len(pairs)):
            (mirror if pairs[j] == (b, a) else other).append(distances[i, j])
    if not mirror or not other:
        raise ValueError(
            "mirror_pair_ratio needs both orders of at least one anchor pair and one other "
            f"pair; got pairs {pairs}"
        )
    if np.mean(other) == 0:
        return float("nan")
    return float(np.mean(mirror) / np.mean(other))


def tsne_map(
    vectors: np.ndarray,
    seed: int = 0,
    perplexity: float = 30.0,
    threads: int | None = None,
    pca_dims: int = 50,
) -> np.ndarray:
    """A 2-D t-SNE map (N, 2) of vectors (N, D), with openTSNE's FFT-accelerated gradient.

    Vectors wider than ``pca_dims`` are first projected on their leading principal
    components. The schedule is short (125 early-exaggeration + 250 iterations), enough to
    separate clusters of ~10,000 points in well under a minute on 2 cores; the perplexity
    is lowered for small N so that it stays below N / 3.
    """
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}")
    if vectors.shape[1] > pca_dims:
        vectors = PCA(n_components=pca_dims, random_state=seed).fit_transform(vectors)

    perplexity = min(perplexity, (n - 1) / 3)
    tsne = TSNE(
        perplexity=perplexity,
        early_exaggeration_iter=125,
        n_iter=250,
        n_jobs=threads or os.cpu_count() or 1,
        random_state=seed,
        negative_gradient_method="fft" if n >= 1000 else "bh",
        verbose=False,
    )
    logger.debug("t-SNE of %d points (perplexity %.1f)", n, perplexity)
    return np.asarray(tsne.fit(vectors))
