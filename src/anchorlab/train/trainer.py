"""One training run: AdamW, warm-up then cosine, clipping, cross-entropy at the last position.

The trainer knows nothing about tasks: it takes a training set of (tokens, target) tensors
and named evaluation sets, and reports accuracy on each. On the CPU a run is
bit-reproducible for a given seed and thread count.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, model_validator
from pydantic.dataclasses import dataclass as validated_dataclass
from torch import nn


class DeviceError(ValueError):
    """The requested device is not available on this machine."""


logger = logging.getLogger(__name__)


@validated_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class TrainConfig:
    """Optimizer, schedule and evaluation cadence of one run."""

    steps: int = 3000
    """Optimizer steps in all (warm-up included)."""
    batch_size: int = 256
    """Sequences per step; each epoch visits the training set in a fresh random order."""
    lr: float = 1e-3
    """Peak learning rate, reached at the end of warm-up."""
    lr_start: float = 1e-5
    """Learning rate at step 0 (warm-up rises linearly from here)."""
    lr_end: float = 1e-5
    """Learning rate at the last step (cosine decay ends here)."""
    warmup_steps: int = 100
    """Linear warm-up length in steps."""
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables)."""
    eval_every: int = 500
    """Evaluate (and record a history row) every this many steps, and at the end."""
    checkpoint_every: int = 0
    """Save weights every this many steps (0: only the final weights)."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``cuda:N``."""

    @model_validator(mode="after")
    def _check(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must lie in 0..steps ({self.steps})")
        if self.lr <= 0 or self.lr_start < 0 or self.lr_end < 0:
            raise ValueError("learning rates must be positive")
        if self.eval_every < 1 or self.checkpoint_every < 0:
            raise ValueError("eval_every must be >= 1 and checkpoint_every >= 0")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        return self


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up from ``lr_start`` to ``lr``, then cosine decay to ``lr_end``."""
    if step < config.warmup_steps:
        return config.lr_start + (config.lr - config.lr_start) * step / config.warmup_steps
    decay_steps = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)
    return config.lr_end + 0.5 * (config.lr - config.lr_end) * (1 + math.cos(math.pi * progress))


@dataclass
class EvalSet:
    """Sequences and the labels to score them against; several sets may share tokens."""

    tokens: torch.Tensor
    target: torch.Tensor


@torch.no_grad()
def evaluate(
    model: nn.Module, sets: Mapping[str, EvalSet], batch_size: int = 4096
) -> dict[str, float]:
    """Accuracy of the arg-max prediction on each set; shared token tensors run once."""
    was_training = model.training
    model.eval()
    predictions: dict[int, torch.Tensor] = {}
    accuracy = {}
    for name, data in sets.items():
        if id(data.tokens) not in predictions:
            chunks = [model(chunk).argmax(-1) for chunk in data.tokens.split(batch_size)]
            predictions[id(data.tokens)] = torch.cat(chunks)
        hits = predictions[id(data.tokens)] == data.target
        accuracy[name] = hits.float().mean().item() if len(hits) else float("nan")
    model.train(was_training)
    return accuracy


StepCallback = Callable[[int], None]
CheckpointCallback = Callable[[int, nn.Module], None]
LossFunction = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
EvaluateFunction = Callable[[nn.Module, Mapping[str, EvalSet]], dict[str, float]]


def last_position_loss(model: nn.Module, tokens: torch.Tensor, target: torch.Tensor):
    """Cross-entropy of the last-position logits against one target token per sequence."""
    return F.cross_entropy(model(tokens), target)


@dataclass
class TrainResult:
    history: list[dict]  # one row per evaluation: step, lr, loss, accuracies
    final: dict[str, float]
    seconds: float
    steps: int


def train(
    model: nn.Module,
    tokens: torch.Tensor,
    target: torch.Tensor,
    config: TrainConfig,
    eval_sets: Mapping[str, EvalSet] | None = None,
    seed: int = 0,
    on_step: StepCallback | None = None,
    on_checkpoint: CheckpointCallback | None = None,
    loss_fn: LossFunction = last_position_loss,
    evaluate_fn: EvaluateFunction = evaluate,
) -> TrainResult:
    """Train ``model`` in place to predict ``target`` from ``tokens`` (last position).

    ``loss_fn(model, tokens, target)`` and ``evaluate_fn(model, eval_sets)`` replace the
    last-position loss and accuracy for other objectives (e.g. a loss over output tokens).
    """
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' asked for but torch sees no GPU: use --device cpu")
    model.to(device)
    tokens, target = tokens.to(device), target.to(device)
    moved: dict[int, torch.Tensor] = {}  # sets sharing tokens keep sharing them on the device
    eval_sets = {
        name: EvalSet(moved.setdefault(id(s.tokens), s.tokens.to(device)), s.target.to(device))
        for name, s in (eval_sets or {}).items()
    }

    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr_start,
        betas=config.betas,
        eps=config.eps,
    )
    order = torch.Generator(device="cpu").manual_seed(seed)
    n = len(target)
    permutation, cursor = torch.randperm(n, generator=order).to(device), 0

    history: list[dict] = []
    started = time.perf_counter()
    model.train()
    for step in range(1, config.steps + 1):
        if cursor + config.batch_size > n:
            permutation, cursor = torch.randperm(n, generator=order).to(device), 0
        batch = permutation[cursor : cursor + config.batch_size]
        cursor += config.batch_size

        lr = learning_rate(config, step - 1)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = loss_fn(model, tokens[batch], target[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()

        if step % config.eval_every == 0 or step == config.steps:
            row = {"step": step, "lr": lr, "loss": loss.item()}
            row.update(evaluate_fn(model, eval_sets))
            row["seconds"] = time.perf_counter() - started
            history.append(row)
            logger.debug("step %d: %s", step, row)
        if on_checkpoint and config.checkpoint_every and step % config.checkpoint_every == 0:
            on_checkpoint(step, model)
        if on_step:
            on_step(step)

    final = {k: v for k, v in history[-1].items() if k not in ("step", "lr", "seconds")}
    return TrainResult(history, final, time.perf_counter() - started, config.steps)
