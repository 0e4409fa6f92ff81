"""Mechanism analyses of run directories: one run, its training checkpoints, or every run
of a sweep directory.

A run directory holds ``config.json`` and ``model.safetensors`` (``anchorlab train``);
``checkpoints/step_XXXXXXX.safetensors`` when trained with ``--checkpoint-every``. A sweep
directory holds run directories below it, listed in its ``sweep.db`` store when there is
one, otherwise found by their ``config.json``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anchorlab.analysis.mechanism import AnalysisSettings, MechanismAnalysis, analyze_model
from anchorlab.config import RunConfig
from anchorlab.tasks.anchor import task_preset
from anchorlab.train.run import read_run_files

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
CHECKPOINT = re.compile(r"step_(\d+)\.safetensors$")


class AnalysisInputError(ValueError):
    """A path that holds nothing to analyze; the message says what is missing."""


@dataclass(frozen=True)
class RunEntry:
    """One run directory and what its files say about it."""

    run_dir: Path
    config: RunConfig
    metrics: dict[str, Any] | None

    @property
    def gamma(self) -> float:
        return float(self.config.init.init_rate)

    @property
    def depth(self) -> int:
        return int(self.config.model.n_layers)

    @property
    def seed(self) -> int:
        return int(self.config.seed)

    def describe(self) -> dict[str, Any]:
        """Identity and outcome of the run, for ``analysis.json``."""
        metrics = self.metrics or {}
        keys = (
            "seen_test_accuracy",
            "inferential_accuracy",
            "symmetric_accuracy",
            "solution",
            "steps",
        )
        return {
            "run_dir": str(self.run_dir),
            "preset": self.config.preset,
            "gamma": self.gamma,
            "depth": self.depth,
            "seed": self.seed,
            "lr": self.config.train.lr,
            "weight_decay": self.config.train.weight_decay,
            **{key: metrics.get(key) for key in keys},
        }


def is_run_dir(path: Path) -> bool:
    return (path / "config.json").is_file()


def read_run(run_dir: str | Path) -> RunEntry:
    """The run at ``run_dir``; refuses a directory without config.json or final weights."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise AnalysisInputError(
            f"{run_dir} is not a run directory (no config.json): give a directory written by "
            "anchorlab train or a sweep directory"
        )
    if not (run_dir / WEIGHTS).is_file():
        raise AnalysisInputError(
            f"{run_dir} has no {WEIGHTS}: the run did not finish; rerun anchorlab train"
        )
    config, metrics = read_run_files(run_dir)
    return RunEntry(run_dir=run_dir, config=config, metrics=metrics)


def find_runs(sweep_dir: str | Path) -> list[RunEntry]:
    """Finished anchor-task runs of a sweep directory, ordered by (depth, gamma, seed, path).

    Uses the sweep's ``sweep.db`` store when present (its finished runs whose directories
    still hold weights), else every directory below ``sweep_dir`` with a config.json and
    weights. Runs without weights are skipped with a warning; no run at all is refused.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AnalysisInputError(f"{sweep_dir} does not exist or is not a directory")
    candidates = _store_run_dirs(sweep_dir)
    if candidates is None:
        candidates = sorted(path.parent for path in sweep_dir.rglob("config.json"))

    entries = []
    for run_dir in candidates:
        if not (run_dir / WEIGHTS).is_file():
            logger.warning("skipping %s: no %s (unfinished run)", run_dir, WEIGHTS)
            continue
        try:
            entries.append(read_run(run_dir))
        except (ValueError, KeyError, json.JSONDecodeError) as error:
            logger.warning("skipping %s: %s", run_dir, error)
    if not entries:
        raise AnalysisInputError(
            f"{sweep_dir} holds no finished run (a config.json next to {WEIGHTS}): give a run "
            "directory or a sweep directory"
        )
    return sorted(entries, key=lambda e: (e.depth, e.gamma, e.seed, str(e.run_dir)))


FOLDED_SETTINGS = frozenset(
    {"seed", "threads", "train.lr", "train.device", "train.checkpoint_every", "train.eval_every"}
)
"""Settings that may differ between the runs of one (depth, gamma) cell of a grid."""


def mixed_settings(entries: list[RunEntry]) -> list[str]:
    """Dotted names of the settings (other than gamma, depth and ``FOLDED_SETTINGS``) whose
    values differ between ``entries``: a grid cell holding such runs mixes experiments."""
    flat = [_flatten(entry.config.to_dict()) for entry in entries]
    names = set().union(*flat) - FOLDED_SETTINGS - {"init.init_rate", "model.n_layers"}
    return sorted(n for n in names if len({json.dumps(f.get(n), sort_keys=True) for f in flat}) > 1)


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key not in ("overrides",):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _store_run_dirs(sweep_dir: Path) -> list[Path] | None:
    """Run directories the sweep store lists, or None when there is no usable store."""
    from anchorlab.sweeps.store import STORE_FILENAME, StoreError, SweepStore

    path = sweep_dir / STORE_FILENAME
    if not path.is_file():
        return None
    try:
        with SweepStore(path, create=False) as store:
            records = store.records()
    except StoreError as error:
        logger.warning("ignoring the sweep store (%s); looking for run directories instead", error)
        return None
    return sorted({sweep_dir / record.run_dir for record in records if record.run_dir})


def analyze_run(
    entry: RunEntry, settings: AnalysisSettings | None = None, maps: bool = True
) -> MechanismAnalysis:
    """Every analysis of the run's final weights."""
    from anchorlab.train.run import load_run

    _, model, _ = load_run(entry.run_dir)
    return analyze_model(model, task_preset(entry.config.task.variant), settings, maps)


@dataclass
class OverTraining:
    """Every number of :func:`analyze_model` at each saved step of one run."""

    steps: list[int]
    numbers: dict[str, list[float | None]] = field(default_factory=dict)
    embedding_eigenvalues: list[np.ndarray] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def clean(value):
            return None if value is None or not np.isfinite(value) else float(value)

        return {
            "steps": self.steps,
            "numbers": {k: [clean(v) for v in values] for k, values in self.numbers.items()},
            "embedding_covariance_eigenvalues": [
                e.round(8).tolist() for e in self.embedding_eigenvalues
            ],
        }


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every saved checkpoint, in step order."""
    found = []
    for path in (run_dir / "checkpoints").glob("step_*.safetensors"):
        match = CHECKPOINT.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def analyze_over_training(
    entry: RunEntry, settings: AnalysisSettings | None = None
) -> OverTraining:
    """Numbers at step 0 (the initialization, rebuilt from the run's configuration and
    seed exactly as training drew it), at every checkpoint, and at the final weights when
    their step is not a checkpoint already. Refuses a run trained without checkpoints."""
    from anchorlab.train.run import build_model, load_run

    saved = checkpoints(entry.run_dir)
    if not saved:
        raise AnalysisInputError(
            f"{entry.run_dir} has no checkpoints/: retrain with anchorlab train "
            "--checkpoint-every N to analyze over training"
        )
    final_step = int((entry.metrics or {}).get("steps") or entry.config.train.steps)
    if final_step not in {step for step, _ in saved}:
        saved.append((final_step, entry.run_dir / WEIGHTS))

    spec = task_preset(entry.config.task.variant)
    curve = OverTraining(steps=[])
    for step, path in [(0, None), *saved]:
        if path is None:
            model = build_model(entry.config, spec)
        else:
            _, model, _ = load_run(entry.run_dir, weights=str(path.resolve()))
        result = analyze_model(model, spec, settings, maps=False)
        curve.steps.append(step)
        for name, value in result.flat_numbers().items():
            curve.numbers.setdefault(name, []).append(value)
        curve.embedding_eigenvalues.append(result.embedding_eigenvalues)
        logger.info("analyzed step %d of %s", step, entry.run_dir)
    return curve
