"""Real-data commands: ``realworld {scan,cogs,addition}`` and ``scan export``."""

from __future__ import annotations

from pathlib import Path

import click

from anchorlab.cli.core import progress_bar, stdout
from anchorlab.cli.main import UserError, cli
from anchorlab.cli.options import backend_option, device_option, threads_option, workers_option
from anchorlab.tasks.anchor import TaskSpecError
from anchorlab.tasks.datafiles import DATA_ENV, DataFileError
from anchorlab.tasks.scan import PRIMITIVES, ScanCommandError, split_name

_DATA_HELP = (
    f"Directory holding the data sets (scan/, cogs/). Default: ${DATA_ENV}, else "
    "<repository>/../shared/data. Nothing is ever downloaded."
)


def _int_list(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 0:
        raise UserError(f"expected comma-separated non-negative integers, got {text!r}")
    return values


@cli.command("realworld")
@click.argument("dataset", type=click.Choice(["scan", "cogs", "addition"]))
@click.option(
    "--preset",
    "preset_name",
    type=click.Choice(["cpu", "paper", "smoke"]),
    default="cpu",
    show_default=True,
    help="cpu: a small model and sweep for a 2-core machine (under an hour); "
    "paper: the full-size sweep for accelerators; smoke: seconds, for trying the tools.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Sweep directory: store, run directories, results.csv, summary.md, figure.png. "
    "Rerunning resumes it.",
)
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help=_DATA_HELP)
@workers_option()
@threads_option()
@backend_option()
@device_option()
@click.option("--sizes", help="Comma-separated training-set sizes (default: the preset's).")
@click.option("--seeds", help="Comma-separated seeds (default: the preset's).")
def realworld_command(
    dataset, preset_name, out, data_dir, workers, threads, backend, device, sizes, seeds
):
    """Small init + large weight decay against large init + small weight decay on real
    data, over training-set sizes and seeds; draws accuracy against training-set size."""
    from anchorlab.realworld.experiments import preset, run_realworld_sweep

    try:
        description = preset(dataset, preset_name).description
        chosen = ", ".join(
            f"{name} {value}" for name, value in (("sizes", sizes), ("seeds", seeds)) if value
        )
        if chosen:
            description += f" (the preset's grid; this run: {chosen})"
        stdout.print(f"{dataset} ({preset_name}): {description}")
        with progress_bar("runs") as advance:
            rows = run_realworld_sweep(
                dataset,
                preset_name,
                out,
                None if data_dir is None else str(data_dir),
                device=device,
                workers=workers,
                threads=threads,
                backend=backend,
                train_sizes=_int_list(sizes),
                seeds=_int_list(seeds),
                on_progress=lambda state: advance(state.done, state.total),
            )
    except (DataFileError, ScanCommandError, TaskSpecError) as error:
        raise UserError(str(error)) from None

    summary = out / "summary.md"
    if summary.is_file():
        stdout.print(summary.read_text(), markup=False)
    stdout.print(f"{len(rows)} runs; wrote {out / 'results.csv'}, {summary}, {out / 'figure.png'}")


@cli.group("scan")
def scan_group() -> None:
    """SCAN: the grammar-generated data set and its add-primitive splits."""


_SPLITS = ["all"] + [split_name(p) for p in PRIMITIVES]


@scan_group.command("export")
@click.option(
    "--split",
    type=click.Choice(_SPLITS),
    required=True,
    help="all: every command (tasks.txt); addprim_<primitive>: the add-primitive split.",
)
@click.option(
    "--part",
    type=click.Choice(["train", "test"]),
    help="Which file of an add-primitive split (required unless --split all).",
)
@click.option(
    "--source",
    type=click.Choice(["grammar", "official"]),
    default="grammar",
    show_default=True,
    help="grammar: generate from SCAN's grammar; official: read and check the official file.",
)
@click.option("--data", "data_dir", type=click.Path(path_type=Path), help=_DATA_HELP)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write, one 'IN: ... OUT: ...' line per example.",
)
def scan_export(split, part, source, data_dir, out):
    """Write a SCAN split in the official line format (generated lines come in grammar
    order, the bare-primitive copies last; the official files are shuffled)."""
    from anchorlab.tasks import scan

    if split != "all" and part is None:
        raise UserError("--part train or --part test is needed for an add-primitive split")
    try:
        if split == "all" and source == "grammar":
            examples = scan.all_examples()
        elif split == "all":
            examples = scan.load_scan_file(scan.official_path("all", data_dir))
        else:
            examples = getattr(scan.load_split(split, source, data_dir), part)
    except (DataFileError, ScanCommandError) as error:
        raise UserError(str(error)) from None

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(example.line() + "\n" for example in examples))
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror}; choose another --out") from None
    which = split if split == "all" else f"{split} {part}"
    stdout.print(f"wrote {len(examples)} lines ({which}, from the {source}) to {out}")
