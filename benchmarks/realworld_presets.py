"""How long the ``anchorlab realworld`` cpu presets take on this machine.

For each data set, trains the preset's model on its largest training size for ``--steps``
steps on one torch thread (all evaluations included once), and reports process CPU seconds
per step and per run overhead (data, evaluation, greedy check); wall time too, which shared
machines inflate. The sweep estimate is runs x (steps x seconds per step + overhead),
divided by ``--workers``.

    python benchmarks/realworld_presets.py --steps 50 --datasets scan addition
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from anchorlab.realworld.experiments import preset, run_config, run_realworld  # noqa: E402


def measure(dataset: str, preset_name: str, steps: int) -> dict:
    chosen = preset(dataset, preset_name)
    config = run_config(chosen, chosen.settings[0], max(chosen.train_sizes), 0)
    full_steps = config["train"]["steps"]
    config["train"] |= {"steps": steps, "warmup_steps": 1, "eval_every": steps}

    cpu, wall = time.process_time(), time.perf_counter()
    metrics = run_realworld(config)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    step_cpu = metrics["train_seconds"] * cpu / wall / steps  # train share of the CPU time
    overhead_cpu = cpu - step_cpu * steps
    runs = len(chosen.train_sizes) * len(chosen.seeds) * len(chosen.settings)
    return {
        "dataset": dataset,
        "runs": runs,
        "steps": full_steps,
        "cpu_per_step": step_cpu,
        "overhead_cpu": overhead_cpu,
        "wall_per_step": metrics["train_seconds"] / steps,
        "sweep_cpu_minutes": runs * (full_steps * step_cpu + overhead_cpu) / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=["scan", "addition", "cogs"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for dataset in args.datasets:
        row = measure(dataset, args.preset, args.steps)
        print(
            f"{dataset:9s} {row['runs']} runs x {row['steps']} steps: "
            f"{row['cpu_per_step'] * 1000:.0f} ms CPU/step "
            f"({row['wall_per_step'] * 1000:.0f} ms wall), {row['overhead_cpu']:.1f} s CPU "
            f"overhead per run -> sweep ~{row['sweep_cpu_minutes'] / args.workers:.0f} min "
            f"with {args.workers} worker(s)"
        )


if __name__ == "__main__":
    main()
