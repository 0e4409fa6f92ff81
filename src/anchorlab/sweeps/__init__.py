"""Resumable sweeps: a grid of cells, one run per cell, results in an SQLite store.

A sweep is a grid over named axes; each cell (a dict of axis values) becomes a
:class:`Job`: a fully resolved JSON configuration plus a module-level function
``run(config, run_dir) -> metrics``. The store keys every finished run on a hash of its
configuration, so rerunning a sweep (after Ctrl-C, kill -9 or a crash) trains only what is
missing, and a changed grid reuses every cell whose configuration it shares. Jobs run on
worker processes of this machine (``backend="local"``) or on Ray (``backend="ray"``);
only the calling process writes the store.

Defining a sweep with your own run function::

    # my_experiment.py  (the run function must live at module level)
    from pathlib import Path
    from anchorlab.sweeps import Job, Sweep, run_sweep

    def train_one(config: dict, run_dir: Path) -> dict:
        ...  # build and train from config, optionally write files into run_dir
        return {"accuracy": 0.97, "solution": "inferential"}

    def make_job(cell: dict) -> Job:
        config = {"model": "gpt2-small", "gamma": cell["gamma"], "seed": cell["seed"],
                  "steps": 2000}  # every setting that decides the result, defaults included
        return Job(config, train_one, label=f"g{cell['gamma']}-s{cell['seed']}")

    sweep = Sweep("gamma-curve", {"gamma": [0.3, 0.5, 0.8], "seed": [0, 1, 2, 3]}, make_job)
    result = run_sweep(sweep, "runs/gamma-curve", workers=2, threads=1)
    for cell, record in zip(result.cells, result.records):
        print(cell, record.metrics if record else "failed")

For anchor-task runs, :func:`anchor_job` turns a :class:`~anchorlab.config.RunConfig`
into a job; :mod:`anchorlab.sweeps.phase_diagram` builds the study's gamma x depth sweep.
Stored results are read back with :class:`SweepStore` (``records()``, ``load_grid()``).
"""

from anchorlab.sweeps.anchor import anchor_job, run_anchor
from anchorlab.sweeps.engine import (
    Backend,
    Cell,
    Job,
    LocalBackend,
    RayBackend,
    Sweep,
    SweepProgress,
    SweepResult,
    make_backend,
    run_directory,
    run_sweep,
)
from anchorlab.sweeps.store import (
    STORE_FILENAME,
    RunRecord,
    StoreError,
    SweepError,
    SweepStore,
    config_key,
)

__all__ = [
    "STORE_FILENAME",
    "Backend",
    "Cell",
    "Job",
    "LocalBackend",
    "RayBackend",
    "RunRecord",
    "StoreError",
    "Sweep",
    "SweepError",
    "SweepProgress",
    "SweepResult",
    "SweepStore",
    "anchor_job",
    "config_key",
    "make_backend",
    "run_anchor",
    "run_directory",
    "run_sweep",
]
