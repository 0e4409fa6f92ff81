"""One run on the anchor task: draw the data, build and initialize the model, train, label
the solution, and write the run directory.

A run directory holds ``config.json``, ``metrics.json``, ``history.csv`` (one row per
evaluation), ``model.safetensors`` and, when asked, ``checkpoints/step_XXXXXXX.safetensors``.
``metrics.json`` is written last, so a directory without it is an unfinished run.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import anchorlab
from anchorlab.config import ConfigError, RunConfig, run_config_from_dict
from anchorlab.init import apply_init_rate, check_distinct_layers
from anchorlab.models.decoder import AnchorTransformer
from anchorlab.tasks.anchor import AnchorData, TaskSpec, generate, task_preset
from anchorlab.train.trainer import EvalSet, StepCallback, train

logger = logging.getLogger(__name__)

SEEN_TEST = "seen_test_accuracy"
INFERENTIAL = "inferential_accuracy"
SYMMETRIC = "symmetric_accuracy"
TRAIN = "train_accuracy"
FIT_THRESHOLD = 0.9


def classify_solution(seen_test: float, inferential: float, symmetric: float) -> str:
    """``unfit`` below 0.9 on seen pairs; else the mapping that reaches 0.5 and is larger
    (ties go to ``inferential``); else ``neither``."""
    if not seen_test >= FIT_THRESHOLD:
        return "unfit"
    best = max(inferential, symmetric)
    if best < 0.5:
        return "neither"
    return "inferential" if inferential >= symmetric else "symmetric"


@dataclass
class TaskDataSets:
    train: AnchorData
    test: AnchorData
    heldout: AnchorData


def make_datasets(config: RunConfig) -> TaskDataSets:
    spec = task_preset(config.task.variant)
    seed = config.seed if config.task.data_seed is None else config.task.data_seed
    return TaskDataSets(
        train=generate(spec, "train", config.task.n_train, seed),
        test=generate(spec, "test", config.task.n_test, seed),
        heldout=generate(spec, "heldout", config.task.n_heldout, seed),
    )


def eval_sets(data: TaskDataSets, n_train_eval: int = 2000) -> dict[str, EvalSet]:
    """Seen-pair test, a training sample, and the held-out pair against both targets."""
    heldout_tokens = torch.from_numpy(data.heldout.tokens)
    return {
        SEEN_TEST: EvalSet(torch.from_numpy(data.test.tokens), torch.from_numpy(data.test.target)),
        TRAIN: EvalSet(
            torch.from_numpy(data.train.tokens[:n_train_eval]),
            torch.from_numpy(data.train.target[:n_train_eval]),
        ),
        INFERENTIAL: EvalSet(heldout_tokens, torch.from_numpy(data.heldout.inferential_target)),
        SYMMETRIC: EvalSet(heldout_tokens, torch.from_numpy(data.heldout.symmetric_target)),
    }


def build_model(config: RunConfig, spec: TaskSpec | None = None) -> AnchorTransformer:
    """The run's model, initialized by its init rate from the run seed."""
    spec = spec or task_preset(config.task.variant)
    if config.model.vocab_size < spec.vocab_size or config.model.seq_len != spec.seq_len:
        raise ValueError(
            f"model vocab_size/seq_len ({config.model.vocab_size}/{config.model.seq_len}) must "
            f"cover the task's ({spec.vocab_size}/{spec.seq_len})"
        )
    model = AnchorTransformer(config.model)
    generator = torch.Generator().manual_seed(config.seed)
    apply_init_rate(model, config.init.init_rate, config.init.rule(), generator=generator)
    clashes = check_distinct_layers(model)
    if clashes:
        raise RuntimeError(f"layers start identical after init: {clashes[:3]}")
    return model


def versions() -> dict[str, str]:
    return {
        "anchorlab": anchorlab.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": socket.gethostname(),
    }


def run_experiment(
    config: RunConfig,
    out_dir: str | os.PathLike | None = None,
    on_step: StepCallback | None = None,
) -> dict:
    """Train one model as ``config`` says; returns the final metrics.

    With ``out_dir``, writes the run directory (``metrics.json`` last). Deterministic on
    the CPU for a given config and thread count.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").unlink(missing_ok=True)
        _write_json(out / "config.json", config.to_dict())

    started = time.perf_counter()
    data = make_datasets(config)
    model = build_model(config)
    on_checkpoint = None
    if out is not None and config.train.checkpoint_every:
        (out / "checkpoints").mkdir(exist_ok=True)

        def on_checkpoint(step: int, m: torch.nn.Module) -> None:
            save_weights(m, out / "checkpoints" / f"step_{step:07d}.safetensors")

    result = train(
        model,
        torch.from_numpy(data.train.tokens),
        torch.from_numpy(data.train.target),
        config.train,
        eval_sets=eval_sets(data),
        seed=config.seed,
        on_step=on_step,
        on_checkpoint=on_checkpoint,
    )

    final = result.final
    metrics = {
        SEEN_TEST: final[SEEN_TEST],
        INFERENTIAL: final[INFERENTIAL],
        SYMMETRIC: final[SYMMETRIC],
        TRAIN: final[TRAIN],
        "final_loss": final["loss"],
        "solution": classify_solution(final[SEEN_TEST], final[INFERENTIAL], final[SYMMETRIC]),
        "train_seconds": result.seconds,
        "total_seconds": time.perf_counter() - started,
        "steps": result.steps,
        "threads": torch.get_num_threads(),
        **versions(),
    }
    logger.info(
        "run done: gamma=%g depth=%d seed=%d -> %s (seen %.3f, inf %.3f, sym %.3f) in %.0fs",
        config.init.init_rate,
        config.model.n_layers,
        config.seed,
        metrics["solution"],
        metrics[SEEN_TEST],
        metrics[INFERENTIAL],
        metrics[SYMMETRIC],
        metrics["total_seconds"],
    )
    if out is not None:
        save_weights(model, out / "model.safetensors")
        _write_history(out / "history.csv", result.history)
        _write_json(out / "metrics.json", metrics)
    return metrics


def save_weights(model: torch.nn.Module, path: Path) -> None:
    # clone: tied tensors (a tied embedding and readout) are stored once under each name
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)


def load_run(run_dir: str | os.PathLike, weights: str = "model.safetensors"):
    """(config, model with the run's weights, metrics or None) from a run directory.

    Loading never re-initializes: the model is built, then every tensor is overwritten by
    the stored weights (a missing or extra tensor is an error).
    """
    run = Path(run_dir)
    config_path = run / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run} is not a run directory (no config.json)")
    config, metrics = read_run_files(run)

    weights_path = run / weights if not Path(weights).is_absolute() else Path(weights)
    if not weights_path.is_file():
        raise FileNotFoundError(f"{weights_path} is missing: the run did not finish")
    model = AnchorTransformer(config.model)
    try:
        model.load_state_dict(load_file(str(weights_path)), strict=True)
    except (RuntimeError, OSError, ValueError, SafetensorError) as error:
        reason = str(error).strip().splitlines()[0]
        raise RunDirectoryError(
            f"{weights_path} cannot be loaded into the model of {config_path} ({reason}); "
            "retrain the run or restore its files"
        ) from None
    model.eval()
    return config, model, metrics


def read_run_files(run_dir: Path) -> tuple[RunConfig, dict | None]:
    """A run directory's configuration and metrics (None while unfinished); a damaged or
    foreign ``config.json`` or ``metrics.json`` is refused naming the file."""
    config_path = run_dir / "config.json"
    try:
        config = run_config_from_dict(_read_json(config_path))
    except ConfigError as error:
        raise RunDirectoryError(f"{config_path}: {error}") from None
    metrics_path = run_dir / "metrics.json"
    metrics = _read_json(metrics_path) if metrics_path.is_file() else None
    return config, metrics


class RunDirectoryError(ValueError):
    """A run directory whose files are damaged or do not match each other."""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as error:
        raise RunDirectoryError(
            f"{path} is damaged ({error}); retrain the run or restore the file"
        ) from None
    return data


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _write_history(path: Path, history: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
