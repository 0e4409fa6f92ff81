"""Real-data validation: small initialization + large weight decay against large
initialization + small weight decay, over training-set sizes and seeds.

One run trains a GPT-2-style decoder (anchorlab's decoder with GPT-2's block: several heads,
GELU, biases, d_ff = 4 d_model, readout tied to the embedding, GPT-2's own pre-LN order) on
``n_train`` examples of SCAN, COGS or addition and reports exact-match accuracy in and out
of distribution. A sweep over (setting, n_train, seed) runs on the sweep engine, so it is
resumable and can run on several processes or on Ray; ``write_report`` draws the figure
(accuracy against training-set size, one line per setting, spread over seeds) and writes
``results.csv`` and ``summary.md``.

The two settings (the study gives no numbers for these data sets; these follow its
PrOntoQA pair): large initialization gamma 0.5 with weight decay 0.01, small initialization
gamma 0.7 with weight decay 0.1.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from anchorlab.init import apply_init_rate
from anchorlab.models.decoder import AnchorTransformer, ModelConfig
from anchorlab.realworld.datasets import (
    DATASETS,
    IN_DISTRIBUTION,
    OUT_OF_DISTRIBUTION,
    prepare,
)
from anchorlab.realworld.sequence import (
    encode_examples,
    evaluate_exact_match,
    exact_match,
    greedy_decode,
    sequence_loss,
)
from anchorlab.tasks.datafiles import DataFileError
from anchorlab.train.trainer import TrainConfig, train

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    """One arm of the comparison: an initialization rate and a weight decay."""

    name: str
    init_rate: float
    weight_decay: float

    @property
    def label(self) -> str:
        size = "small" if self.name.startswith("small") else "large"
        return f"{size} init (gamma {self.init_rate:g}) + wd {self.weight_decay:g}"


SMALL_INIT = Setting("small_init_large_wd", init_rate=0.7, weight_decay=0.1)
LARGE_INIT = Setting("large_init_small_wd", init_rate=0.5, weight_decay=0.01)
SETTINGS = {setting.name: setting for setting in (SMALL_INIT, LARGE_INIT)}


# -- presets -------------------------------------------------------------------------------

_CPU_MODEL = {
    "n_layers": 2,
    "n_heads": 4,
    "d_model": 64,
    "d_k": 64,
    "d_v": 64,
    "d_ff": 256,
    "activation": "gelu",
    "norm_position": "pre",
    "block_bias": True,
    "readout_bias": False,
    "tie_embedding": True,
    "arch": "gpt2",
}
_PAPER_MODEL = {
    "n_layers": 6,
    "n_heads": 8,
    "d_model": 512,
    "d_k": 512,
    "d_v": 512,
    "d_ff": 2048,
    "activation": "gelu",
    "norm_position": "pre",
    "block_bias": True,
    "readout_bias": False,
    "tie_embedding": True,
    "arch": "gpt2",
}


_SMOKE_MODEL = _CPU_MODEL | {"n_layers": 1, "n_heads": 2, "d_model": 32, "d_k": 32, "d_v": 32}
_SMOKE_MODEL["d_ff"] = 128


def _train(steps: int, batch_size: int, lr: float, device: str, evaluations: int = 4) -> dict:
    return {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "lr_start": 1e-5,
        "lr_end": 1e-5,
        "warmup_steps": max(1, steps // 20),
        "betas": (0.9, 0.98),
        "eps": 1e-8,
        "grad_clip": 1.0,
        "eval_every": max(1, steps // evaluations),
        "checkpoint_every": 0,
        "device": device,
    }


@dataclass(frozen=True)
class Preset:
    """A sweep: training-set sizes x seeds x settings, and everything a run needs."""

    dataset: str
    name: str
    description: str
    train_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    model: Mapping[str, Any]
    train: Mapping[str, Any]
    task: Mapping[str, Any]
    settings: tuple[str, ...] = (SMALL_INIT.name, LARGE_INIT.name)


PRESETS: dict[tuple[str, str], Preset] = {}

_SIZES = {
    "cpu": (_CPU_MODEL, "cpu"),
    "smoke": (_SMOKE_MODEL, "cpu"),
    "paper": (_PAPER_MODEL, "cuda"),
}
"""Model and device of each preset name."""
_SMOKE_RUN = {"seeds": (0,), "steps": 30, "batch_size": 32, "lr": 3e-3, "evaluations": 1}


def _register(
    dataset: str,
    name: str,
    description: str,
    *,
    train_sizes: tuple[int, ...],
    seeds: tuple[int, ...],
    steps: int,
    batch_size: int,
    lr: float,
    evaluations: int = 4,
    task: Mapping[str, Any],
) -> None:
    """Adds ``PRESETS[(dataset, name)]`` with the model and device of ``name`` (cpu, smoke or
    paper) and the schedule of ``_train``."""
    model, device = _SIZES[name]
    train_block = _train(steps, batch_size, lr, device, evaluations)
    PRESETS[(dataset, name)] = Preset(
        dataset, name, description, train_sizes, seeds, model, train_block, task
    )


_SCAN_TASK = {"split": "addprim_turn_left", "source": "official", "n_train_eval": 1000}
_register(
    "scan",
    "cpu",
    "addprim_turn_left, 2-layer d_model 64, 1000 steps of 64; 3 sizes x 2 seeds",
    train_sizes=(1000, 4000, 21890),
    seeds=(0, 1),
    steps=1000,
    batch_size=64,
    lr=1e-3,
    task=_SCAN_TASK,
)
_register(
    "scan",
    "smoke",
    "1-layer d_model 32, 30 steps; sizes 200 and 400, 1 seed: seconds, for tests",
    train_sizes=(200, 400),
    task=_SCAN_TASK | {"n_train_eval": 100},
    **_SMOKE_RUN,
)
_register(
    "scan",
    "paper",
    "addprim_turn_left, 6-layer d_model 512, 20k steps of 256; 5 sizes x 5 seeds (GPU)",
    train_sizes=(1000, 2000, 5000, 10000, 21890),
    seeds=(0, 1, 2, 3, 4),
    steps=20_000,
    batch_size=256,
    lr=3e-4,
    evaluations=20,
    task=_SCAN_TASK,
)
_register(
    "cogs",
    "cpu",
    "2-layer d_model 64, 1200 steps of 32; sizes 4000 and 24155 x 2 seeds; test "
    "sample 500, gen 20 per category",
    train_sizes=(4000, 24155),
    seeds=(0, 1),
    steps=1200,
    batch_size=32,
    lr=1e-3,
    task={"n_test": 500, "per_category": 20, "eval_seed": 0},
)
_register(
    "cogs",
    "smoke",
    "1-layer d_model 32, 30 steps; 200 examples, 1 seed; 50 test, 2 gen per category",
    train_sizes=(200,),
    task={"n_test": 50, "per_category": 2, "eval_seed": 0},
    **_SMOKE_RUN,
)
_register(
    "cogs",
    "paper",
    "6-layer d_model 512, 30k steps of 128; 5 sizes x 3 seeds; full test and gen (GPU)",
    train_sizes=(2000, 5000, 10000, 20000, 24155),
    seeds=(0, 1, 2),
    steps=30_000,
    batch_size=128,
    lr=3e-4,
    evaluations=10,
    task={"n_test": None, "per_category": None, "eval_seed": 0},
)
_ADDITION_TASK = {"max_operand": 999, "held_out": (400, 600), "reverse_sum": True}
_register(
    "addition",
    "cpu",
    "2-layer d_model 64, 1500 steps of 64; 3 sizes x 2 seeds; 1000 test pairs each",
    train_sizes=(500, 1500, 5000),
    seeds=(0, 1),
    steps=1500,
    batch_size=64,
    lr=1e-3,
    task=_ADDITION_TASK | {"n_test": 1000},
)
_register(
    "addition",
    "smoke",
    "1-layer d_model 32, 30 steps; sizes 200 and 400, 1 seed: seconds, for tests",
    train_sizes=(200, 400),
    task=_ADDITION_TASK | {"n_test": 100},
    **_SMOKE_RUN,
)
_register(
    "addition",
    "paper",
    "6-layer d_model 512, 20k steps of 256; 5 sizes x 5 seeds; 10k test pairs (GPU)",
    train_sizes=(3000, 10_000, 30_000, 100_000, 300_000),
    seeds=(0, 1, 2, 3, 4),
    steps=20_000,
    batch_size=256,
    lr=3e-4,
    evaluations=20,
    task=_ADDITION_TASK | {"n_test": 10_000},
)


def preset(dataset: str, name: str) -> Preset:
    """The named preset of a dataset; refuses unknown names."""
    if dataset not in DATASETS:
        raise DataFileError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
    if (dataset, name) not in PRESETS:
        names = sorted(n for d, n in PRESETS if d == dataset)
        raise DataFileError(f"unknown preset {name!r} for {dataset}; one of {', '.join(names)}")
    return PRESETS[(dataset, name)]


# -- one run -------------------------------------------------------------------------------

GREEDY_SAMPLE = 24
"""Examples of the out-of-distribution set decoded greedily in every run, as a check."""


def run_config(
    preset_: Preset,
    setting: str,
    n_train: int,
    seed: int,
    data_dir: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """The fully resolved, JSON-ready configuration of one run."""
    if setting not in SETTINGS:
        raise DataFileError(f"unknown setting {setting!r}; one of {', '.join(SETTINGS)}")
    arm = SETTINGS[setting]
    train_block = dict(preset_.train) | {"weight_decay": arm.weight_decay}
    if device is not None:
        train_block["device"] = device
    return {
        "dataset": preset_.dataset,
        "preset": preset_.name,
        "setting": setting,
        "init_rate": arm.init_rate,
        "weight_decay": arm.weight_decay,
        "n_train": n_train,
        "seed": seed,
        "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
        "model": dict(preset_.model),
        "train": train_block,
        "task": copy.deepcopy(dict(preset_.task)),
    }


def run_realworld(config: Mapping[str, Any], run_dir: str | os.PathLike | None = None) -> dict:
    """Train and evaluate one run (``run_config`` output); returns JSON-ready metrics.

    Metrics: exact-match ``train_accuracy`` (on the first examples of the draw),
    ``in_distribution_accuracy`` and ``out_of_distribution_accuracy``, per-category
    accuracies for COGS (``gen/<category>_accuracy``), ``greedy_agreement`` (share of a
    sample of out-of-distribution examples where greedy decoding agrees with the one-pass
    exact match: 1.0 unless arithmetic ties break differently), loss and timing. With
    ``run_dir``, writes ``history.csv`` and ``predictions.txt`` (the greedy sample).
    """
    started = time.perf_counter()
    data = prepare(config)
    vocabulary = data.vocabulary
    encoded_train = encode_examples(data.train, vocabulary, data.seq_len)
    encoded_sets = {
        name: encode_examples(examples, vocabulary, data.seq_len)
        for name, examples in data.eval_sets.items()
    }
    n_check = min(len(data.train), 1000)
    eval_sets = {"train": _head(encoded_train, n_check).eval_set()}
    eval_sets.update({name: encoded.eval_set() for name, encoded in encoded_sets.items()})

    model_config = ModelConfig(vocab_size=len(vocabulary), seq_len=data.seq_len, **config["model"])
    model = AnchorTransformer(model_config)
    generator = torch.Generator().manual_seed(config["seed"])
    apply_init_rate(model, config["init_rate"], generator=generator)

    train_config = TrainConfig(
        **{k: tuple(v) if k == "betas" else v for k, v in config["train"].items()}
    )
    result = train(
        model,
        encoded_train.tokens,
        encoded_train.target,
        train_config,
        eval_sets=eval_sets,
        seed=config["seed"],
        loss_fn=sequence_loss,
        evaluate_fn=evaluate_exact_match,
    )
    model.cpu()

    final = result.final
    metrics: dict[str, Any] = {
        "train_accuracy": final["train"],
        "in_distribution_accuracy": final[IN_DISTRIBUTION],
        "out_of_distribution_accuracy": final[OUT_OF_DISTRIBUTION],
    }
    metrics.update({f"{n}_accuracy": v for n, v in final.items() if n.startswith("gen/")})
    agreement, predictions = _greedy_check(
        model, data.eval_sets[OUT_OF_DISTRIBUTION], encoded_sets[OUT_OF_DISTRIBUTION], vocabulary
    )
    metrics.update(
        {
            "greedy_agreement": agreement,
            "final_loss": final["loss"],
            "pool_size": data.pool_size,
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "train_seconds": result.seconds,
            "total_seconds": time.perf_counter() - started,
            "steps": result.steps,
        }
    )
    logger.info(
        "%s %s n=%d seed=%d: train %.3f, in-dist %.3f, out-of-dist %.3f (%.0f s)",
        config["dataset"],
        config["setting"],
        config["n_train"],
        config["seed"],
        metrics["train_accuracy"],
        metrics["in_distribution_accuracy"],
        metrics["out_of_distribution_accuracy"],
        metrics["total_seconds"],
    )
    if run_dir is not None:
        out = Path(run_dir)
        out.mkdir(parents=True, exist_ok=True)
        _write_rows(out / "history.csv", result.history)
        (out / "predictions.txt").write_text("\n".join(predictions) + "\n")
    return metrics


def _head(encoded, n: int):
    return type(encoded)(encoded.tokens[:n], encoded.target[:n], encoded.source_lengths[:n])


def _greedy_check(model, examples, encoded, vocabulary) -> tuple[float, list[str]]:
    """Greedy-decode the first examples of a set; compare with the one-pass exact match."""
    n = min(GREEDY_SAMPLE, len(examples))
    if n == 0:
        return float("nan"), []
    sample = examples[:n]
    sources = [vocabulary.encode(source) for source, _ in sample]
    longest = max(len(target) for _, target in sample) + 1
    decoded = greedy_decode(model, sources, vocabulary, max_new_tokens=longest)
    one_pass = exact_match(model, encoded.tokens[:n], encoded.target[:n]).tolist()
    lines, agree = [], 0
    for (source, target), ids, hit in zip(sample, decoded, one_pass, strict=True):
        output = vocabulary.decode(ids)
        greedy_hit = tuple(output) == tuple(target)
        agree += greedy_hit == hit
        mark = "OK " if greedy_hit else "ERR"
        lines.append(
            f"{mark} IN: {' '.join(source)} | OUT: {' '.join(output)} | "
            f"EXPECTED: {' '.join(target)}"
        )
    return agree / n, lines


# -- the sweep -----------------------------------------------------------------------------


def make_sweep(
    preset_: Preset,
    data_dir: str | None = None,
    device: str | None = None,
    train_sizes: tuple[int, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
):
    """The sweep engine's grid for a preset: axes setting x n_train x seed."""
    from anchorlab.sweeps import Job, Sweep

    def make_job(cell: dict) -> Job:
        config = run_config(
            preset_, cell["setting"], cell["n_train"], cell["seed"], data_dir, device
        )
        label = f"{cell['setting']}-n{cell['n_train']}-s{cell['seed']}"
        return Job(config, run_realworld, label=label)

    axes = {
        "setting": list(preset_.settings),
        "n_train": list(train_sizes or preset_.train_sizes),
        "seed": list(seeds or preset_.seeds),
    }
    spec = {"dataset": preset_.dataset, "preset": preset_.name, "settings": _settings_spec()}
    return Sweep(f"realworld-{preset_.dataset}-{preset_.name}", axes, make_job, spec=spec)


def _settings_spec() -> dict:
    return {
        name: {"init_rate": s.init_rate, "weight_decay": s.weight_decay}
        for name, s in SETTINGS.items()
    }


def run_realworld_sweep(
    dataset: str,
    preset_name: str,
    out_dir: str | os.PathLike,
    data_dir: str | None = None,
    *,
    device: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    backend: str = "local",
    train_sizes: tuple[int, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    on_progress: Callable | None = None,
) -> list[dict]:
    """Run (or resume) a preset's sweep into ``out_dir`` and write its report; returns one
    row per finished run (cell values + metrics). Checks the data files before any run."""
    from anchorlab.sweeps import SweepError, run_sweep

    preset_ = preset(dataset, preset_name)
    probe = run_config(preset_, preset_.settings[0], min(preset_.train_sizes), 0, data_dir)
    prepare(probe)  # a missing or malformed file stops here, before workers start

    sweep = make_sweep(preset_, data_dir, device, train_sizes, seeds)
    result = run_sweep(
        sweep, out_dir, backend, workers=workers, threads=threads, on_progress=on_progress
    )
    rows = [
        dict(cell) | dict(record.metrics)
        for cell, record in zip(result.cells, result.records, strict=True)
        if record is not None
    ]
    if rows:
        write_report(rows, preset_, Path(out_dir))
    if result.failures:
        cell, message = result.failures[0]
        raise SweepError(
            f"{len(result.failures)} of {len(result.cells)} runs failed (first: {cell}: "
            f"{message}); fix the cause and rerun: finished runs are kept"
        )
    return rows


# -- report --------------------------------------------------------------------------------

ACCURACIES = ("train_accuracy", "in_distribution_accuracy", "out_of_distribution_accuracy")


def aggregate(rows: list[dict]) -> list[dict]:
    """Per (setting, n_train): mean, min and max over seeds of each accuracy."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["setting"], row["n_train"]), []).append(row)
    summary = []
    for (setting, n_train), members in sorted(groups.items()):
        entry: dict[str, Any] = {"setting": setting, "n_train": n_train, "runs": len(members)}
        for name in ACCURACIES:
            values = [m[name] for m in members]
            entry[f"{name}_mean"] = sum(values) / len(values)
            entry[f"{name}_min"] = min(values)
            entry[f"{name}_max"] = max(values)
        summary.append(entry)
    return summary


def verdict(summary: list[dict]) -> str:
    """One sentence: at how many sizes small init beat large init out of distribution."""
    by_size: dict[int, dict[str, float]] = {}
    for entry in summary:
        key = "out_of_distribution_accuracy_mean"
        by_size.setdefault(entry["n_train"], {})[entry["setting"]] = entry[key]
    compared = {n: v for n, v in by_size.items() if SMALL_INIT.name in v and LARGE_INIT.name in v}
    if not compared:
        return "no training size has finished runs of both settings"
    better = sum(v[SMALL_INIT.name] > v[LARGE_INIT.name] for v in compared.values())
    small = sum(v[SMALL_INIT.name] for v in compared.values()) / len(compared)
    large = sum(v[LARGE_INIT.name] for v in compared.values()) / len(compared)
    return (
        f"small init + large weight decay had the higher mean out-of-distribution accuracy "
        f"at {better} of {len(compared)} training sizes (averaged over sizes: {small:.3f} "
        f"against {large:.3f} for large init + small weight decay)"
    )


def write_report(rows: list[dict], preset_: Preset, out: Path) -> None:
    """``results.csv`` (one row per run), ``summary.json``, ``summary.md`` and
    ``figure.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    if not rows:
        logger.warning("no finished runs: nothing to report")
        return
    rows = sorted(rows, key=lambda r: (r["setting"], r["n_train"], r["seed"]))
    _write_rows(out / "results.csv", rows)
    summary = aggregate(rows)
    sentence = verdict(summary)
    record = {
        "dataset": preset_.dataset,
        "preset": preset_.name,
        "description": preset_.description,
        "settings": _settings_spec(),
        "summary": summary,
        "verdict": sentence,
    }
    categories = _per_category(rows)
    if categories:
        record["per_category"] = categories
    (out / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "summary.md").write_text(_markdown(preset_, summary, sentence, categories))
    plot(summary, preset_, out / "figure.png")
    logger.debug("%s: %s", preset_.dataset, sentence)


def _per_category(rows: list[dict]) -> dict:
    """For COGS: generalization category -> setting -> mean accuracy over the runs at the
    largest training size (empty for data sets without categories)."""
    largest = max(row["n_train"] for row in rows)
    names = sorted({k for row in rows for k in row if k.startswith("gen/")})
    table: dict[str, dict[str, float]] = {}
    for name in names:
        category = name.removeprefix("gen/").removesuffix("_accuracy")
        for setting in SETTINGS:
            values = [r[name] for r in rows if r["setting"] == setting and r["n_train"] == largest]
            if values:
                table.setdefault(category, {})[setting] = sum(values) / len(values)
    return {"n_train": largest, "accuracy": table} if table else {}


def _markdown(
    preset_: Preset, summary: list[dict], sentence: str, categories: dict | None = None
) -> str:
    lines = [
        f"# {preset_.dataset}, preset {preset_.name}",
        "",
        preset_.description + ".",
        "",
        "Exact-match accuracy, mean over seeds (min..max).",
        "",
        "| setting | n_train | runs | train | in-distribution | out-of-distribution |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in summary:
        cells = [
            f"{e[f'{n}_mean']:.3f} ({e[f'{n}_min']:.3f}..{e[f'{n}_max']:.3f})" for n in ACCURACIES
        ]
        label = SETTINGS[e["setting"]].label
        lines.append(f"| {label} | {e['n_train']} | {e['runs']} | " + " | ".join(cells) + " |")
    lines += ["", sentence[0].upper() + sentence[1:] + ".", ""]
    if categories:
        settings = [name for name in SETTINGS if name in preset_.settings]
        lines += [
            f"Out-of-distribution accuracy per COGS category at n_train = "
            f"{categories['n_train']} (mean over seeds).",
            "",
            "| category | " + " | ".join(SETTINGS[n].label for n in settings) + " |",
            "| --- |" + " ---: |" * len(settings),
        ]
        for category, values in categories["accuracy"].items():
            cells = [f"{values[n]:.3f}" if n in values else "" for n in settings]
            lines.append(f"| {category} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(summary: list[dict], preset_: Preset, path: Path) -> None:
    """Accuracy against training-set size, one line per setting, band = min..max over
    seeds; one panel in distribution, one out of distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("in_distribution_accuracy", "in distribution"),
        ("out_of_distribution_accuracy", "out of distribution"),
    )
    if preset_.dataset == "scan":
        panels = (("in_distribution_accuracy", "training commands"),) + panels[1:]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for axis, (metric, title) in zip(axes, panels, strict=True):
        for setting in preset_.settings:
            entries = [e for e in summary if e["setting"] == setting]
            if not entries:
                continue
            sizes = [e["n_train"] for e in entries]
            mean = [e[f"{metric}_mean"] for e in entries]
            low = [e[f"{metric}_min"] for e in entries]
            high = [e[f"{metric}_max"] for e in entries]
            (line,) = axis.plot(sizes, mean, marker="o", label=SETTINGS[setting].label)
            axis.fill_between(sizes, low, high, color=line.get_color(), alpha=0.2)
        axis.set_xscale("log")
        sizes = sorted({e["n_train"] for e in summary})
        axis.set_xticks(sizes, [str(n) for n in sizes])
        axis.minorticks_off()
        axis.set_xlabel("training examples")
        axis.set_title(title)
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("exact-match accuracy")
    axes[-1].legend(fontsize=8, loc="best")
    figure.suptitle(f"{preset_.dataset} ({preset_.name} preset)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _write_rows(path: Path, rows: list[dict]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [key for key in row if key not in fields]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value
