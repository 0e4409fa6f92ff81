"""Sweep commands: ``phase-diagram`` (run or resume the gamma x depth sweep, then report) and
``plot`` (redraw a sweep's report from its store, training nothing)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from anchorlab.cli.core import check_writable, parse_assignment
from anchorlab.cli.main import UserError, cli
from anchorlab.cli.options import (
    backend_option,
    ray_address_option,
    set_option,
    threads_option,
    workers_option,
)
from anchorlab.config import one_line
from anchorlab.sweeps.phase_diagram import SWEEP_PRESETS

stdout = Console(width=shutil.get_terminal_size((120, 24)).columns)
stderr = Console(stderr=True)

DEFAULT_OUT = Path("runs/phase-diagram")


def _preset_help() -> str:
    lines = [f"  {name:9} {preset.help}" for name, preset in SWEEP_PRESETS.items()]
    return "\b\nPresets (--preset):\n" + "\n".join(lines)


def _load_config_file(path: Path) -> dict[str, Any]:
    """A sweep file (YAML or TOML) with keys preset, axes, set, lr_search, backend, workers,
    threads, ray_address."""
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as error:
        raise UserError(f"cannot read sweep file {path}: {error}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise UserError(f"sweep file {path} must hold a mapping (preset, axes, set, ...)")
    known = {"preset", "axes", "set", "lr_search", "backend", "workers", "threads", "ray_address"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"sweep file {path}: unknown key(s) {unknown}; known: {sorted(known)}")
    return data


def _parse_lr_search(k: int | None, lr_range: str | None, file_value: Any):
    from anchorlab.sweeps.phase_diagram import LRSearch

    if k is None and lr_range is None:
        if file_value is None:
            return True
        if file_value is False:
            return None
        try:
            return LRSearch(**file_value)
        except (TypeError, ValidationError) as error:
            raise UserError(f"lr_search in the sweep file: {_reason(error)}") from None
    if k == 0:
        return None
    low, high = 1e-4, 3e-4
    if lr_range is not None:
        try:
            low, high = (float(x) for x in lr_range.split(","))
        except ValueError:
            raise UserError(
                f"--lr-range expects LOW,HIGH (e.g. 1e-4,3e-4), got {lr_range!r}"
            ) from None
    try:
        return LRSearch(k=k or 9, low=low, high=high)
    except ValidationError as error:
        raise UserError(f"--lr-search/--lr-range: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    return one_line(error) if isinstance(error, ValidationError) else str(error)


@cli.command("phase-diagram", epilog=_preset_help())
@click.option(
    "--preset",
    "preset_name",
    type=click.Choice(list(SWEEP_PRESETS)),
    default=None,
    help="Sweep preset (default: cpu); the presets are listed below.",
)
@click.option(
    "--axis",
    "axis_texts",
    multiple=True,
    metavar="NAME=VALUES",
    help="Sweep a setting over values: comma list or inclusive range START:STOP[:STEP], e.g. "
    "--axis gamma=0.3,0.5,0.8 --axis depth=2:4 --axis seed=0,1. Replaces the preset's axis of "
    "that name; any run setting works (lr, weight_decay, heads, norm, train.steps...).",
)
@set_option("Fix a run setting for every cell, e.g. --set train.steps=2000. Repeatable.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sweep file (YAML or TOML) with keys preset, axes, set, lr_search {k, low, high}, "
    "backend, workers, threads; command-line options win.",
)
@click.option(
    "--lr-search",
    "lr_k",
    type=click.IntRange(min=0),
    default=None,
    metavar="K",
    help="The study's protocol: train every cell with K learning rates drawn uniformly from "
    "--lr-range and keep the best accuracy per mapping (0: off; the paper preset uses 9).",
)
@click.option(
    "--lr-range",
    metavar="LOW,HIGH",
    help="Range of the learning-rate search (default 1e-4,3e-4).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Sweep directory: store (sweep.db), run directories, figure, CSV. Rerunning the same "
    "command resumes; finished cells are never trained again.",
)
@backend_option(default=None)
@ray_address_option()
@workers_option()
@threads_option()
@click.option("--dry-run", is_flag=True, help="List the cells and what is stored; train nothing.")
def phase_diagram_command(
    preset_name,
    axis_texts,
    assignments,
    config_file,
    lr_k,
    lr_range,
    out,
    backend,
    ray_address,
    workers,
    threads,
    dry_run,
):
    """Run (or resume) the gamma x depth phase diagram, then draw it.

    Each cell trains one anchor-task model (per seed, and per learning rate in the search),
    records it in OUT/sweep.db, and the report writes phase_diagram.png/.svg,
    phase_diagram.csv and phase_boundary.csv into OUT. Interrupt at any time and rerun the
    same command to continue.
    """
    from anchorlab.sweeps import run_sweep
    from anchorlab.sweeps.phase_diagram import (
        DEFAULT_PRESET,
        SWEEP_PRESETS,
        build_sweep,
        parse_axis_values,
        phase_diagram_spec,
    )

    file_data = _load_config_file(config_file) if config_file else {}
    preset_name = preset_name or file_data.get("preset") or DEFAULT_PRESET
    if preset_name not in SWEEP_PRESETS:
        raise UserError(f"unknown preset {preset_name!r}; choose one of {', '.join(SWEEP_PRESETS)}")

    axes: dict[str, list] = {}
    for name, values in (file_data.get("axes") or {}).items():
        axes[name] = parse_axis_values(values) if isinstance(values, str) else list(values)
    for text in axis_texts:
        if "=" not in text:
            raise UserError(
                f"expected --axis NAME=VALUES, got {text!r} (e.g. --axis gamma=0.4,0.8)"
            )
        name, raw = text.split("=", 1)
        axes[name.strip()] = parse_axis_values(raw)
    overrides = dict(file_data.get("set") or {})
    overrides.update(dict(parse_assignment(a) for a in assignments))
    search = _parse_lr_search(lr_k, lr_range, file_data.get("lr_search"))
    spec = phase_diagram_spec(preset_name, axes, overrides, search)
    sweep = build_sweep(spec)

    backend = backend or file_data.get("backend") or "local"
    workers = workers or file_data.get("workers")
    threads = threads or file_data.get("threads")
    ray_address = ray_address or file_data.get("ray_address")

    if dry_run:
        _print_dry_run(sweep, out)
        return
    check_writable(out)
    _open_store_or_fail(out)

    started = time.perf_counter()
    with _progress_display() as (progress, on_progress):
        result = run_sweep(
            sweep,
            out,
            backend,
            workers=workers,
            threads=threads,
            ray_address=ray_address,
            on_progress=on_progress,
        )
    stderr.print(
        f"sweep: {len(set(r.key for r in result.records if r))} cells stored; trained "
        f"{result.trained} now, reused {result.reused}"
        + (f", recovered {result.recovered}" if result.recovered else "")
        + f" ({time.perf_counter() - started:.0f} s)"
    )
    records = [r for r in result.records if r is not None]
    _report(records, spec, out)
    if result.failures:
        for cell, message in result.failures:
            stderr.print(f"failed: {cell}: {message}", markup=False)
        raise click.ClickException(
            f"{len(result.failures)} cell(s) failed (see above); rerun to retry them"
        )


def _open_store_or_fail(out: Path) -> None:
    """Refuse a damaged or foreign store before starting workers."""
    from anchorlab.sweeps import STORE_FILENAME, SweepStore

    path = out / STORE_FILENAME
    if path.exists():
        SweepStore(path, create=False).close()


def _print_dry_run(sweep, out: Path) -> None:
    from anchorlab.sweeps import STORE_FILENAME, SweepStore, run_directory

    jobs = sweep.jobs()
    stored: set[str] = set()
    path = out / STORE_FILENAME
    if path.exists():
        with SweepStore(path, create=False) as store:
            stored = store.keys()
    table = Table(title=f"{sweep.name}: {len(jobs)} runs")
    for column in [*sweep.axes, "run directory", "stored"]:
        table.add_column(column)
    for cell, job in jobs:
        table.add_row(
            *(str(v) for v in cell.values()),
            run_directory(job, job.key).removeprefix("runs/"),
            "yes" if job.key in stored else "",
        )
    stdout.print(table)


class _progress_display:
    """Rich progress: cells done / running / left, an ETA, and one line per finished run."""

    def __enter__(self):
        self.progress = Progress(
            TextColumn("[bold]phase diagram"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cells done · {task.fields[running]} running · {task.fields[left]} left"),
            TextColumn("· ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=False,
        )
        self.progress.start()
        self.task = None
        return self.progress, self.update

    def update(self, state) -> None:
        eta = "?" if state.eta_seconds is None else _duration(state.eta_seconds)
        if self.task is None:
            self.task = self.progress.add_task(
                "sweep", total=state.total, running=0, left=0, eta="?"
            )
        self.progress.update(
            self.task, completed=state.done, running=state.running, left=state.left, eta=eta
        )
        if state.last is not None:
            metrics = state.last.metrics
            self.progress.console.print(
                f"{Path(state.last.run_dir).name}: {metrics.get('solution', '?')} "
                f"(seen {metrics.get('seen_test_accuracy', float('nan')):.2f}, "
                f"inferential {metrics.get('inferential_accuracy', float('nan')):.2f}, "
                f"symmetric {metrics.get('symmetric_accuracy', float('nan')):.2f}) "
                f"in {state.last.seconds:.0f} s",
                markup=False,
                highlight=False,
            )

    def __exit__(self, *exc):
        self.progress.stop()
        return False


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _report(records, spec, out: Path) -> None:
    from anchorlab.reports.phase_diagram import write_report

    if not records:
        stderr.print("no finished runs yet: nothing to draw")
        return
    title = f"Phase diagram ({spec.preset} preset): accuracy on the held-out pair"
    report = write_report(records, out, spec.extra_axes(), title)
    _print_table(report, spec)
    for boundary in report.boundaries:
        where = ", ".join(f"{k}={v}" for k, v in boundary.group.items())
        value = "none" if boundary.gamma is None else f"gamma ≈ {boundary.gamma:.3f}"
        stdout.print(
            f"boundary depth {boundary.depth}{' (' + where + ')' if where else ''}: {value} "
            f"({boundary.note})",
            markup=False,
        )
    stdout.print("wrote " + ", ".join(str(path) for path in report.files), markup=False)


def _print_table(report, spec) -> None:
    extra = spec.extra_axes()
    table = Table(title="phase diagram (held-out pair accuracy, mean ± spread over seeds)")
    for column in [
        "gamma",
        "depth",
        *extra,
        "seeds",
        "symmetric",
        "inferential",
        "seen test",
        "solution",
    ]:
        table.add_column(column, justify="right" if column not in ("solution",) else "left")
    for cell in report.cells:

        def fmt(mean, spread, n=cell.n_seeds):
            return f"{mean:.3f}" + (f" ± {spread:.3f}" if n > 1 else "")

        table.add_row(
            f"{cell.gamma:g}",
            str(cell.depth),
            *(str(cell.group.get(a)) for a in extra),
            str(cell.n_seeds),
            fmt(cell.symmetric_accuracy, cell.symmetric_std),
            fmt(cell.inferential_accuracy, cell.inferential_std),
            fmt(cell.seen_test_accuracy, cell.seen_test_std),
            cell.solution,
        )
    stdout.print(table)


@cli.command("plot")
@click.argument("sweep_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the figure, CSV and boundary file (default: SWEEP_DIR).",
)
def plot_command(sweep_dir: Path, out: Path | None) -> None:
    """Redraw a sweep's phase diagram, CSV, boundary and table from its store (no training)."""
    from anchorlab.sweeps import STORE_FILENAME, SweepStore
    from anchorlab.sweeps.phase_diagram import PhaseDiagramSpec

    path = sweep_dir / STORE_FILENAME
    if not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir} is not a directory; give the --out of a phase-diagram run")
    with SweepStore(path, create=False) as store:
        grid = store.load_grid()
        if grid is None:
            raise UserError(
                f"{path} holds no grid yet; run anchorlab phase-diagram --out {sweep_dir}"
            )
        name, spec_data, cells = grid
        if spec_data.get("kind") != "phase-diagram":
            raise UserError(f"the last sweep in {path} ({name}) is not a phase diagram")
        records = store.records(entry["key"] for entry in cells)
    spec = PhaseDiagramSpec.from_dict(spec_data)
    target = out or sweep_dir
    check_writable(target)
    missing = len({entry["key"] for entry in cells}) - len(records)
    if missing:
        stderr.print(f"{missing} of the grid's runs are not finished: drawing what is stored")
    _report(records, spec, target)
