"""Jobs that train one model on the anchor task (``anchorlab.train.run``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from anchorlab.config import RunConfig, preset, run_config_from_dict, with_overrides
from anchorlab.sweeps.engine import Job


class OnRunPreset:
    """Mixin of the sweep specs: every run starts from the run preset ``run_preset`` with the
    fixed settings ``overrides``; the sweep's axes come on top."""

    run_preset: str
    overrides: dict[str, Any]

    def base_config(self) -> RunConfig:
        """The run preset with the fixed settings applied (refuses as ``with_overrides``)."""
        return with_overrides(preset(self.run_preset), self.overrides)


def run_anchor(config: dict, run_dir: Path) -> dict:
    """Run function of anchor-task jobs: train as ``config`` says, write the run directory."""
    from anchorlab.train.run import run_experiment

    return run_experiment(run_config_from_dict(config), run_dir)


def anchor_job(config: RunConfig, label: str = "") -> Job:
    """The job of one anchor-task run. The thread count is left out of the configuration
    (and so of the store key): the backend sets it."""
    config = dataclasses.replace(config, threads=None)
    gpus = 1.0 if config.train.device.startswith("cuda") else 0.0
    if not label:
        label = f"g{config.init.init_rate:g}-d{config.model.n_layers}-s{config.seed}"
    return Job(config.to_dict(), run_anchor, label=label, kind="anchorlab.anchor-run", gpus=gpus)
