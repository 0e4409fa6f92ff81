"""Figures of the mechanism analyses, drawn from the numbers and arrays of
``anchorlab.analysis`` (nothing is computed here beyond layout).

One run: ``draw_run_figures``; a run's checkpoints: ``draw_over_training``; a sweep:
``draw_grid_figures`` (depth x gamma panels, one representative run per cell, and a
heatmap per number averaged over the cell's runs).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anchorlab.analysis.mechanism import FlowExample, MechanismAnalysis
from anchorlab.analysis.parallelism import CosineGrid
from anchorlab.analysis.runs import OverTraining, RunEntry

logger = logging.getLogger(__name__)

FIGURE_NAMES = {
    "information_flow": "1. attention graph of one held-out sequence and the mean graph",
    "representation_tsne": "2. t-SNE of the first attention block output, by anchor pair",
    "equal_target_cosine": "3. cosine after the second attention block, equal targets marked",
    "value_vectors": "4. cosine of layer-2 values at the first anchor, agreement marked",
    "wq1_condensation": "5. cosine between rows of the first layer's query matrix, grouped",
    "embedding_structure": "6. PCA and t-SNE of the item embeddings, coloured by value",
    "spectra": "7. embedding covariance eigenvalues and singular values of every layer",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path, svg: bool = False) -> list[Path]:
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    written = [path]
    if svg:
        figure.savefig(path.with_suffix(".svg"))
        written.append(path.with_suffix(".svg"))
    plt.close(figure)
    return written


# -- one run ------------------------------------------------------------------------------


def draw_run_figures(result: MechanismAnalysis, out: Path, title: str = "") -> list[Path]:
    """Every figure the analysis has arrays for, as PNG files in ``out`` (the token graph
    also as SVG); returns the paths written."""
    out = Path(out)
    written: list[Path] = []
    if result.flow is not None:
        written += draw_information_flow(result.flow, out / "information_flow.png", title, True)
    if result.representation_map is not None:
        written += draw_representation_map(result, out / "representation_tsne.png", title)
    if result.target_grids:
        written += draw_cosine_grids(
            result.target_grids,
            out / "equal_target_cosine.png",
            f"{title}\nlast position after attention block 2; boxed: equal targets",
        )
    if result.value_grids:
        written += draw_cosine_grids(
            result.value_grids,
            out / "value_vectors.png",
            f"{title}\nlayer-2 values at the first anchor; boxed: key + shift(first anchor) agree",
            pair_label="first anchor of",
        )
    if result.condensation is not None:
        written += draw_condensation(result, out / "wq1_condensation.png", title)
    if result.embedding is not None:
        written += draw_embedding(result, out / "embedding_structure.png", title)
    written += draw_spectra(result, out / "spectra.png", title)
    return written


def _token_graph(axis, patterns: np.ndarray, labels: Sequence[str], colours: Sequence[str]):
    """Tokens as nodes per layer; the edge j (layer l) -> k (layer l+1) has width
    proportional to the attention weight patterns[l, k, j]."""
    from matplotlib.collections import LineCollection

    n_layers, seq_len, _ = patterns.shape
    segments, widths = [], []
    for layer in range(n_layers):
        for k in range(seq_len):
            for j in range(k + 1):
                weight = patterns[layer, k, j]
                if weight >= 0.02:
                    segments.append([(j, layer), (k, layer + 1)])
                    widths.append(0.3 + 6.0 * weight)
    axis.add_collection(LineCollection(segments, linewidths=widths, colors="#4a6fa5", alpha=0.6))
    for layer in range(n_layers + 1):
        axis.scatter(range(seq_len), [layer] * seq_len, s=90, c=colours, zorder=3)
    axis.set_xticks(range(seq_len), labels)
    axis.set_yticks(range(n_layers + 1), ["input"] + [f"layer {i + 1}" for i in range(n_layers)])
    axis.set_xlim(-0.5, seq_len - 0.5)
    axis.set_ylim(-0.3, n_layers + 0.3)
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)


def draw_information_flow(
    flow: FlowExample, path: Path, title: str = "", svg: bool = False
) -> list[Path]:
    plt = _pyplot()
    seq_len = len(flow.tokens)
    roles = {flow.key_position: "key", flow.key_position + 1: "a1", flow.key_position + 2: "a2"}
    colours = [
        {"key": "#d62728", "a1": "#1f77b4", "a2": "#2ca02c"}.get(roles.get(i, ""), "#999999")
        for i in range(seq_len)
    ]
    single = [f"{t}\n{roles.get(i, '')}" for i, t in enumerate(flow.tokens.tolist())]
    averaged = [roles.get(i, "last" if i == seq_len - 1 else "") for i in range(seq_len)]

    n_layers = flow.patterns.shape[0]
    figure, axes = plt.subplots(1, 2, figsize=(13, 1.6 + 1.3 * n_layers))
    _token_graph(axes[0], flow.patterns, single, colours)
    axes[0].set_title("one held-out sequence (edge width = attention weight)")
    _token_graph(axes[1], flow.mean_patterns, averaged, colours)
    axes[1].set_title("mean over held-out sequences, key at the same position")
    figure.suptitle(title or "information flow")
    figure.tight_layout()
    return _save(figure, path, svg)


def _pair_colours(pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], tuple]:
    """Mirror pairs get two shades of one hue (dark (a,b) with a<b, light (b,a));
    same-anchor pairs grey shades."""
    import matplotlib

    tab20 = matplotlib.colormaps["tab20"].colors
    greys = matplotlib.colormaps["Greys"]
    colours: dict[tuple[int, int], tuple] = {}
    couples = sorted({tuple(sorted(p)) for p in pairs if p[0] != p[1]})
    same = sorted(p for p in pairs if p[0] == p[1])
    for index, (a, b) in enumerate(couples):
        colours[(a, b)] = tab20[(2 * index) % 20]
        colours[(b, a)] = tab20[(2 * index + 1) % 20]
    for index, pair in enumerate(same):
        colours[pair] = greys(0.35 + 0.6 * index / max(1, len(same)))
    return colours


def draw_representation_map(result: MechanismAnalysis, path: Path, title: str = ""):
    plt = _pyplot()
    points, labels = result.representation_map, result.representation_pairs
    pairs = sorted({(int(a), int(b)) for a, b in labels})
    colours = _pair_colours(pairs)

    figure, axis = plt.subplots(figsize=(8, 6.5))
    for pair in pairs:
        rows = (labels[:, 0] == pair[0]) & (labels[:, 1] == pair[1])
        axis.scatter(*points[rows].T, s=2, color=colours[pair], label=str(pair), rasterized=True)
        centre = np.median(points[rows], axis=0)
        axis.annotate(f"{pair[0]}{pair[1]}", centre, fontsize=8, ha="center", weight="bold")
    ratio = result.numbers.get("mirror_pair_ratio")
    axis.set_title(
        f"{title}\nt-SNE of the first attention block output, last position\n"
        f"mirror_pair_ratio {ratio:.3f} (mirror pairs share a hue)",
        fontsize=10,
    )
    axis.legend(markerscale=5, fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1, 0.5))
    axis.set_xticks([])
    axis.set_yticks([])
    figure.tight_layout()
    return _save(figure, path)


def draw_cosine_grids(
    grids: Sequence[CosineGrid], path: Path, title: str, pair_label: str = "pair"
) -> list[Path]:
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    figure, axes = plt.subplots(1, len(grids), figsize=(5.2 * len(grids), 5), squeeze=False)
    for axis, grid in zip(axes[0], grids, strict=True):
        image = axis.imshow(grid.cosine, vmin=-1, vmax=1, cmap="RdBu_r", origin="lower")
        for i, j in zip(*np.nonzero(grid.agree), strict=True):
            axis.add_patch(
                Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.8)
            )
        ticks = range(len(grid.keys))
        axis.set_xticks(ticks, grid.keys, fontsize=7)
        axis.set_yticks(ticks, grid.keys, fontsize=7)
        axis.set_xlabel(f"key, {pair_label} {grid.group_b}")
        axis.set_ylabel(f"key, {pair_label} {grid.group_a}")
        figure.colorbar(image, ax=axis, fraction=0.046)
    figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def _condensation_panel(axis, result: MechanismAnalysis, colorbar: bool = True):
    grouped = result.condensation
    image = axis.imshow(grouped.reordered(), vmin=-1, vmax=1, cmap="RdBu_r")
    sizes = np.bincount(grouped.groups)
    edge = -0.5
    for size in sizes:
        if size > 1:
            axis.add_patch(_square(edge, size))
        edge += size
    axis.set_xticks([])
    axis.set_yticks([])
    return image


def _square(edge: float, size: int):
    from matplotlib.patches import Rectangle

    return Rectangle((edge, edge), size, size, fill=False, edgecolor="black", linewidth=1)


def draw_condensation(result: MechanismAnalysis, path: Path, title: str = "") -> list[Path]:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 5.8))
    image = _condensation_panel(axis, result)
    figure.colorbar(image, ax=axis, fraction=0.046)
    numbers = result.numbers
    axis.set_title(
        f"{title}\nW_Q rows of layer 1, grouped at cosine > {result.condensation.threshold:g}: "
        f"{numbers['wq1_groups']:.0f} groups, mean |cos| {numbers['wq1_mean_abs_cosine']:.3f}",
        fontsize=9,
    )
    figure.tight_layout()
    return _save(figure, path)


def draw_embedding(result: MechanismAnalysis, path: Path, title: str = "") -> list[Path]:
    plt = _pyplot()
    values = result.item_values
    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    panels = (
        (result.embedding.principal_components, "PCA (PC1, PC2)"),
        (result.embedding_map, "t-SNE"),
    )
    for axis, (points, name) in zip(axes, panels, strict=True):
        scatter = axis.scatter(*points.T, c=values, cmap="viridis", s=28)
        for value, (x, y) in zip(values, points, strict=True):
            axis.annotate(str(value), (x, y), fontsize=5, ha="center", va="bottom")
        axis.set_title(name)
        figure.colorbar(scatter, ax=axis, fraction=0.046, label="item value")
    numbers = result.numbers
    figure.suptitle(
        f"{title}\nitem embeddings: embedding_order (PC1/PC2) {numbers['embedding_order']:.3f}, "
        f"distance order {numbers['embedding_distance_order']:.3f}, "
        f"shift neighbours {_format(numbers['embedding_shift_neighbours'])}, "
        f"effective rank {numbers['embedding_effective_rank']:.1f}"
    )
    figure.tight_layout()
    return _save(figure, path)


def draw_spectra(result: MechanismAnalysis, path: Path, title: str = "") -> list[Path]:
    plt = _pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    eigenvalues = result.embedding_eigenvalues
    axes[0].semilogy(np.arange(1, len(eigenvalues) + 1), np.maximum(eigenvalues, 1e-12), "o-", ms=3)
    axes[0].set_title("item embedding covariance eigenvalues")
    axes[0].set_xlabel("index")

    for name, values in result.singular_values.items():
        axes[1].semilogy(np.arange(1, len(values) + 1), values / values[0], lw=1, label=name)
    axes[1].set_title("singular values / largest, per layer")
    axes[1].set_xlabel("index")
    axes[1].legend(fontsize=6, ncol=2)

    names = list(result.stable_rank)
    axes[2].barh(range(len(names)), [result.stable_rank[n] for n in names], color="#4a6fa5")
    axes[2].set_yticks(range(len(names)), names, fontsize=7)
    axes[2].invert_yaxis()
    axes[2].set_title("stable rank ||W||_F^2 / ||W||_2^2")
    figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# -- over training ------------------------------------------------------------------------


def draw_over_training(curve: OverTraining, path: Path, title: str = "") -> list[Path]:
    """One small panel per number against the training step, plus the leading embedding
    covariance eigenvalues."""
    plt = _pyplot()
    scalar = {k: v for k, v in curve.numbers.items() if not k.startswith("stable_rank.")}
    ranks = {k: v for k, v in curve.numbers.items() if k.startswith("stable_rank.")}
    panels = len(scalar) + 2
    columns = 4
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows), squeeze=False)
    flat = list(axes.flat)
    for axis, (name, values) in zip(flat, scalar.items(), strict=False):
        axis.plot(curve.steps, [np.nan if v is None else v for v in values], "o-", ms=3)
        axis.set_title(name, fontsize=9)
    rank_axis = flat[len(scalar)]
    for name, values in ranks.items():
        rank_axis.plot(curve.steps, values, lw=1, label=name.removeprefix("stable_rank."))
    rank_axis.set_title("stable rank per layer", fontsize=9)
    rank_axis.legend(fontsize=5, ncol=2)
    eigen_axis = flat[len(scalar) + 1]
    top = np.array([e[:8] for e in curve.embedding_eigenvalues])
    eigen_axis.semilogy(curve.steps, np.maximum(top, 1e-12), lw=1)
    eigen_axis.set_title("8 largest embedding covariance eigenvalues", fontsize=9)
    for axis in flat[panels:]:
        axis.set_visible(False)
    for axis in flat[:panels]:
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
    figure.suptitle(title or "numbers over training")
    figure.tight_layout()
    return _save(figure, path)


# -- sweeps -------------------------------------------------------------------------------


def _grid_axes(cells: Sequence[tuple[RunEntry, MechanismAnalysis]]):
    gammas = sorted({entry.gamma for entry, _ in cells})
    depths = sorted({entry.depth for entry, _ in cells})
    return gammas, depths


def representatives(
    cells: Sequence[tuple[RunEntry, MechanismAnalysis]],
) -> dict[tuple[int, float], tuple[RunEntry, MechanismAnalysis]]:
    """The run drawn for each (depth, gamma) cell: the lowest seed, then the first path."""
    chosen: dict[tuple[int, float], tuple[RunEntry, MechanismAnalysis]] = {}
    for entry, result in sorted(cells, key=lambda c: (c[0].seed, str(c[0].run_dir))):
        chosen.setdefault((entry.depth, entry.gamma), (entry, result))
    return chosen


def draw_grid_figures(cells: Sequence[tuple[RunEntry, MechanismAnalysis]], out: Path) -> list[Path]:
    """Depth x gamma grids: W_Q condensation heatmaps, item-embedding PCA and
    information-flow graphs of one run per cell, and a heatmap per number (mean over the
    cell's runs)."""
    out = Path(out)
    written = draw_grid_panels(cells, out / "grid_wq1_condensation.png", "condensation")
    written += draw_grid_panels(cells, out / "grid_embedding_pca.png", "embedding")
    written += draw_grid_panels(cells, out / "grid_information_flow.png", "flow")
    written += draw_grid_numbers(cells, out / "grid_numbers.png")
    return written


def draw_grid_panels(cells, path: Path, kind: str) -> list[Path]:
    plt = _pyplot()
    gammas, depths = _grid_axes(cells)
    chosen = representatives(cells)
    size = {"condensation": 2.4, "embedding": 2.6, "flow": 3.2}[kind]
    figure, axes = plt.subplots(
        len(depths),
        len(gammas),
        figsize=(size * len(gammas) + 1, size * len(depths) + 0.8),
        squeeze=False,
    )
    for row, depth in enumerate(reversed(depths)):
        for column, gamma in enumerate(gammas):
            axis = axes[row, column]
            if (depth, gamma) not in chosen:
                axis.set_visible(False)
                continue
            entry, result = chosen[(depth, gamma)]
            if kind == "condensation" and result.condensation is not None:
                _condensation_panel(axis, result)
                label = f"{result.numbers['wq1_groups']:.0f} groups"
            elif kind == "embedding" and result.embedding is not None:
                pcs = result.embedding.principal_components
                axis.scatter(*pcs.T, c=result.item_values, cmap="viridis", s=6)
                axis.set_xticks([])
                axis.set_yticks([])
                label = f"order {result.numbers['embedding_order']:.2f}"
            elif kind == "flow" and result.flow is not None:
                seq_len = result.flow.mean_patterns.shape[1]
                position = result.flow.key_position
                roles = {position: "k", position + 1: "a1", position + 2: "a2"}
                labels = [roles.get(i, "") for i in range(seq_len)]
                colours = ["#d62728" if roles.get(i) == "k" else "#999999" for i in range(seq_len)]
                _token_graph(axis, result.flow.mean_patterns, labels, colours)
                axis.tick_params(labelsize=6)
                label = ""
            else:
                axis.set_visible(False)
                continue
            solution = (entry.metrics or {}).get("solution", "?")
            axis.set_title(f"g={gamma:g} d={depth} {solution}\n{label}", fontsize=7)
    names = {
        "condensation": "first-layer W_Q cosine, grouped at 0.7 (one run per cell)",
        "embedding": "item embeddings on PC1/PC2, coloured by value (one run per cell)",
        "flow": "mean attention graph on held-out sequences (one run per cell)",
    }
    figure.suptitle(f"{names[kind]}\ncolumns: gamma, rows: depth (deepest on top)", fontsize=9)
    figure.tight_layout()
    return _save(figure, path)


def grid_number_names(cells) -> list[str]:
    """Every number some run of the grid has a value for, in the deepest run's order (a
    shallow run lacks the deeper layers' numbers)."""
    names: list[str] = []
    for _, result in sorted(cells, key=lambda cell: -cell[0].depth):
        names += [n for n in result.numbers if n not in names]
    return [n for n in names if any(r.numbers.get(n) is not None for _, r in cells)]


def draw_grid_numbers(cells, path: Path) -> list[Path]:
    plt = _pyplot()
    gammas, depths = _grid_axes(cells)
    names = grid_number_names(cells)
    grids = {}
    for name in names:
        grid = np.full((len(depths), len(gammas)), np.nan)
        for d, depth in enumerate(depths):
            for g, gamma in enumerate(gammas):
                values = [
                    result.numbers.get(name)
                    for entry, result in cells
                    if entry.depth == depth and entry.gamma == gamma
                ]
                values = [v for v in values if v is not None and np.isfinite(v)]
                if values:
                    grid[d, g] = np.mean(values)
        grids[name] = grid

    columns = 4
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.4 * columns, 0.9 + 0.5 * len(depths) * rows + 1.2 * rows),
        squeeze=False,
    )
    flat = list(axes.flat)
    for axis, name in zip(flat, names, strict=False):
        grid = grids[name]
        image = axis.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        for (d, g), value in np.ndenumerate(grid):
            if np.isfinite(value):
                bright = image.norm(value) > 0.6
                colour = "black" if bright else "white"
                axis.text(g, d, f"{value:.2g}", ha="center", va="center", fontsize=6, color=colour)
        axis.set_xticks(range(len(gammas)), [f"{g:g}" for g in gammas], fontsize=7)
        axis.set_yticks(range(len(depths)), depths, fontsize=7)
        axis.set_title(name, fontsize=8)
        figure.colorbar(image, ax=axis, fraction=0.046)
    for axis in flat[len(names) :]:
        axis.set_visible(False)
    figure.suptitle("mechanism numbers over the grid\nx: gamma, y: depth; mean over runs")
    figure.tight_layout()
    return _save(figure, path)
