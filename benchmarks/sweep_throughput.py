"""Sweep throughput: a plain one-model-at-a-time PyTorch loop against anchorlab's sweep path.

Both sides train the same models (same configuration, same data, the same initial weights,
the same AdamW / warm-up + cosine / clipping recipe, the same evaluation cadence) on a small
grid of the ``cpu`` preset:

- **baseline**: the obvious loop in this process: a decoder written plainly (every layer
  and the readout computed at every position, the loss taken at the last one), one model
  after the other, torch's default thread count;
- **anchorlab**: ``run_sweep`` into a fresh directory with the local backend (one worker
  process per core, one thread each), the package's model and trainer, run directories and
  store included.

Prints models per minute for both, the matmul GFLOP/s each achieved (counted with torch's
FLOP counter on one training step and one evaluation pass) against a measured large-matmul
peak, the solution label of every model on both sides, and on its last line
``speedup: X.XX`` (anchorlab models/minute over baseline models/minute). Exits 1 if a
solution label differs.

    python benchmarks/sweep_throughput.py                  # gamma 0.4,0.8 x seeds 0,1, depth 2
    python benchmarks/sweep_throughput.py --steps 600      # quicker, labels less meaningful

On a shared machine both sides slow down with the others' load: compare runs made under
the same conditions.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from anchorlab.config import preset, with_overrides
from anchorlab.sweeps import Sweep, anchor_job, run_sweep
from anchorlab.train.run import (
    INFERENTIAL,
    SEEN_TEST,
    SYMMETRIC,
    build_model,
    classify_solution,
    eval_sets,
    make_datasets,
)
from anchorlab.train.trainer import learning_rate

# -- the baseline: a decoder written the obvious way ---------------------------------------


class PlainAttention(nn.Module):
    def __init__(self, d_model, d_k, d_v, seq_len):
        super().__init__()
        self.query = nn.Linear(d_model, d_k, bias=False)
        self.key = nn.Linear(d_model, d_k, bias=False)
        self.value = nn.Linear(d_model, d_v, bias=False)
        self.output = nn.Linear(d_v, d_model, bias=False)
        self.register_buffer("mask", torch.ones(seq_len, seq_len).tril().bool(), persistent=False)

    def forward(self, x):
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        T = x.shape[1]
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        return self.output(scores.softmax(-1) @ v)


class PlainFeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class PlainBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attn_norm = nn.LayerNorm(c.d_model)
        self.attn = PlainAttention(c.d_model, c.d_k, c.d_v, c.seq_len)
        self.ffn_norm = nn.LayerNorm(c.d_model)
        self.ffn = PlainFeedForward(c.d_model, c.d_ff)

    def forward(self, x):
        x = x + self.attn(self.attn_norm(x))
        return x + self.ffn(self.ffn_norm(x))


class PlainDecoder(nn.Module):
    """Pre-LN GELU decoder (the cpu preset's), every position computed, logits (B, T, V)."""

    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_embed = nn.Embedding(c.seq_len, c.d_model)
        self.blocks = nn.ModuleList(PlainBlock(c) for _ in range(c.n_layers))
        self.final_norm = nn.LayerNorm(c.d_model)
        self.readout = nn.Linear(c.d_model, c.vocab_size, bias=True)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos_embed(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.readout(self.final_norm(x))


def plain_model(config) -> PlainDecoder:
    """The baseline model with exactly the initial weights anchorlab gives this config."""
    c = config.model
    if (c.norm_position, c.activation, c.n_heads, c.block_bias) != ("pre", "gelu", 1, False):
        raise SystemExit("the baseline implements the cpu preset's decoder (pre-LN, GELU, 1 head)")
    model = PlainDecoder(c)
    model.load_state_dict(build_model(config).state_dict(), strict=True)
    return model


def plain_train(config) -> dict[str, float]:
    """One run, written as a plain PyTorch training loop."""
    data = make_datasets(config)
    model = plain_model(config)
    tokens = torch.from_numpy(data.train.tokens)
    target = torch.from_numpy(data.train.target)
    sets = eval_sets(data)
    recipe = config.train
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": recipe.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=recipe.lr_start,
        betas=recipe.betas,
        eps=recipe.eps,
    )
    generator = torch.Generator().manual_seed(config.seed)
    order, cursor = torch.randperm(len(target), generator=generator), 0
    accuracy: dict[str, float] = {}
    for step in range(1, recipe.steps + 1):
        if cursor + recipe.batch_size > len(target):
            order, cursor = torch.randperm(len(target), generator=generator), 0
        batch = order[cursor : cursor + recipe.batch_size]
        cursor += recipe.batch_size
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(recipe, step - 1)
        logits = model(tokens[batch])[:, -1]
        loss = F.cross_entropy(logits, target[batch])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        optimizer.step()
        if step % recipe.eval_every == 0 or step == recipe.steps:
            model.eval()
            with torch.no_grad():
                for name, s in sets.items():
                    predicted = model(s.tokens)[:, -1].argmax(-1)
                    accuracy[name] = (predicted == s.target).float().mean().item()
            model.train()
    return accuracy


# -- FLOPs -----------------------------------------------------------------------------------


def step_flops(model: nn.Module, config, last_only: bool) -> tuple[int, int]:
    """(matmul FLOPs of one training step, of one evaluation), as each side runs them: the
    plain loop evaluates every set (the held-out one twice, once per target), anchorlab
    runs each distinct token tensor once."""
    data = make_datasets(config)
    batch = torch.from_numpy(data.train.tokens[: config.train.batch_size])
    target = torch.from_numpy(data.train.target[: config.train.batch_size])
    with FlopCounterMode(display=False) as counter:
        logits = model(batch)
        logits = logits if last_only else logits[:, -1]
        F.cross_entropy(logits, target).backward()
    train = counter.get_total_flops()
    sets = list(eval_sets(data).values())
    if last_only:
        sets = list({id(s.tokens): s for s in sets}.values())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        for s in sets:
            model(s.tokens)
    return train, counter.get_total_flops()


def run_flops(config, per_step: int, per_eval: int) -> float:
    evaluations = math.ceil(config.train.steps / config.train.eval_every)
    return config.train.steps * per_step + evaluations * per_eval


def matmul_peak() -> float:
    """GFLOP/s of a large float32 matmul with all of torch's threads (best of 5)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * 2048**3 / best / 1e9


# -- the comparison --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gammas", default="0.4,0.8", help="comma list (default 0.4,0.8)")
    parser.add_argument("--seeds", default="0,1", help="comma list (default 0,1)")
    parser.add_argument("--depth", type=int, default=2, help="layers (default 2)")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--workers", type=int, default=None, help="sweep workers (default: cores)")
    args = parser.parse_args()

    overrides: dict = {"depth": args.depth}
    if args.steps:
        overrides["train.steps"] = args.steps
        overrides["train.eval_every"] = min(500, args.steps)
        overrides["train.warmup_steps"] = min(100, args.steps)
    base = with_overrides(preset("cpu"), overrides)
    cells = [(float(g), int(s)) for g in args.gammas.split(",") for s in args.seeds.split(",")]
    configs = [with_overrides(base, {"gamma": g, "seed": s}) for g, s in cells]
    cores = os.cpu_count() or 1
    print(
        f"grid: {len(configs)} cpu-preset models (gamma {args.gammas} x seeds {args.seeds}, "
        f"depth {args.depth}, {base.train.steps} steps of batch {base.train.batch_size}); "
        f"{cores} cores; torch {torch.__version__}",
        flush=True,
    )

    peak = matmul_peak()
    plain_step, plain_eval = step_flops(plain_model(configs[0]), configs[0], last_only=False)
    fast_step, fast_eval = step_flops(build_model(configs[0]), configs[0], last_only=True)
    print(f"matmul peak: {peak:.1f} GFLOP/s (2048x2048 float32, {torch.get_num_threads()} threads)")
    print(
        f"matmul FLOPs per training step: baseline {plain_step / 1e6:.1f} M, "
        f"anchorlab {fast_step / 1e6:.1f} M",
        flush=True,
    )

    plain_labels = []
    started = time.perf_counter()
    for config in configs:
        accuracy = plain_train(config)
        plain_labels.append(
            classify_solution(accuracy[SEEN_TEST], accuracy[INFERENTIAL], accuracy[SYMMETRIC])
        )
        print(
            f"  baseline  gamma {config.init.init_rate:g} seed {config.seed}: "
            f"{plain_labels[-1]} ({time.perf_counter() - started:.0f} s so far)",
            flush=True,
        )
    plain_seconds = time.perf_counter() - started

    jobs = {(c.init.init_rate, c.seed): anchor_job(c) for c in configs}
    sweep = Sweep(
        "benchmark",
        {"cell": list(range(len(configs)))},
        lambda cell: list(jobs.values())[cell["cell"]],
    )
    with tempfile.TemporaryDirectory(prefix="anchorlab-bench-") as out:
        started = time.perf_counter()
        result = run_sweep(sweep, out, workers=args.workers or min(cores, len(configs)))
        sweep_seconds = time.perf_counter() - started
    if not result.complete:
        print(f"the sweep failed: {result.failures}", file=sys.stderr)
        return 1
    sweep_labels = [record.solution for record in result.records]
    for config, label in zip(configs, sweep_labels, strict=True):
        print(f"  anchorlab gamma {config.init.init_rate:g} seed {config.seed}: {label}")

    def line(name, seconds, per_step, per_eval):
        flops = sum(run_flops(c, per_step, per_eval) for c in configs)
        rate = flops / seconds / 1e9
        models_per_minute = len(configs) / seconds * 60
        print(
            f"{name:9} {models_per_minute:6.2f} models/min  ({seconds:6.1f} s for "
            f"{len(configs)})  {rate:6.1f} GFLOP/s = {100 * rate / peak:4.1f}% of peak"
        )
        return models_per_minute

    plain_rate = line("baseline", plain_seconds, plain_step, plain_eval)
    fast_rate = line("anchorlab", sweep_seconds, fast_step, fast_eval)
    same = plain_labels == sweep_labels
    print(
        f"solution labels identical: {'yes' if same else 'NO'} "
        f"(baseline {plain_labels}, anchorlab {sweep_labels})"
    )
    print(f"speedup: {fast_rate / plain_rate:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
