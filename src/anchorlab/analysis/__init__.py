"""Mechanism analyses: why a trained model reasons or memorizes, as numbers.

Each analysis is a function of a model and/or arrays that returns numbers; the pure-number
helpers work on any arrays (and are tested on constructed cases). ``analyze_model`` runs
them all on one anchor-task model; ``anchorlab.analysis.runs`` reads run and sweep
directories. Figures live in ``anchorlab.reports.analysis_figures``.
"""

from anchorlab.analysis.clusters import mirror_pair_ratio, pair_centroids, tsne_map
from anchorlab.analysis.condensation import Condensation, condensation
from anchorlab.analysis.embedding import (
    covariance_eigenvalues,
    effective_rank,
    embedding_order,
    embedding_structure,
)
from anchorlab.analysis.flow import information_flow
from anchorlab.analysis.mechanism import AnalysisSettings, MechanismAnalysis, analyze_model
from anchorlab.analysis.parallelism import agreement_cosine_gap, cosine_grid, cosine_matrix
from anchorlab.analysis.spectra import layer_spectra, singular_values, stable_rank

__all__ = [
    "AnalysisSettings",
    "Condensation",
    "MechanismAnalysis",
    "agreement_cosine_gap",
    "analyze_model",
    "condensation",
    "cosine_grid",
    "cosine_matrix",
    "covariance_eigenvalues",
    "effective_rank",
    "embedding_order",
    "embedding_structure",
    "information_flow",
    "layer_spectra",
    "mirror_pair_ratio",
    "pair_centroids",
    "singular_values",
    "stable_rank",
    "tsne_map",
]
