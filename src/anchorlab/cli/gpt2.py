"""GPT-2 commands: ``gamma-curve`` (the study's third panel) and ``init-audit-hf`` (the init
rate on transformers' own GPT2LMHeadModel)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from anchorlab.cli.core import parse_assignment, print_audit, progress_bar, stdout
from anchorlab.cli.main import UserError, cli
from anchorlab.cli.options import (
    backend_option,
    device_option,
    int_option,
    ray_address_option,
    set_option,
    threads_option,
    workers_option,
)


def parse_gammas(text: str) -> list[float]:
    """``0.3,0.5,0.8`` or an inclusive range ``START:STOP:STEP`` (``0.3:0.8:0.1``)."""
    from anchorlab.config import ConfigError
    from anchorlab.sweeps.phase_diagram import parse_axis_values

    try:
        return [float(value) for value in parse_axis_values(text)]
    except ConfigError as error:
        raise UserError(f"bad --gammas: {error}") from None
    except (TypeError, ValueError):
        raise UserError(
            f"bad --gammas {text!r}: use a list (0.3,0.5,0.8) or START:STOP:STEP (0.3:0.8:0.1)"
        ) from None


def _gamma_curve_presets_help() -> str:
    from anchorlab.sweeps.gamma_curve import GAMMA_CURVE_PRESETS

    return "; ".join(f"{name}: {p.help}" for name, p in GAMMA_CURVE_PRESETS.items())


@cli.command("gamma-curve")
@click.option(
    "--preset",
    "preset_name",
    type=click.Choice(["cpu", "smoke", "paper"]),
    default="cpu",
    show_default=True,
    help=_gamma_curve_presets_help(),
)
@click.option(
    "--arch",
    type=click.Choice(["gpt2", "study"]),
    default="gpt2",
    show_default=True,
    help="Model family: gpt2 (the study's third panel) or study (same curve, study's decoder).",
)
@click.option("--gammas", help="Gammas to train: 0.3,0.5,0.8 or 0.3:0.8:0.1 (default: preset's).")
@click.option(
    "--seeds", type=click.IntRange(min=1), help="Seeds per gamma, 0..N-1 (default: preset's, 4)."
)
@set_option("Any other fixed setting, e.g. --set norm=pre (GPT-2's own pre-LN) --set steps=1000.")
@device_option()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/gamma-curve"),
    show_default=True,
    help="Sweep directory: store, run directories, CSV and figure. Rerunning resumes.",
)
@backend_option()
@workers_option()
@threads_option()
@ray_address_option()
@click.option(
    "--redraw",
    is_flag=True,
    help="Only draw the figure and CSV from the runs already finished in --out (no training; "
    "works while the curve is still running).",
)
def gamma_curve_command(
    preset_name, arch, gammas, seeds, assignments, device, out, backend, workers, threads,
    ray_address, redraw,
):  # fmt: skip
    """Accuracy on the held-out pair against gamma, mean and spread over seeds (the study's
    GPT-2 panel); writes gamma_curve.png and gamma_curve.csv into --out."""
    from anchorlab.sweeps import run_sweep
    from anchorlab.sweeps.gamma_curve import build_sweep, describe, gamma_curve_spec

    overrides = dict(parse_assignment(a) for a in assignments)
    overrides["arch"] = arch
    if device is not None:
        overrides["train.device"] = device
    spec = gamma_curve_spec(preset_name, parse_gammas(gammas) if gammas else None, seeds, overrides)
    sweep = build_sweep(spec)
    base = spec.base_config()
    stdout.print(
        f"gamma curve: {len(spec.gammas)} gammas x {len(spec.seeds)} seeds; {describe(base)}"
    )

    if redraw:
        if not (out / "sweep.db").is_file():
            raise UserError(f"{out} holds no gamma curve (no sweep.db): run without --redraw first")
        finished, runs = _report(sweep, out, base, create=False)
        stdout.print(
            f"{finished} of {runs} runs finished; figure {out / 'gamma_curve.png'}, "
            f"table {out / 'gamma_curve.csv'}"
        )
        return

    with progress_bar("gamma curve", "runs", total=len(spec.gammas) * len(spec.seeds)) as advance:
        result = run_sweep(
            sweep,
            out,
            backend,
            workers=workers,
            threads=threads,
            ray_address=ray_address,
            on_progress=lambda p: advance(p.done, p.total),
        )

    _report(sweep, out, base)
    stdout.print(
        f"{result.trained} trained, {result.reused} reused in {result.seconds:.0f} s; "
        f"figure {out / 'gamma_curve.png'}, table {out / 'gamma_curve.csv'}"
    )
    if result.failures:
        raise UserError(
            f"{len(result.failures)} runs failed (first: {result.failures[0][1]}); "
            "rerun the same command to retry them"
        )


def _report(sweep, out: Path, base, create: bool = True) -> tuple[int, int]:
    """Draw the curve from the runs of ``sweep`` stored in ``out`` and print its table;
    returns (finished runs, runs of the sweep)."""
    from anchorlab.sweeps import SweepStore
    from anchorlab.sweeps.gamma_curve import report

    keys = {job.key for _, job in sweep.jobs()}
    with SweepStore(out / "sweep.db", create=create) as store:
        records = store.records(keys)

    _print_points(report(records, out, base))
    return len(records), len(keys)


def _print_points(points) -> None:
    table = Table(title="held-out pair (4,3) over seeds: mean +- sd [min, max]")
    for column in ("gamma", "runs", "inferential", "symmetric", "seen test", "fit", "solutions"):
        table.add_column(column)
    for p in points:
        table.add_row(
            f"{p.gamma:g}",
            str(p.runs),
            f"{p.inferential_mean:.3f} +- {p.inferential_std:.3f} "
            f"[{p.inferential_min:.2f}, {p.inferential_max:.2f}]",
            f"{p.symmetric_mean:.3f} +- {p.symmetric_std:.3f} "
            f"[{p.symmetric_min:.2f}, {p.symmetric_max:.2f}]",
            f"{p.seen_test_mean:.3f}",
            f"{p.fit_runs}/{p.runs}",
            p.solutions,
        )
    stdout.print(table)


@cli.command("init-audit-hf")
@click.option("--gamma", type=float, default=0.5, show_default=True, help="Init rate (> 0).")
@int_option("--layers", minimum=1, default=2, help="n_layer.")
@int_option("--width", minimum=1, default=64, help="n_embd.")
@int_option("--heads", minimum=1, default=4, help="n_head.")
@int_option("--vocab", minimum=2, default=128, help="vocab_size.")
@int_option("--positions", minimum=1, default=16, help="n_positions.")
@click.option(
    "--embedding-fan-in",
    type=click.Choice(["width", "rows"]),
    default="width",
    show_default=True,
    help="d_in of the token table (and so of the tied lm_head): its width or its rows.",
)
@int_option("--seed", minimum=0, default=0, help="Seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def init_audit_hf(gamma, layers, width, heads, vocab, positions, embedding_fan_in, seed, as_json):
    """Per-tensor audit of the init rate on transformers' GPT2LMHeadModel built offline
    from these sizes (needs anchorlab[hf])."""
    import torch

    from anchorlab.init.huggingface import gpt2_model, init_pretrained_model

    if width % heads:
        raise UserError(f"--width {width} is not divisible by --heads {heads}")
    model = gpt2_model(layers, width, heads, vocab, positions)
    rows = init_pretrained_model(
        model,
        gamma,
        embedding_fan_in=embedding_fan_in,
        generator=torch.Generator().manual_seed(seed),
    )
    title = f"init rate {gamma:g} on transformers GPT2LMHeadModel ({layers} layers, {width} wide)"
    print_audit(rows, as_json, title)
    if not as_json:
        tied = [row for row in rows if row.kind == "tied"]
        for row in tied:
            stdout.print(f"tied: {row.name} {row.note}")
