"""Core commands: ``task export``, ``train``, ``init-audit``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from anchorlab.cli.main import UserError, cli
from anchorlab.cli.options import device_option, int_option, set_option
from anchorlab.config import PRESET_HELP, RunConfig, preset, with_overrides
from anchorlab.tasks import PRESETS as TASK_PRESETS
from anchorlab.tasks import generate, task_preset

stdout = Console(width=shutil.get_terminal_size((160, 24)).columns)


def parse_assignment(text: str) -> tuple[str, object]:
    """``name=value`` with the value read as JSON when it parses (numbers, lists, bools)."""
    if "=" not in text:
        raise UserError(f"expected NAME=VALUE, got {text!r} (e.g. --set train.lr=3e-4)")
    name, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def run_options(func):
    """Options every command that builds a run shares."""
    options = [
        click.option(
            "--preset",
            "preset_name",
            type=click.Choice(sorted(PRESET_HELP)),
            default="cpu",
            show_default=True,
            help="Starting configuration. "
            + "; ".join(f"{k}: {v}" for k, v in sorted(PRESET_HELP.items())),
        ),
        click.option("--gamma", type=float, help="Initialization rate gamma (> 0)."),
        click.option("--depth", type=click.IntRange(min=1), help="Number of layers."),
        click.option("--seed", type=click.IntRange(min=0), help="Run seed (init, data, order)."),
        device_option(),
        set_option(
            "Any other setting by dotted path or short name, e.g. --set train.lr=3e-4 "
            "--set model.norm_position=post. Repeatable."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def arch_option(func):
    """``--arch``: the model family (``anchorlab.models.gpt2``), applied with its defaults."""
    return click.option(
        "--arch",
        type=click.Choice(["study", "gpt2"]),
        default=None,
        help="Model family: study (the study's decoder; the preset's default) or gpt2 "
        "(multi-head, GELU, biases, d_ff = 4 d_model, tied embedding, post-LN; "
        "--set norm=pre for GPT-2's own pre-LN).",
    )(func)


def build_config(
    preset_name: str, gamma=None, depth=None, seed=None, device=None, assignments=(), arch=None
) -> RunConfig:
    overrides: dict[str, object] = dict(parse_assignment(a) for a in assignments)
    for name, value in (("arch", arch), ("gamma", gamma), ("depth", depth), ("seed", seed)):
        if value is not None:
            overrides[name] = value
    if device is not None:
        overrides["train.device"] = device
    return with_overrides(preset(preset_name), overrides)


@cli.group()
def task() -> None:
    """The composite anchor-function task."""


@task.command("export")
@click.option(
    "--variant",
    type=click.Choice(sorted(TASK_PRESETS)),
    default="standard",
    show_default=True,
    help="standard: (3,4) -> x-6, (4,3) held out; both-held-out: (3,4) and (4,3) held out.",
)
@click.option(
    "--split",
    type=click.Choice(["train", "test", "heldout"]),
    required=True,
    help="train / test (seen pairs, unseen key x position) / heldout (held-out pairs).",
)
@int_option("--n", "n", minimum=1, default=1000, help="Number of sequences.")
@int_option("--seed", minimum=0, default=0, help="Seed of the draw.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output JSON-lines file.",
)
def task_export(variant: str, split: str, n: int, seed: int, out: Path) -> None:
    """Write sequences of one split as JSON lines (tokens, key, pair, targets)."""
    data = generate(task_preset(variant), split, n, seed)
    check_writable(out.parent)
    with out.open("w") as handle:
        for record in data.records():
            handle.write(json.dumps(record) + "\n")
    stdout.print(f"wrote {n} {split} sequences ({variant}) to {out}")


@cli.command("train")
@run_options
@arch_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Run directory to write (config, metrics, history, weights).",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=0),
    default=None,
    help="Also save weights every N steps (for analyses over training).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a finished run already in --out (otherwise it is refused, never touched).",
)
def train_command(
    preset_name, gamma, depth, seed, device, assignments, arch, out, checkpoint_every, overwrite
):
    """Train one model on the anchor task and label its solution."""
    from anchorlab.train.run import run_experiment

    extra = tuple(assignments)
    if checkpoint_every is not None:
        extra += (f"train.checkpoint_every={checkpoint_every}",)
    config = build_config(preset_name, gamma, depth, seed, device, extra, arch)
    if (out / "metrics.json").is_file() and not overwrite:
        raise UserError(
            f"{out} already holds a finished run; choose another --out or pass --overwrite"
        )
    check_writable(out)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # a replaced run's would mix in

    with progress_bar("training", "steps", total=config.train.steps) as advance:
        metrics = run_experiment(config, out, on_step=advance)

    table = Table(title=f"run {out}", show_header=False)
    rows = [
        ("preset", config.preset),
        (
            "gamma / depth / seed",
            f"{config.init.init_rate:g} / {config.model.n_layers} / {config.seed}",
        ),
        ("seen-pair test accuracy", f"{metrics['seen_test_accuracy']:.4f}"),
        ("held-out inferential accuracy", f"{metrics['inferential_accuracy']:.4f}"),
        ("held-out symmetric accuracy", f"{metrics['symmetric_accuracy']:.4f}"),
        ("time", f"{metrics['total_seconds']:.1f} s ({metrics['threads']} threads)"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    stdout.print(table)
    stdout.print(f"solution: {metrics['solution']}")


@cli.command("init-audit")
@run_options
@arch_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def init_audit(preset_name, gamma, depth, seed, device, assignments, arch, as_json):
    """Per-tensor audit of the initialization rate on a model the package builds."""
    from anchorlab.init import audit_init_rate
    from anchorlab.train.run import build_model

    config = build_config(preset_name, gamma, depth, seed, device, assignments, arch)
    rows = audit_init_rate(build_model(config))
    title = f"init rate {config.init.init_rate:g} ({config.preset} preset"
    title += f", {config.model.arch} arch)" if config.model.arch != "study" else ")"
    print_audit(rows, as_json, title)


def print_audit(rows, as_json: bool, title: str) -> None:
    if as_json:
        stdout.print_json(json.dumps([row.__dict__ | {"ok": row.ok} for row in rows]))
        return
    table = Table(title=title)
    for column in (
        "tensor",
        "shape",
        "kind",
        "fan-in",
        "gamma",
        "expected std",
        "measured std",
        "ok",
        "note",
    ):
        table.add_column(column)
    for row in rows:
        expected = (
            f"{row.expected_std:.4g}"
            if row.expected_std is not None
            else f"= {row.expected_value:g}"
            if row.expected_value is not None
            else ""
        )
        table.add_row(
            row.name,
            "x".join(map(str, row.shape)),
            row.kind,
            "" if row.fan_in is None else str(row.fan_in),
            "" if row.init_rate is None else f"{row.init_rate:g}",
            expected,
            f"{row.measured_std:.4g}",
            "yes" if row.ok else "NO",
            row.note,
        )
    stdout.print(table)
    bad = [row.name for row in rows if not row.ok]
    stdout.print(
        f"{len(rows) - len(bad)}/{len(rows)} tensors follow the rule"
        + (f"; off: {', '.join(bad)}" if bad else "")
    )


def check_writable(path: Path) -> None:
    """Create directory ``path`` if needed and prove a file can be written in it; refuses
    (``UserError``, one line naming --out) otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(f"cannot write to {path}: {reason}; choose another --out") from None


@contextmanager
def progress_bar(
    label: str, unit: str = "", total: int | None = None
) -> Iterator[Callable[..., None]]:
    """A transient bar on stderr: ``label``, done of total ``unit`` and the time left. Yields
    ``advance(completed, total=None)``; a total of None keeps the bar's (None: unknown)."""
    columns = [TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns.append(TimeRemainingColumn())

    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task(label, total=total)

        def advance(completed: int, total: int | None = None) -> None:
            progress.update(bar, completed=completed, total=total)

        yield advance
