"""The study's phase diagram as a sweep: anchor-task runs over gamma x depth (x seed ...).

A :class:`PhaseDiagramSpec` is a plain description (run preset, axes, fixed settings,
learning-rate search) that is stored with the grid, so figures can be redrawn from the store
alone. Axis and setting names are those of :func:`anchorlab.config.resolve_path` (short
names such as ``gamma``, ``depth``, ``seed``, ``lr`` or dotted paths such as
``train.weight_decay``). Every value is validated before anything trains.

The learning-rate search (the study's protocol: 9 rates drawn in
[1e-4, 3e-4], best accuracy per mapping kept) adds a hidden ``lr_draw``
axis: each cell is trained with K learning rates drawn uniformly from [low, high], and the
report keeps the best accuracy per mapping over them. The draws depend only on the cell's
other axis values and the search's seed, so they are the same on every rerun.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
from pydantic import ConfigDict, model_validator
from pydantic.dataclasses import dataclass as validated_dataclass

from anchorlab.config import ConfigError, resolve_path, with_overrides
from anchorlab.sweeps.anchor import OnRunPreset, anchor_job
from anchorlab.sweeps.engine import Job, Sweep
from anchorlab.sweeps.store import canonical_json

LR_AXIS = "lr_draw"
"""Hidden axis of the learning-rate search: index of the draw within a cell."""
GROUPING_AXES = ("gamma", "depth", "seed", LR_AXIS)
"""Axes the phase diagram folds: the others (if any) get a figure of their own."""


@validated_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class LRSearch:
    """Train each cell with ``k`` learning rates drawn uniformly in [low, high]."""

    k: int
    low: float
    high: float
    seed: int = 0

    @model_validator(mode="after")
    def _check(self):
        if self.k < 1:
            raise ValueError(f"the learning-rate search needs k >= 1, got {self.k}")
        if not 0 < self.low <= self.high:
            raise ValueError(
                f"learning-rate range needs 0 < low <= high, got {self.low}..{self.high}"
            )
        return self

    def draws(self, cell: dict[str, Any]) -> list[float]:
        """The k learning rates of a cell (its axis values other than ``lr_draw``)."""
        context = {k: v for k, v in cell.items() if k != LR_AXIS}
        digest = hashlib.sha256(canonical_json([context, self.seed]).encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return [float(f"{lr:.4g}") for lr in rng.uniform(self.low, self.high, self.k)]


@dataclasses.dataclass(frozen=True)
class SweepPreset:
    run_preset: str
    axes: dict[str, list]
    help: str
    lr_search: LRSearch | None = None


MAX_AXIS_VALUES = 1000
"""A range longer than this is refused: it is almost always a mistyped step."""


def _steps(start: float, stop: float, step: float) -> list[float]:
    count = int(round((stop - start) / step)) + 1
    if count > MAX_AXIS_VALUES:
        raise ConfigError(
            f"range {start}:{stop}:{step} has {count} values (at most {MAX_AXIS_VALUES}); "
            "use a larger step"
        )
    return [round(start + i * step, 6) for i in range(count)]


SWEEP_PRESETS: dict[str, SweepPreset] = {
    "cpu": SweepPreset(
        "cpu",
        {"gamma": [0.4, 0.5, 0.6, 0.8], "depth": [2, 3], "seed": [0]},
        "cpu models, gamma 0.4,0.5,0.6,0.8 x depth 2,3 x 1 seed (8 runs, ~10 min on 2 cores)",
    ),
    "smoke": SweepPreset(
        "smoke",
        {"gamma": [0.4, 0.8], "depth": [1, 2], "seed": [0]},
        "tiny models, gamma 0.4,0.8 x depth 1,2: seconds per cell, for trying the tools",
    ),
    "cpu-full": SweepPreset(
        "cpu",
        {"gamma": _steps(0.1, 1.0, 0.1), "depth": [2, 3, 4, 5, 6], "seed": [0, 1, 2]},
        "cpu models, gamma 0.1..1.0 x depth 2..6 x 3 seeds (150 runs: hours on a CPU)",
    ),
    "paper": SweepPreset(
        "paper",
        {"gamma": _steps(0.3, 0.8, 0.1), "depth": [2, 3, 4, 5, 6], "seed": [0, 1, 2]},
        "the study's model and protocol: gamma 0.3..0.8 x depth 2..6 x 3 seeds, 9 learning "
        "rates each in [1e-4, 3e-4] (810 runs: GPUs)",
        LRSearch(k=9, low=1e-4, high=3e-4),
    ),
}
DEFAULT_PRESET = "cpu"


@dataclasses.dataclass
class PhaseDiagramSpec(OnRunPreset):
    """What to sweep. Build with :func:`phase_diagram_spec`; store with :meth:`to_dict`."""

    preset: str
    run_preset: str
    axes: dict[str, list]
    overrides: dict[str, Any]
    lr_search: LRSearch | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "phase-diagram",
            "preset": self.preset,
            "run_preset": self.run_preset,
            "axes": self.axes,
            "overrides": self.overrides,
            "lr_search": dataclasses.asdict(self.lr_search) if self.lr_search else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhaseDiagramSpec:
        search = data.get("lr_search")
        axes = {k: v for k, v in data["axes"].items() if k != LR_AXIS}
        return cls(
            data["preset"],
            data["run_preset"],
            axes,
            dict(data.get("overrides", {})),
            LRSearch(**search) if search else None,
        )

    def extra_axes(self) -> list[str]:
        """Axes other than gamma, depth and seed (each value gets its own figure)."""
        folded = {resolve_path(name) for name in GROUPING_AXES if name != LR_AXIS}
        return [name for name in self.axes if resolve_path(name) not in folded]


def phase_diagram_spec(
    preset_name: str = DEFAULT_PRESET,
    axes: dict[str, list] | None = None,
    overrides: dict[str, Any] | None = None,
    lr_search: LRSearch | None | bool = True,
) -> PhaseDiagramSpec:
    """The spec of a sweep preset with ``axes`` replacing or adding axes, fixed
    ``overrides``, and ``lr_search`` (True: the preset's; None/False: none; or a search).

    Refuses (``ConfigError``, one line) unknown presets, unknown axis or setting names, two
    names for one setting, an axis that is also fixed, and any value the run configuration
    rejects.
    """
    if preset_name not in SWEEP_PRESETS:
        raise ConfigError(
            f"unknown sweep preset {preset_name!r}; choose one of {', '.join(SWEEP_PRESETS)}"
        )
    chosen = SWEEP_PRESETS[preset_name]
    merged = {name: list(values) for name, values in chosen.axes.items()}
    by_path = {resolve_path(name): name for name in merged}
    for name, values in (axes or {}).items():
        if name == LR_AXIS:
            raise ConfigError(f"{LR_AXIS} is set by the learning-rate search (--lr-search K)")
        path = resolve_path(name)
        if path in by_path:
            del merged[by_path[path]]
        merged[name] = list(values)
        by_path[path] = name
    search = chosen.lr_search if lr_search is True else (lr_search or None)
    spec = PhaseDiagramSpec(preset_name, chosen.run_preset, merged, dict(overrides or {}), search)
    _validate(spec)
    return spec


def _validate(spec: PhaseDiagramSpec) -> None:
    paths: dict[str, str] = {}
    for name in list(spec.axes) + list(spec.overrides):
        path = resolve_path(name)
        if path in paths:
            raise ConfigError(f"{paths[path]!r} and {name!r} both set {path}; keep one")
        paths[path] = name
    if spec.lr_search and resolve_path("lr") in paths:
        raise ConfigError("the learning-rate search sets train.lr: drop lr from the axes/settings")
    try:
        base = spec.base_config()
    except ConfigError as error:
        raise ConfigError(f"bad setting: {error}") from None
    for name, values in spec.axes.items():
        if not values:
            raise ConfigError(f"axis {name} has no values")
        if len({json.dumps(v) for v in values}) != len(values):
            raise ConfigError(f"axis {name} repeats a value: {values}")
        for value in values:
            try:
                with_overrides(base, {name: value})
            except ConfigError as error:
                raise ConfigError(f"bad value {value!r} for axis {name}: {error}") from None


def build_sweep(spec: PhaseDiagramSpec, name: str = "phase-diagram") -> Sweep:
    """The engine's sweep for ``spec``: one anchor-task job per cell (and learning rate)."""
    base = spec.base_config()
    axes = dict(spec.axes)
    if spec.lr_search:
        axes[LR_AXIS] = list(range(spec.lr_search.k))

    def make_job(cell: dict[str, Any]) -> Job:
        overrides = {k: v for k, v in cell.items() if k != LR_AXIS}
        if spec.lr_search:
            overrides["lr"] = spec.lr_search.draws(cell)[cell[LR_AXIS]]
        config = with_overrides(base, overrides)
        label = f"g{config.init.init_rate:g}-d{config.model.n_layers}-s{config.seed}"
        extras = [f"{k}={v}" for k, v in cell.items() if k not in GROUPING_AXES]
        if spec.lr_search:
            extras.append(f"lr{config.train.lr:g}")
        return anchor_job(config, "-".join([label, *extras]))

    return Sweep(name, axes, make_job, spec=spec.to_dict())


def parse_axis_values(text: str) -> list[Any]:
    """``0.3,0.4,0.6`` (each value read as JSON, else kept as text) or an inclusive range
    ``START:STOP[:STEP]`` (``0.1:1.0:0.1``, ``2:6``)."""
    text = text.strip()
    if not text:
        raise ConfigError("an axis needs at least one value, e.g. --axis gamma=0.4,0.8")
    if ":" in text and "," not in text:
        parts = text.split(":")
        try:
            numbers = [json.loads(p) for p in parts]
        except json.JSONDecodeError:
            numbers = None
        if (
            numbers is None
            or len(parts) not in (2, 3)
            or not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers)
        ):
            raise ConfigError(f"bad range {text!r}: use START:STOP or START:STOP:STEP")
        start, stop = numbers[0], numbers[1]
        step = numbers[2] if len(numbers) == 3 else 1
        if step <= 0 or stop < start:
            raise ConfigError(f"bad range {text!r}: needs START <= STOP and STEP > 0")
        values = _steps(start, stop, step)
        if all(isinstance(n, int) for n in numbers):
            values = [int(v) for v in values]
        return values
    values = []
    for raw in text.split(","):
        raw = raw.strip()
        try:
            values.append(json.loads(raw))
        except json.JSONDecodeError:
            values.append(raw)
    return values
