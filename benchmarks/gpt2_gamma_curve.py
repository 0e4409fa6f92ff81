"""How long the default ``anchorlab gamma-curve`` grid takes on this machine.

Trains the gamma-curve model (GPT-2 block, cpu preset) and, for reference, the study's cpu
model for ``--steps`` steps on one torch thread, and reports process CPU seconds per step
(wall time too, which shared machines inflate). The estimate for a run adds the trainer's
evaluations; the grid estimate divides by the worker count (one run per core).

    python benchmarks/gpt2_gamma_curve.py --steps 200
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from anchorlab.config import preset, with_overrides  # noqa: E402
from anchorlab.sweeps.gamma_curve import GAMMA_CURVE_PRESETS  # noqa: E402
from anchorlab.train.run import build_model, eval_sets, make_datasets  # noqa: E402
from anchorlab.train.trainer import evaluate, train  # noqa: E402


def measure(config, steps: int) -> dict:
    data = make_datasets(config)
    model = build_model(config)
    short = with_overrides(config, {"steps": steps, "train.warmup_steps": 10})
    tokens, target = torch.from_numpy(data.train.tokens), torch.from_numpy(data.train.target)

    cpu, wall = time.process_time(), time.perf_counter()
    train(model, tokens, target, short.train, eval_sets=None, seed=0)
    step_cpu = (time.process_time() - cpu) / steps
    step_wall = (time.perf_counter() - wall) / steps

    sets = eval_sets(data)
    cpu = time.process_time()
    evaluate(model, sets)
    eval_cpu = time.process_time() - cpu
    evaluations = math.ceil(config.train.steps / config.train.eval_every)
    return {
        "step_cpu": step_cpu,
        "step_wall": step_wall,
        "eval_cpu": eval_cpu,
        "run_cpu": step_cpu * config.train.steps + eval_cpu * evaluations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps to time per model")
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (cores)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    curve = GAMMA_CURVE_PRESETS["cpu"]
    runs = len(curve.gammas) * curve.seeds
    models = {
        "gamma-curve (gpt2, cpu preset)": with_overrides(preset("cpu"), curve.overrides),
        "study cpu preset (reference)": preset("cpu"),
    }
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, config in models.items():
        result = measure(config, args.steps)
        print(
            f"{name}: {1000 * result['step_cpu']:.1f} ms CPU/step "
            f"({1000 * result['step_wall']:.1f} ms wall), eval {result['eval_cpu']:.2f} s CPU; "
            f"one run ~{result['run_cpu'] / 60:.1f} min CPU"
        )
        if name.startswith("gamma-curve"):
            grid = result["run_cpu"] * runs / args.workers / 60
            print(f"  default grid: {runs} runs / {args.workers} workers ~{grid:.0f} min if idle")


if __name__ == "__main__":
    main()
