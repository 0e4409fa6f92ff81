"""``anchorlab analyze``: the mechanism analyses of a run or of every run of a sweep."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path

import click
from rich.table import Table

from anchorlab.cli.core import check_writable, stdout
from anchorlab.cli.main import UserError, cli
from anchorlab.cli.options import int_option, threads_option

logger = logging.getLogger(__name__)

ANALYSIS_FORMAT = "anchorlab-mechanism-analysis"
MAX_TABLE_COLUMNS = 6


@cli.command("analyze")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for analysis.json and the figures (a sweep gets cells/<run>/ per run and "
    "grid_*.png).",
)
@click.option(
    "--over-training",
    is_flag=True,
    help="Also compute every number at each saved checkpoint (runs trained with "
    "anchorlab train --checkpoint-every N) and draw them against the step.",
)
@int_option(
    "--tsne-points",
    minimum=0,
    default=10_000,
    help="Points of the representation t-SNE map; 0 skips that map (numbers are unchanged).",
)
@int_option(
    "--sequences",
    "cluster_sequences",
    minimum=16,
    default=10_000,
    help="Sequences (all anchor pairs) for the representation clusters and mirror_pair_ratio.",
)
@int_option(
    "--flow-sequences",
    minimum=1,
    default=2000,
    help="Held-out-pair sequences the information-flow numbers average over.",
)
@int_option(
    "--contexts",
    "probe_contexts",
    minimum=1,
    default=16,
    help="Noise contexts each cell of the cosine heatmaps and gaps is averaged over.",
)
@int_option("--seed", minimum=0, default=0, help="Seed of the probe sequences and t-SNE maps.")
@threads_option(help="CPU threads for torch and t-SNE (default: torch's default and every core).")
def analyze_command(
    path: Path,
    out: Path,
    over_training: bool,
    tsne_points: int,
    cluster_sequences: int,
    flow_sequences: int,
    probe_contexts: int,
    seed: int,
    threads: int | None,
) -> None:
    """Mechanism analyses of PATH, a run directory or a sweep directory: information flow,
    representation clusters, equal-target parallelism, value vectors, condensation,
    embedding structure and spectra, as figures and as the numbers in analysis.json."""
    import torch

    from anchorlab.analysis.mechanism import AnalysisSettings
    from anchorlab.analysis.runs import AnalysisInputError, is_run_dir

    if threads:
        torch.set_num_threads(threads)
    settings = AnalysisSettings(
        seed=seed,
        flow_sequences=flow_sequences,
        cluster_sequences=cluster_sequences,
        tsne_points=min(tsne_points, cluster_sequences),
        probe_contexts=probe_contexts,
        threads=threads,
    )
    if not path.exists():
        raise UserError(f"{path} does not exist: give a run directory or a sweep directory")
    check_writable(out)
    try:
        if is_run_dir(path):
            _analyze_one(path, out, settings, over_training)
        else:
            _analyze_sweep(path, out, settings, over_training)
    except AnalysisInputError as error:
        raise UserError(str(error)) from None


def _analyze_one(run_dir: Path, out: Path, settings, over_training: bool) -> None:
    from anchorlab.analysis.runs import checkpoints, read_run

    entry = read_run(run_dir)
    if over_training and not checkpoints(run_dir):
        raise UserError(
            f"{run_dir} has no checkpoints/: retrain with anchorlab train --checkpoint-every N "
            "to analyze over training, or leave out --over-training"
        )
    record = _analyze_entry(entry, out, settings, over_training)
    _print_table([record], f"mechanism analysis of {run_dir}")
    stdout.print(f"wrote {out / 'analysis.json'} and {len(record['figures'])} figures to {out}")


def _analyze_sweep(sweep_dir: Path, out: Path, settings, over_training: bool) -> None:
    from anchorlab.analysis.runs import checkpoints, find_runs
    from anchorlab.reports.analysis_figures import draw_grid_figures

    entries = find_runs(sweep_dir)
    if over_training and not any(checkpoints(e.run_dir) for e in entries):
        raise UserError(
            f"no run under {sweep_dir} has checkpoints: train with --checkpoint-every N, or "
            "leave out --over-training"
        )
    logger.info("analyzing %d runs of %s", len(entries), sweep_dir)

    records, cells = [], []
    for entry in entries:
        name = _cell_name(entry.run_dir, sweep_dir)
        wants_curve = over_training and bool(checkpoints(entry.run_dir))
        record, result = _analyze_entry(
            entry, out / "cells" / name, settings, wants_curve, keep_result=True
        )
        record["cell_dir"] = f"cells/{name}"
        records.append(record)
        cells.append((entry, result))

    _warn_mixed_cells(entries)
    figures = [str(p.relative_to(out)) for p in draw_grid_figures(cells, out)]
    summary = {
        "format": ANALYSIS_FORMAT,
        "sweep_dir": str(sweep_dir),
        "settings": dataclasses.asdict(settings),
        "figures": figures,
        "runs": [
            {key: r[key] for key in ("run", "cell_dir", "numbers", "stable_rank")} for r in records
        ],
    }
    _write_json(out / "analysis.json", summary)
    if len(records) <= MAX_TABLE_COLUMNS:
        _print_table(records, f"mechanism analysis of {sweep_dir}")
    stdout.print(
        f"analyzed {len(records)} runs; wrote {out / 'analysis.json'}, cells/ and "
        f"{len(figures)} grid figures to {out}"
    )


def _analyze_entry(entry, out: Path, settings, over_training: bool, keep_result: bool = False):
    from anchorlab.analysis.runs import analyze_over_training, analyze_run
    from anchorlab.reports.analysis_figures import draw_over_training, draw_run_figures

    started = time.perf_counter()
    logger.info("analyzing %s (gamma %g, depth %d)", entry.run_dir, entry.gamma, entry.depth)
    result = analyze_run(entry, settings)
    title = f"{entry.run_dir.name}: gamma {entry.gamma:g}, depth {entry.depth}"
    solution = (entry.metrics or {}).get("solution")
    if solution:
        title += f", {solution}"
    figures = draw_run_figures(result, out, title)

    record = {
        "format": ANALYSIS_FORMAT,
        "run": entry.describe(),
        "settings": dataclasses.asdict(settings),
        **result.to_json(),
    }
    if over_training:
        curve = analyze_over_training(entry, settings)
        record["over_training"] = curve.to_json()
        figures += draw_over_training(curve, out / "over_training.png", title)
    record["figures"] = sorted(str(p.relative_to(out)) for p in figures)
    record["seconds"] = round(time.perf_counter() - started, 2)
    _write_json(out / "analysis.json", record)
    logger.info("analysis of %s took %.1f s", entry.run_dir, record["seconds"])
    return (record, result) if keep_result else record


def _warn_mixed_cells(entries) -> None:
    from anchorlab.analysis.runs import mixed_settings

    cells: dict[tuple[int, float], list] = {}
    for entry in entries:
        cells.setdefault((entry.depth, entry.gamma), []).append(entry)
    for (depth, gamma), members in sorted(cells.items()):
        differing = mixed_settings(members)
        if differing:
            logger.warning(
                "grid cell depth %d, gamma %g mixes runs that differ in %s: its numbers are "
                "averaged over them; analyze such runs in separate directories",
                depth,
                gamma,
                ", ".join(differing[:4]) + (" ..." if len(differing) > 4 else ""),
            )


def _cell_name(run_dir: Path, sweep_dir: Path) -> str:
    relative = run_dir.resolve().relative_to(sweep_dir.resolve())
    return "__".join(relative.parts) or run_dir.name


def _print_table(records: list[dict], title: str) -> None:
    table = Table(title=title)
    table.add_column("number")
    for record in records:
        run = record["run"]
        table.add_column(
            f"gamma {run['gamma']:g} d{run['depth']} s{run['seed']}\n{run.get('solution') or ''}",
            justify="right",
        )
    names = list(records[0]["numbers"]) + [f"stable_rank.{n}" for n in records[0]["stable_rank"]]
    for name in names:
        cells = []
        for record in records:
            if name.startswith("stable_rank."):
                value = record["stable_rank"].get(name.removeprefix("stable_rank."))
            else:
                value = record["numbers"].get(name)
            cells.append("-" if value is None else f"{value:.4g}")
        table.add_row(name, *cells)
    stdout.print(table)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
