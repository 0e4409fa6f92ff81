"""How long ``anchorlab analyze`` takes on one run, stage by stage.

Times each stage of the mechanism analyses on a trained run directory (the analyses
without maps, the representation t-SNE, the item-embedding t-SNE, the figures) and
reports wall and process CPU seconds for each; a shared machine inflates the wall time,
the CPU time less so (on an idle machine with N cores, wall is at least CPU / N).

    python benchmarks/analysis_timing.py runs/cpu-g0.8-d2-s0 --tsne-points 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from anchorlab.analysis.clusters import tsne_map
from anchorlab.analysis.mechanism import AnalysisSettings, first_block_representations
from anchorlab.analysis.runs import analyze_run, read_run
from anchorlab.reports.analysis_figures import draw_run_figures
from anchorlab.tasks import task_preset
from anchorlab.train.run import load_run


def timed(label: str, rows: list, function, *args, **kwargs):
    cpu, wall = time.process_time(), time.perf_counter()
    value = function(*args, **kwargs)
    rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--tsne-points", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    settings = AnalysisSettings(tsne_points=args.tsne_points, threads=args.threads)
    entry = read_run(args.run_dir)
    rows: list = []
    timed("numbers only (no maps)", rows, analyze_run, entry, settings, maps=False)

    _, model, _ = load_run(args.run_dir)
    spec = task_preset(entry.config.task.variant)
    vectors, _ = first_block_representations(model, spec, settings)
    timed(
        f"representation t-SNE ({args.tsne_points} points)",
        rows,
        tsne_map,
        vectors[: args.tsne_points],
        threads=args.threads,
    )
    result = timed("everything with maps", rows, analyze_run, entry, settings, maps=True)
    with tempfile.TemporaryDirectory() as out:
        timed("figures", rows, draw_run_figures, result, Path(out), "benchmark")

    print(f"{'stage':45s} {'wall s':>8s} {'CPU s':>8s}")
    for label, wall, cpu in rows:
        print(f"{label:45s} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
