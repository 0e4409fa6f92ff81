"""Every mechanism analysis of one trained anchor-task model, as numbers (and the arrays
their figures are drawn from).

``analyze_model`` runs the seven analyses on one model:

1. information flow (attention between key, anchors and the last position, per layer);
2. representation clusters (first attention block output at the last position, by pair);
3. equal-target parallelism (last position after the second attention block);
4. value vectors (second layer's values at the first anchor's position);
5. condensation of the first layer's query rows;
6. embedding structure of the items (order along PC1/PC2, effective rank, and two numbers
   that see order along any curve: distance order and shift neighbours);
7. spectra (stable rank of every weight matrix, embedding covariance eigenvalues).

Analyses 3 and 4 need a second layer; on a 1-layer model their numbers are None.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from anchorlab.analysis.clusters import mirror_pair_ratio, tsne_map
from anchorlab.analysis.condensation import CONDENSATION_THRESHOLD, Condensation, condensation
from anchorlab.analysis.embedding import EmbeddingStructure, embedding_structure
from anchorlab.analysis.flow import head_average, information_flow
from anchorlab.analysis.parallelism import CosineGrid, agreement_cosine_gap, cosine_grid
from anchorlab.analysis.probes import activations, all_pairs, noise_contexts, probe_tokens
from anchorlab.analysis.spectra import layer_spectra, stable_rank, weight_matrices
from anchorlab.tasks.anchor import AnchorPair, TaskSpec, generate

logger = logging.getLogger(__name__)
logging.getLogger("openTSNE").setLevel(logging.WARNING)

Comparison = tuple[AnchorPair, AnchorPair]


@dataclass(frozen=True)
class AnalysisSettings:
    """How much data each analysis looks at, and which examples its figures show."""

    seed: int = 0
    """Seeds every probe and the t-SNE maps."""
    flow_sequences: int = 2000
    """Held-out-pair sequences the information-flow numbers and mean graph average over."""
    flow_key: int = 99
    """Key of the single sequence drawn as a token graph."""
    flow_pair: AnchorPair = (4, 3)
    """Anchor pair of the single sequence (default: the held-out pair)."""
    flow_key_position: int = 2
    """Key position of the single sequence and of the averaged graph."""
    cluster_sequences: int = 10_000
    """Sequences (all anchor pairs, all keys) whose first-block output is clustered."""
    tsne_points: int = 10_000
    """Points of the representation t-SNE map (at most cluster_sequences; 0: no map)."""
    probe_keys: tuple[int, ...] = tuple(range(30, 41))
    """Keys of the cosine heatmaps and gaps."""
    probe_contexts: int = 16
    """Noise contexts each (pair, key) cell's cosine is averaged over."""
    target_comparisons: tuple[Comparison, ...] = (((3, 3), (2, 2)), ((1, 2), (1, 3)))
    """Pairs compared in the equal-target heatmaps."""
    value_comparisons: tuple[Comparison, ...] = (((1, 2), (2, 1)), ((3, 3), (2, 2)))
    """Pairs compared in the value-vector heatmaps (only the first anchors matter)."""
    condensation_threshold: float = CONDENSATION_THRESHOLD
    """Cosine above which two query rows count as one direction."""
    threads: int | None = None
    """Threads for t-SNE; None uses every core."""

    def __post_init__(self) -> None:
        for name in ("flow_sequences", "cluster_sequences", "probe_contexts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.tsne_points < 0:
            raise ValueError(f"tsne_points must be >= 0, got {self.tsne_points}")
        if len(self.probe_keys) < 2:
            raise ValueError("probe_keys needs at least two keys")


@dataclass(frozen=True)
class FlowExample:
    """Attention of every layer on one sequence, for the token-graph figure."""

    tokens: np.ndarray  # (T,)
    key_position: int
    patterns: np.ndarray  # (L, T, T), head-averaged
    mean_patterns: np.ndarray  # (L, T, T): mean over held-out sequences, same key position


@dataclass
class MechanismAnalysis:
    """Numbers of every analysis; the figure arrays are None when maps were not asked for."""

    numbers: dict[str, float | None]
    stable_rank: dict[str, float]
    singular_values: dict[str, np.ndarray]
    embedding_eigenvalues: np.ndarray
    flow: FlowExample | None = None
    representation_map: np.ndarray | None = None  # (N, 2) t-SNE
    representation_pairs: np.ndarray | None = None  # (N, 2) anchor pair per point
    target_grids: list[CosineGrid] = field(default_factory=list)
    value_grids: list[CosineGrid] = field(default_factory=list)
    condensation: Condensation | None = None
    embedding: EmbeddingStructure | None = None
    embedding_map: np.ndarray | None = None  # (n_items, 2) t-SNE
    item_values: np.ndarray | None = None

    def flat_numbers(self) -> dict[str, float | None]:
        """Scalar numbers plus ``stable_rank.<layer>`` entries, for tables and curves."""
        flat = dict(self.numbers)
        flat.update({f"stable_rank.{name}": value for name, value in self.stable_rank.items()})
        return flat

    def to_json(self) -> dict[str, Any]:
        """JSON-ready numbers and spectra (NaN becomes None)."""
        return {
            "numbers": {k: _json_number(v) for k, v in self.numbers.items()},
            "stable_rank": {k: _json_number(v) for k, v in self.stable_rank.items()},
            "singular_values": {k: v.round(6).tolist() for k, v in self.singular_values.items()},
            "embedding_covariance_eigenvalues": self.embedding_eigenvalues.round(8).tolist(),
        }


def analyze_model(
    model: torch.nn.Module,
    spec: TaskSpec,
    settings: AnalysisSettings | None = None,
    maps: bool = True,
) -> MechanismAnalysis:
    """Run every analysis on ``model`` (an ``AnchorTransformer`` trained on ``spec``).

    With ``maps`` the result also carries what the figures need (t-SNE maps included);
    without, only numbers are computed (cheaper, e.g. for every training checkpoint).
    Deterministic for given weights and settings.
    """
    settings = settings or AnalysisSettings()
    model.eval()
    n_layers = len(model.blocks)
    numbers: dict[str, float | None] = {}
    result = MechanismAnalysis(
        numbers=numbers, stable_rank={}, singular_values={}, embedding_eigenvalues=np.empty(0)
    )

    numbers.update(_flow_numbers(model, spec, settings))
    if maps:
        result.flow = _flow_example(model, spec, settings)

    representations, pairs = first_block_representations(model, spec, settings)
    numbers["mirror_pair_ratio"] = mirror_pair_ratio(representations, pairs)
    if maps and settings.tsne_points:
        count = min(settings.tsne_points, len(representations))
        result.representation_map = tsne_map(
            representations[:count], seed=settings.seed, threads=settings.threads
        )
        result.representation_pairs = pairs[:count]

    if n_layers >= 2:
        targets, values = _parallelism(model, spec, settings, maps, result)
        numbers["equal_target_cosine_gap"] = targets
        numbers["value_single_anchor_cosine_gap"] = values
    else:
        logger.info("1-layer model: the equal-target and value-vector analyses need 2 layers")
        numbers["equal_target_cosine_gap"] = None
        numbers["value_single_anchor_cosine_gap"] = None

    query = model.blocks[0].attn.query.weight.detach().float().cpu().numpy()
    grouped = condensation(query, settings.condensation_threshold)
    numbers["wq1_groups"] = float(grouped.n_groups)
    numbers["wq1_mean_abs_cosine"] = grouped.mean_abs_cosine
    if maps:
        result.condensation = grouped

    items = np.arange(spec.item_min, spec.item_max + 1)
    item_embeddings = model.embed.weight.detach().float().cpu().numpy()[items]
    structure = embedding_structure(item_embeddings, items, spec.anchor_shifts.values())
    numbers["embedding_order"] = structure.order
    numbers["embedding_effective_rank"] = structure.effective_rank
    numbers["embedding_distance_order"] = structure.distance_order
    numbers["embedding_shift_neighbours"] = structure.shift_neighbours
    result.embedding_eigenvalues = structure.covariance_eigenvalues
    if maps:
        result.embedding = structure
        result.item_values = items
        result.embedding_map = tsne_map(item_embeddings, seed=settings.seed, threads=1)

    result.singular_values = layer_spectra(model)
    result.stable_rank = {name: stable_rank(w) for name, w in weight_matrices(model).items()}
    return result


# -- 1. information flow ------------------------------------------------------------------


def _pattern_names(model: torch.nn.Module) -> list[str]:
    return [f"blocks.{layer}.attn.pattern" for layer in range(len(model.blocks))]


def _head_averaged_patterns(model: torch.nn.Module, tokens: np.ndarray) -> np.ndarray:
    """(L, N, T, T) attention weights averaged over heads."""
    cache = activations(model, tokens, _pattern_names(model))
    return np.stack([head_average(cache[name]) for name in _pattern_names(model)])


def _flow_numbers(model, spec: TaskSpec, settings: AnalysisSettings) -> dict[str, float]:
    data = generate(spec, "heldout", settings.flow_sequences, settings.seed)
    patterns = _head_averaged_patterns(model, data.tokens)
    return information_flow(patterns, data.key_position)


def _flow_example(model, spec: TaskSpec, settings: AnalysisSettings) -> FlowExample:
    if not set(settings.flow_pair) <= set(spec.anchors):
        raise ValueError(
            f"flow_pair {settings.flow_pair} is not a pair of the task's anchors {spec.anchors}"
        )
    if not spec.item_min <= settings.flow_key <= spec.item_max:
        raise ValueError(
            f"flow_key {settings.flow_key} lies outside the items {spec.item_min}..{spec.item_max}"
        )
    contexts = noise_contexts(
        spec, settings.flow_sequences, settings.seed, key_position=settings.flow_key_position
    )
    single = probe_tokens(contexts, [settings.flow_key], [settings.flow_pair])[0, 0, 0]
    rng = np.random.default_rng([settings.seed, 11])
    held_out = spec.held_out_pairs or (settings.flow_pair,)
    keys = rng.integers(spec.item_min, spec.item_max + 1, size=len(contexts))
    pair_rows = np.asarray(held_out)[rng.integers(len(held_out), size=len(contexts))]
    many = contexts.noise.copy()
    rows = np.arange(len(contexts))
    many[rows, contexts.key_position] = keys
    many[rows, contexts.key_position + 1] = pair_rows[:, 0]
    many[rows, contexts.key_position + 2] = pair_rows[:, 1]

    return FlowExample(
        tokens=single,
        key_position=settings.flow_key_position,
        patterns=_head_averaged_patterns(model, single[None])[:, 0],
        mean_patterns=_head_averaged_patterns(model, many).mean(axis=1),
    )


# -- 2. representation clusters -----------------------------------------------------------


def first_block_representations(model, spec: TaskSpec, settings: AnalysisSettings):
    """First attention block's output (after the residual, and its norm when post-LN) at
    the last position, for sequences of every anchor pair with keys over the whole range."""
    data = generate(
        spec, "heldout", settings.cluster_sequences, settings.seed, pairs=all_pairs(spec)
    )
    cache = activations(model, data.tokens, ["blocks.0.attn_out"])
    return cache["blocks.0.attn_out"][:, -1], data.anchor_pair


# -- 3 and 4. equal-target parallelism, value vectors -------------------------------------


def _parallelism(model, spec: TaskSpec, settings, maps: bool, result: MechanismAnalysis):
    """(equal_target_cosine_gap, value_single_anchor_cosine_gap); fills the heatmap grids."""
    pairs = all_pairs(spec)
    keys = [k for k in settings.probe_keys if spec.item_min <= k <= spec.item_max]
    if len(keys) < 2:
        raise ValueError(
            f"probe keys {settings.probe_keys} fall outside the items "
            f"{spec.item_min}..{spec.item_max}: choose keys inside"
        )
    contexts = noise_contexts(spec, settings.probe_contexts, settings.seed)
    tokens = probe_tokens(contexts, keys, pairs)  # (P, K, C, T)
    P, K, C, T = tokens.shape
    cache = activations(model, tokens.reshape(-1, T), ["blocks.1.attn_out", "blocks.1.attn.values"])

    last = cache["blocks.1.attn_out"][:, -1].reshape(P, K, C, -1)
    values = cache["blocks.1.attn.values"]  # (N, H, T, Dh)
    values = values.transpose(0, 2, 1, 3).reshape(len(values), T, -1)  # heads concatenated
    first_anchor_position = np.tile(contexts.key_position + 1, P * K)
    values = values[np.arange(len(values)), first_anchor_position].reshape(P, K, C, -1)

    by_pair_last = {pair: last[i].transpose(1, 0, 2) for i, pair in enumerate(pairs)}
    by_pair_value = {pair: values[i].transpose(1, 0, 2) for i, pair in enumerate(pairs)}
    target_offset = {pair: spec.trained_offset(pair) for pair in pairs}
    anchor_offset = {pair: spec.anchor_shifts[pair[0]] for pair in pairs}

    seen = list(spec.trained_pairs)
    target_gap = agreement_cosine_gap(by_pair_last, keys, target_offset, groups=seen)
    one_per_first_anchor = list({pair[0]: pair for pair in reversed(pairs)}.values())
    value_gap = agreement_cosine_gap(by_pair_value, keys, anchor_offset, one_per_first_anchor)

    if maps:
        result.target_grids = [
            cosine_grid(by_pair_last, keys, target_offset, a, b)
            for a, b in _valid(settings.target_comparisons, pairs)
        ]
        result.value_grids = [
            cosine_grid(by_pair_value, keys, anchor_offset, a, b)
            for a, b in _valid(settings.value_comparisons, pairs)
        ]
    return target_gap, value_gap


def _valid(comparisons, pairs) -> list[Comparison]:
    known = set(pairs)
    chosen = []
    for a, b in comparisons:
        if tuple(a) in known and tuple(b) in known:
            chosen.append((tuple(a), tuple(b)))
        else:
            logger.warning("skipping heatmap %s vs %s: not pairs of this task's anchors", a, b)
    return chosen


def _json_number(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)
