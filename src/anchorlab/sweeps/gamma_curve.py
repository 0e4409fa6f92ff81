"""The study's third panel as a sweep: accuracy on the held-out pair against gamma, GPT-2.

A gamma curve trains one anchor-task model per (gamma, seed) with the GPT-2 architecture
(``anchorlab.models.gpt2``) and reports, per gamma, the mean and spread over seeds of the
held-out pair's accuracy against its inferential target and against its symmetric target.
Runs go through the sweep engine, so an interrupted curve resumes and a rerun only redraws.

The CPU preset uses GPT-2's own pre-LN order: with the study's post-LN, a GPT-2 block at
this size and recipe did not fit the seen pairs (test accuracy 0.69 at gamma 0.8 after 3000
steps), and the study trusts only runs above 0.9. ``--set norm=post`` draws the post-LN
curve; the ``paper`` preset is post-LN.

Outputs in the sweep directory: ``gamma_curve.csv`` (one row per gamma),
``gamma_curve_runs.csv`` (one row per run) and ``gamma_curve.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from anchorlab.config import ConfigError, RunConfig, resolve_path, with_overrides
from anchorlab.sweeps.anchor import OnRunPreset, anchor_job
from anchorlab.sweeps.engine import Job, Sweep
from anchorlab.sweeps.store import RunRecord
from anchorlab.train.run import FIT_THRESHOLD, INFERENTIAL, SEEN_TEST, SYMMETRIC

SUMMARY_CSV = "gamma_curve.csv"
RUNS_CSV = "gamma_curve_runs.csv"
FIGURE = "gamma_curve.png"


@dataclasses.dataclass(frozen=True)
class GammaCurvePreset:
    run_preset: str
    overrides: dict[str, Any]
    gammas: tuple[float, ...]
    seeds: int
    help: str


GAMMA_CURVE_PRESETS: dict[str, GammaCurvePreset] = {
    "cpu": GammaCurvePreset(
        "cpu",
        {"arch": "gpt2", "norm": "pre"},
        (0.3, 0.4, 0.6, 0.8),
        4,
        "GPT-2 block (GPT-2's own pre-LN) at d_model 64, 4 heads, 2 layers, cpu recipe "
        "(3000 steps); gamma 0.3,0.4,0.6,0.8 x 4 seeds (about 20 minutes on 2 idle cores)",
    ),
    "smoke": GammaCurvePreset(
        "smoke",
        {"arch": "gpt2", "norm": "pre"},
        (0.4, 0.8),
        2,
        "tiny GPT-2 block trained for seconds, gamma 0.4,0.8 x 2 seeds: for trying the tools",
    ),
    "paper": GammaCurvePreset(
        "paper",
        {"arch": "gpt2", "width": 768, "depth": 12},
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        4,
        "GPT-2 small (12 layers, d_model 768, 12 heads), post-LN as in the study, on the "
        "study's data and schedule; gamma 0.3..0.8 x 4 seeds: GPUs",
    ),
}
DEFAULT_PRESET = "cpu"


@dataclasses.dataclass
class GammaCurveSpec(OnRunPreset):
    """What to sweep: a run preset, fixed settings, the gammas and the seeds."""

    preset: str
    run_preset: str
    overrides: dict[str, Any]
    gammas: list[float]
    seeds: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "gamma-curve", **dataclasses.asdict(self)}


def gamma_curve_spec(
    preset_name: str = DEFAULT_PRESET,
    gammas: Sequence[float] | None = None,
    seeds: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> GammaCurveSpec:
    """The spec of a gamma-curve preset with its gammas, seed count or settings replaced.

    ``overrides`` are added to the preset's (``arch`` included: ``study`` draws the same
    curve for the study's decoder). Refuses (``ConfigError``, one line) an unknown preset,
    a non-positive or repeated gamma, fewer than one seed, gamma or seed among the fixed
    settings, and any setting the run configuration rejects.
    """
    if preset_name not in GAMMA_CURVE_PRESETS:
        known = ", ".join(GAMMA_CURVE_PRESETS)
        raise ConfigError(f"unknown gamma-curve preset {preset_name!r}; choose one of {known}")
    chosen = GAMMA_CURVE_PRESETS[preset_name]
    gammas = [float(g) for g in (gammas if gammas is not None else chosen.gammas)]
    seeds = chosen.seeds if seeds is None else seeds

    if not gammas:
        raise ConfigError("give at least one gamma, e.g. --gammas 0.4,0.8")
    if any(not (math.isfinite(g) and g > 0) for g in gammas):
        raise ConfigError(f"every gamma must be a positive number, got {gammas}")
    if len(set(gammas)) != len(gammas):
        raise ConfigError(f"a gamma is repeated: {gammas}")
    if seeds < 1:
        raise ConfigError(f"the curve needs at least one seed, got {seeds}")
    merged = dict(chosen.overrides)
    for name, value in (overrides or {}).items():
        path = resolve_path(name)
        if path in (resolve_path("gamma"), "seed"):
            raise ConfigError(f"{name} is an axis of the curve: use --gammas / --seeds")
        for old in [k for k in merged if resolve_path(k) == path]:
            del merged[old]
        merged[name] = value

    spec = GammaCurveSpec(
        preset_name, chosen.run_preset, merged, sorted(gammas), list(range(seeds))
    )
    try:
        base = spec.base_config()
        for gamma in spec.gammas:
            with_overrides(base, {"gamma": gamma})
    except ConfigError as error:
        raise ConfigError(f"bad setting: {error}") from None
    return spec


def build_sweep(spec: GammaCurveSpec, name: str = "gamma-curve") -> Sweep:
    """The engine's sweep for ``spec``: one anchor-task job per (gamma, seed)."""
    base = spec.base_config()

    def make_job(cell: dict[str, Any]) -> Job:
        config = with_overrides(base, {"gamma": cell["gamma"], "seed": cell["seed"]})
        label = (
            f"{config.model.arch}-{config.model.norm_position}-g{cell['gamma']:g}-s{cell['seed']}"
        )
        return anchor_job(config, label)

    return Sweep(name, {"gamma": spec.gammas, "seed": spec.seeds}, make_job, spec=spec.to_dict())


# -- summary ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GammaPoint:
    """One gamma of the curve: statistics over its finished seeds."""

    gamma: float
    runs: int
    inferential_mean: float
    inferential_std: float
    inferential_min: float
    inferential_max: float
    symmetric_mean: float
    symmetric_std: float
    symmetric_min: float
    symmetric_max: float
    seen_test_mean: float
    fit_runs: int
    """Runs with seen-pair test accuracy >= 0.9 (the study trusts only those)."""
    solutions: str
    """Count per solution label, e.g. ``inferential:3 symmetric:1``."""


def _stats(values: list[float]) -> tuple[float, float, float, float]:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread, min(values), max(values)


def summarize(records: Sequence[RunRecord]) -> list[GammaPoint]:
    """Per gamma (ascending): mean, sample standard deviation, min and max over seeds of
    inferential and symmetric accuracy on the held-out pair. Gammas without runs are left
    out."""
    by_gamma: dict[float, list[dict]] = {}
    for record in records:
        gamma = float(record.config["init"]["init_rate"])
        by_gamma.setdefault(gamma, []).append(record.metrics)

    points = []
    for gamma in sorted(by_gamma):
        runs = by_gamma[gamma]
        labels: dict[str, int] = {}
        for metrics in runs:
            labels[metrics.get("solution", "?")] = labels.get(metrics.get("solution", "?"), 0) + 1
        points.append(
            GammaPoint(
                gamma,
                len(runs),
                *_stats([m[INFERENTIAL] for m in runs]),
                *_stats([m[SYMMETRIC] for m in runs]),
                statistics.fmean(m[SEEN_TEST] for m in runs),
                sum(1 for m in runs if m[SEEN_TEST] >= FIT_THRESHOLD),
                " ".join(f"{k}:{v}" for k, v in sorted(labels.items())),
            )
        )
    return points


def write_csv(points: Sequence[GammaPoint], records: Sequence[RunRecord], out: Path) -> None:
    """``gamma_curve.csv`` (per gamma) and ``gamma_curve_runs.csv`` (per run) in ``out``."""
    with (out / SUMMARY_CSV).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in dataclasses.fields(GammaPoint)])
        for point in points:
            writer.writerow(
                [f"{v:.6g}" if isinstance(v, float) else v for v in dataclasses.astuple(point)]
            )

    rows = sorted(records, key=lambda r: (r.config["init"]["init_rate"], r.config["seed"]))
    with (out / RUNS_CSV).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["gamma", "seed", SEEN_TEST, INFERENTIAL, SYMMETRIC, "solution", "seconds", "run_dir"]
        )
        for record in rows:
            m = record.metrics
            writer.writerow(
                [
                    f"{record.config['init']['init_rate']:g}",
                    record.config["seed"],
                    f"{m[SEEN_TEST]:.4f}",
                    f"{m[INFERENTIAL]:.4f}",
                    f"{m[SYMMETRIC]:.4f}",
                    m.get("solution", ""),
                    f"{record.seconds:.1f}",
                    record.run_dir,
                ]
            )


def describe(config: RunConfig) -> str:
    """One line naming the model a curve trained, for titles and logs."""
    m = config.model
    tied = "tied" if m.tie_embedding else "untied"
    return (
        f"{m.arch}, {m.norm_position}-LN, {m.n_layers} layers, d_model {m.d_model}, "
        f"{m.n_heads} heads, {tied} embedding; {config.train.steps} steps"
    )


def plot(points: Sequence[GammaPoint], records: Sequence[RunRecord], path: Path, title: str):
    """The panel: mean over seeds (line), +- one standard deviation (band) and each seed
    (dots) of both accuracies against gamma; gammas where fewer than all runs fit the
    seen pairs (test accuracy < 0.9) are shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    gammas = [p.gamma for p in points]
    step = min((b - a for a, b in zip(gammas, gammas[1:], strict=False)), default=0.1)
    for point in points:
        if point.fit_runs < point.runs:
            axis.axvspan(point.gamma - step / 2, point.gamma + step / 2, color="0.9", lw=0)

    for key, label, colour in (
        ("inferential", "inferential (x - 10)", "tab:blue"),
        ("symmetric", "symmetric (x - 6)", "tab:orange"),
    ):
        mean = [getattr(p, f"{key}_mean") for p in points]
        spread = [getattr(p, f"{key}_std") for p in points]
        axis.plot(gammas, mean, "-o", color=colour, label=label, lw=2)
        axis.fill_between(
            gammas,
            [max(0.0, m - s) for m, s in zip(mean, spread, strict=True)],
            [min(1.0, m + s) for m, s in zip(mean, spread, strict=True)],
            color=colour,
            alpha=0.2,
            lw=0,
        )
        metric = INFERENTIAL if key == "inferential" else SYMMETRIC
        axis.scatter(
            [r.config["init"]["init_rate"] for r in records],
            [r.metrics[metric] for r in records],
            color=colour,
            s=10,
            alpha=0.5,
        )

    seeds = max((p.runs for p in points), default=0)
    axis.set_xlabel("initialization rate gamma (larger = smaller init)")
    axis.set_ylabel("accuracy on the held-out pair (4,3)")
    axis.set_ylim(-0.03, 1.03)
    axis.set_xticks(gammas)
    axis.set_title(title, fontsize=9)
    axis.legend(
        title=f"mean, +-1 sd band, dots: {seeds} seeds; grey: some runs < 0.9 seen-pair test",
        title_fontsize=7,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=2,
    )
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def report(records: Sequence[RunRecord], out: Path, config: RunConfig) -> list[GammaPoint]:
    """Summarize finished runs and write the CSVs and the figure into ``out``."""
    points = summarize(records)
    if not points:
        raise ConfigError(f"no finished runs in {out} to draw a gamma curve from")
    write_csv(points, records, out)
    plot(points, records, out / FIGURE, f"gamma curve: {describe(config)}")
    return points
