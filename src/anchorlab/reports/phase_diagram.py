"""The phase diagram from stored runs: per-cell summary, CSV, phase boundary, figure.

A *cell* of the diagram is one (gamma, depth) point, plus the values of any extra axes of
the sweep. Within a cell, runs of the same seed that differ only by learning rate (the
study's search) are folded by keeping the best accuracy per mapping (symmetric,
inferential and seen-pair test separately); the seeds are then averaged, and their spread is
reported as the sample standard deviation (0 for one seed). The cell's solution is
classified from the means with the same rule as a single run.
"""

from __future__ import annotations

import csv
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anchorlab.sweeps.store import RunRecord
from anchorlab.train.run import FIT_THRESHOLD, INFERENTIAL, SEEN_TEST, SYMMETRIC, classify_solution

CSV_NAME = "phase_diagram.csv"
BOUNDARY_NAME = "phase_boundary.csv"
FIGURE_STEM = "phase_diagram"


@dataclass
class PhaseCell:
    """One (gamma, depth) point of the diagram, averaged over seeds."""

    gamma: float
    depth: int
    group: dict[str, Any]
    """Values of the sweep's extra axes (empty for a plain gamma x depth sweep)."""
    n_seeds: int
    n_runs: int
    symmetric_accuracy: float
    symmetric_std: float
    inferential_accuracy: float
    inferential_std: float
    seen_test_accuracy: float
    seen_test_std: float
    solution: str
    seed_solutions: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.seen_test_accuracy >= FIT_THRESHOLD


@dataclass
class Boundary:
    """Where inferential accuracy overtakes symmetric accuracy along gamma, at one depth."""

    depth: int
    group: dict[str, Any]
    gamma: float | None
    """Linearly interpolated crossing of (inferential - symmetric) through 0; None if none."""
    note: str


def _group_key(group: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in group.items()))


def summarize(records: Sequence[RunRecord], extra_axes: Sequence[str] = ()) -> list[PhaseCell]:
    """Fold runs into phase-diagram cells, sorted by group, depth, gamma."""
    best: dict[tuple, dict[str, Any]] = {}
    for record in records:
        gamma = float(record.config["init"]["init_rate"])
        depth = int(record.config["model"]["n_layers"])
        seed = int(record.config["seed"])
        group = {axis: record.cell.get(axis) for axis in extra_axes}
        key = (_group_key(group), gamma, depth, seed)
        entry = best.setdefault(
            key, {"group": group, "runs": 0, SEEN_TEST: -1.0, INFERENTIAL: -1.0, SYMMETRIC: -1.0}
        )
        entry["runs"] += 1
        for metric in (SEEN_TEST, INFERENTIAL, SYMMETRIC):
            entry[metric] = max(entry[metric], float(record.metrics[metric]))

    per_cell: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for (group_key, gamma, depth, seed), entry in best.items():
        per_cell[(group_key, depth, gamma)].append(entry | {"seed": seed})

    cells = []
    for (_, depth, gamma), seeds in sorted(per_cell.items(), key=lambda item: item[0]):
        seeds.sort(key=lambda entry: entry["seed"])
        stats = {m: _mean_std([s[m] for s in seeds]) for m in (SEEN_TEST, INFERENTIAL, SYMMETRIC)}
        cells.append(
            PhaseCell(
                gamma=gamma,
                depth=depth,
                group=seeds[0]["group"],
                n_seeds=len(seeds),
                n_runs=sum(s["runs"] for s in seeds),
                symmetric_accuracy=stats[SYMMETRIC][0],
                symmetric_std=stats[SYMMETRIC][1],
                inferential_accuracy=stats[INFERENTIAL][0],
                inferential_std=stats[INFERENTIAL][1],
                seen_test_accuracy=stats[SEEN_TEST][0],
                seen_test_std=stats[SEEN_TEST][1],
                solution=classify_solution(
                    stats[SEEN_TEST][0], stats[INFERENTIAL][0], stats[SYMMETRIC][0]
                ),
                seed_solutions=[
                    classify_solution(s[SEEN_TEST], s[INFERENTIAL], s[SYMMETRIC]) for s in seeds
                ],
            )
        )
    return cells


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    spread = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return float(array.mean()), spread


def phase_boundaries(cells: Sequence[PhaseCell]) -> list[Boundary]:
    """Per depth (and group): the gamma where inferential minus symmetric accuracy first
    turns from negative to non-negative, linearly interpolated between grid points."""
    lines: dict[tuple, list[PhaseCell]] = defaultdict(list)
    for cell in cells:
        lines[(_group_key(cell.group), cell.depth)].append(cell)
    found = []
    for (_, depth), line in sorted(lines.items(), key=lambda item: item[0]):
        unfit = sum(1 for c in line if not c.fits)
        caveat = f"; {unfit} of {len(line)} cells below 0.9 on seen pairs" if unfit else ""
        line.sort(key=lambda c: c.gamma)
        gammas = [c.gamma for c in line]
        gaps = [c.inferential_accuracy - c.symmetric_accuracy for c in line]
        group = line[0].group
        crossings = [i for i in range(len(line) - 1) if gaps[i] < 0 <= gaps[i + 1]]
        if crossings:
            i = crossings[0]
            fraction = -gaps[i] / (gaps[i + 1] - gaps[i])
            gamma = gammas[i] + fraction * (gammas[i + 1] - gammas[i])
            note = f"between gamma {gammas[i]:g} and {gammas[i + 1]:g}"
            if len(crossings) > 1:
                note += f"; crosses {len(crossings)} times, first shown"
            found.append(Boundary(depth, group, round(gamma, 4), note + caveat))
        elif all(g >= 0 for g in gaps):
            note = f"inferential >= symmetric at every gamma from {gammas[0]:g}"
            found.append(Boundary(depth, group, None, note + caveat))
        else:
            note = f"no crossing: symmetric ahead at gamma {gammas[-1]:g}"
            found.append(Boundary(depth, group, None, note + caveat))
    return found


def csv_rows(cells: Sequence[PhaseCell]) -> list[dict[str, Any]]:
    rows = []
    for cell in cells:
        rows.append(
            {
                "gamma": cell.gamma,
                "depth": cell.depth,
                **cell.group,
                "n_seeds": cell.n_seeds,
                "n_runs": cell.n_runs,
                "symmetric_accuracy": round(cell.symmetric_accuracy, 4),
                "symmetric_std": round(cell.symmetric_std, 4),
                "inferential_accuracy": round(cell.inferential_accuracy, 4),
                "inferential_std": round(cell.inferential_std, 4),
                "seen_test_accuracy": round(cell.seen_test_accuracy, 4),
                "seen_test_std": round(cell.seen_test_std, 4),
                "solution": cell.solution,
                "seed_solutions": " ".join(cell.seed_solutions),
            }
        )
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows atomically (a temporary file renamed into place)."""
    fields: list[str] = []
    for row in rows:
        fields += [name for name in row if name not in fields]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def boundary_rows(boundaries: Sequence[Boundary]) -> list[dict[str, Any]]:
    return [
        {
            "depth": b.depth,
            **b.group,
            "boundary_gamma": "" if b.gamma is None else b.gamma,
            "note": b.note,
        }
        for b in boundaries
    ]


def _cell_text(mean: float, spread: float, n_seeds: int) -> str:
    if math.isnan(mean):
        return ""
    return f"{mean:.2f}±{spread:.2f}" if n_seeds > 1 else f"{mean:.2f}"


def plot_phase_diagram(
    cells: Sequence[PhaseCell], title: str, paths: Sequence[Path], boundaries=()
) -> None:
    """Two heatmaps (symmetric, inferential accuracy on the held-out pair; gamma on x, depth
    on y), seed mean and spread written in each cell, hatched where seen-pair test accuracy
    is below 0.9, the interpolated boundary marked; saved to every path in ``paths``."""
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    gammas = sorted({c.gamma for c in cells})
    depths = sorted({c.depth for c in cells})
    grid = {(c.gamma, c.depth): c for c in cells}
    width = max(7.0, 2 * (1.4 + 0.95 * len(gammas)))
    figure, axes = plt.subplots(
        1, 2, figsize=(width, 1.6 + 0.75 * len(depths)), constrained_layout=True
    )
    colormap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    panels = (
        ("symmetric accuracy (memorizing)", "symmetric_accuracy", "symmetric_std"),
        ("inferential accuracy (reasoning)", "inferential_accuracy", "inferential_std"),
    )
    image = None
    for axis, (label, mean_name, std_name) in zip(axes, panels, strict=True):
        values = np.full((len(depths), len(gammas)), np.nan)
        for (gamma, depth), cell in grid.items():
            values[depths.index(depth), gammas.index(gamma)] = getattr(cell, mean_name)
        image = axis.imshow(values, origin="lower", cmap=colormap, vmin=0, vmax=1, aspect="auto")
        for (gamma, depth), cell in grid.items():
            x, y = gammas.index(gamma), depths.index(depth)
            mean = getattr(cell, mean_name)
            axis.text(
                x,
                y,
                _cell_text(mean, getattr(cell, std_name), cell.n_seeds),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if mean > 0.6 else "white",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": colormap(mean), "linewidth": 0}
                if not cell.fits and not math.isnan(mean)
                else None,
            )
            if not cell.fits:
                axis.add_patch(
                    Rectangle(
                        (x - 0.5, y - 0.5),
                        1,
                        1,
                        fill=False,
                        hatch="///",
                        edgecolor="#d62728",
                        linewidth=0,
                    )
                )
        for boundary in boundaries:
            if boundary.gamma is None or boundary.depth not in depths:
                continue
            position = float(np.interp(boundary.gamma, gammas, range(len(gammas))))
            y = depths.index(boundary.depth)
            axis.plot([position, position], [y - 0.5, y + 0.5], color="white", linewidth=2.5)
            axis.plot([position, position], [y - 0.5, y + 0.5], color="#d62728", linewidth=1.2)
        axis.set_xticks(range(len(gammas)), [f"{g:g}" for g in gammas])
        axis.set_yticks(range(len(depths)), [str(d) for d in depths])
        axis.set_xlabel("initialization rate γ (larger γ = smaller weights)", fontsize=9)
        if axis is axes[0]:
            axis.set_ylabel("depth (layers)")
        axis.set_title(label, fontsize=10)
    figure.colorbar(image, ax=list(axes), shrink=0.9, label="accuracy on the held-out pair")
    handles = [
        Patch(facecolor="none", edgecolor="#d62728", hatch="///", label="seen-pair test < 0.9"),
    ]
    if any(b.gamma is not None for b in boundaries):
        handles.append(
            matplotlib.lines.Line2D([], [], color="#d62728", label="boundary (interpolated)")
        )
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    figure.suptitle(title, fontsize=11)
    for path in paths:
        figure.savefig(path, dpi=150)
    plt.close(figure)


def figure_stem(group: dict[str, Any]) -> str:
    """File stem of a group's figure: ``phase_diagram`` or ``phase_diagram-wd=0.1``."""
    if not group:
        return FIGURE_STEM
    suffix = "-".join(f"{k}={v}" for k, v in group.items())
    return f"{FIGURE_STEM}-{suffix}".replace("/", "_").replace(" ", "")


@dataclass
class PhaseDiagramReport:
    cells: list[PhaseCell]
    boundaries: list[Boundary]
    files: list[Path]


def write_report(
    records: Sequence[RunRecord],
    out_dir: Path,
    extra_axes: Sequence[str] = (),
    title: str = "phase diagram",
    formats: Sequence[str] = ("png", "svg"),
) -> PhaseDiagramReport:
    """Summarize ``records`` and write the CSV, the boundary file and one figure per group
    into ``out_dir``."""
    cells = summarize(records, extra_axes)
    boundaries = phase_boundaries(cells)
    files = [out_dir / CSV_NAME, out_dir / BOUNDARY_NAME]
    write_csv(files[0], csv_rows(cells))
    write_csv(files[1], boundary_rows(boundaries))
    groups: dict[tuple, list[PhaseCell]] = defaultdict(list)
    for cell in cells:
        groups[_group_key(cell.group)].append(cell)
    for group_cells in groups.values():
        group = group_cells[0].group
        stem = figure_stem(group)
        paths = [out_dir / f"{stem}.{ext}" for ext in formats]
        subtitle = ", ".join(f"{k}={v}" for k, v in group.items())
        plot_phase_diagram(
            group_cells,
            f"{title}{' (' + subtitle + ')' if subtitle else ''}",
            paths,
            [b for b in boundaries if b.group == group],
        )
        files += paths
    return PhaseDiagramReport(cells, boundaries, files)
