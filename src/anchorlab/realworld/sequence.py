"""Sequence-to-sequence with the study's decoder-only model: encoding, loss, decoding, metrics.

An example (source, target) becomes one token sequence ``source SEP target EOS``, padded on
the right with PAD. The loss is the cross-entropy of the next-token prediction at the
positions that predict ``target`` and ``EOS``; nothing is learned about the source. Right
padding never reaches a real position through causal attention, so no attention mask is
needed.

Exact match is the share of examples whose greedy decoding reproduces the whole target and
then stops. ``exact_match`` computes it in one teacher-forced pass: greedy decoding of an
example reproduces the target exactly when the arg-max at every target position (and at the
EOS position) equals the target token, since each step then sees the same prefix as the
teacher-forced pass. ``greedy_decode`` runs the decoding itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from anchorlab.train.trainer import EvalSet

logger = logging.getLogger(__name__)

PAD, SEP, EOS = "<pad>", "<sep>", "<eos>"
IGNORE = -100
"""Target value of positions that carry no loss."""


@dataclass(frozen=True)
class Vocabulary:
    """Token strings <-> ids; ids 0, 1, 2 are PAD, SEP and EOS."""

    tokens: tuple[str, ...]

    @classmethod
    def from_examples(cls, examples: Iterable[tuple[Sequence[str], Sequence[str]]]) -> Vocabulary:
        """Every token of sources and targets, sorted, after the three special tokens."""
        seen: set[str] = set()
        for source, target in examples:
            seen.update(source)
            seen.update(target)
        seen -= {PAD, SEP, EOS}
        return cls((PAD, SEP, EOS, *sorted(seen)))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def index(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.tokens)}

    def encode(self, words: Sequence[str]) -> list[int]:
        """Ids of ``words``; refuses a token the vocabulary lacks."""
        index = self.index
        missing = [word for word in words if word not in index]
        if missing:
            raise ValueError(f"token {missing[0]!r} is not in the vocabulary")
        return [index[word] for word in words]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[i] for i in ids]


@dataclass
class EncodedExamples:
    """Examples as model input: ``tokens`` (N, T) ids, ``target`` (N, T) next-token labels
    (IGNORE outside the target and EOS positions), ``source_lengths`` (N,)."""

    tokens: torch.Tensor
    target: torch.Tensor
    source_lengths: torch.Tensor

    def eval_set(self) -> EvalSet:
        return EvalSet(self.tokens, self.target)

    def __len__(self) -> int:
        return len(self.tokens)


def encode_examples(
    examples: Sequence[tuple[Sequence[str], Sequence[str]]],
    vocabulary: Vocabulary,
    length: int | None = None,
) -> EncodedExamples:
    """``source SEP target EOS`` per example, right-padded to ``length`` (default: the
    longest). Refuses an example longer than ``length``."""
    ids = [(vocabulary.encode(source), vocabulary.encode(target)) for source, target in examples]
    longest = max(len(s) + len(t) + 2 for s, t in ids)
    length = longest if length is None else length
    if longest > length:
        raise ValueError(f"an example needs {longest} positions, more than {length}")

    sep, eos = vocabulary.index[SEP], vocabulary.index[EOS]
    tokens = torch.zeros(len(ids), length, dtype=torch.long)  # PAD is id 0
    target = torch.full((len(ids), length), IGNORE, dtype=torch.long)
    for row, (source, output) in enumerate(ids):
        sequence = [*source, sep, *output, eos]
        tokens[row, : len(sequence)] = torch.tensor(sequence)
        start = len(source)  # the SEP position predicts the first target token
        target[row, start : start + len(output) + 1] = torch.tensor([*output, eos])
    lengths = torch.tensor([len(s) for s, _ in ids], dtype=torch.long)
    return EncodedExamples(tokens, target, lengths)


def _trim(tokens: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the columns that are padding in every row (PAD is id 0)."""
    used = int((tokens != 0).sum(dim=1).max())
    return tokens[:, :used], target[:, :used]


def sequence_loss(model: nn.Module, tokens: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the target and EOS positions of the batch."""
    tokens, target = _trim(tokens, target)
    logits = model(tokens, all_positions=True)
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE)


@torch.no_grad()
def exact_match(
    model: nn.Module, tokens: torch.Tensor, target: torch.Tensor, batch_size: int = 128
) -> torch.Tensor:
    """Per example (bool, N): whether greedy decoding reproduces the whole target and EOS.

    Computed teacher-forced in one pass (see the module docstring); examples are batched by
    length so that padding costs little.
    """
    was_training = model.training
    model.eval()
    lengths = (tokens != 0).sum(dim=1)
    order = torch.argsort(lengths)
    hits = torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)
    for chunk in order.split(batch_size):
        batch_tokens, batch_target = _trim(tokens[chunk], target[chunk])
        predicted = model(batch_tokens, all_positions=True).argmax(-1)
        scored = batch_target != IGNORE
        hits[chunk] = ((predicted == batch_target) | ~scored).all(dim=1)
    model.train(was_training)
    return hits


def evaluate_exact_match(model: nn.Module, sets: Mapping[str, EvalSet]) -> dict[str, float]:
    """Exact-match accuracy on each named set (the trainer's ``evaluate_fn``)."""
    accuracy = {}
    for name, data in sets.items():
        hits = exact_match(model, data.tokens, data.target)
        accuracy[name] = hits.float().mean().item() if len(hits) else float("nan")
    return accuracy


@torch.no_grad()
def greedy_decode(
    model: nn.Module,
    sources: Sequence[Sequence[int]],
    vocabulary: Vocabulary,
    max_new_tokens: int,
    batch_size: int = 256,
) -> list[list[int]]:
    """Greedy continuation of ``source SEP`` for each source (ids), until EOS,
    ``max_new_tokens`` or the model's ``seq_len``; returns the generated ids without EOS.
    Sources of equal length are decoded together, so no padding enters the model."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sep, eos = vocabulary.index[SEP], vocabulary.index[EOS]
    outputs: list[list[int]] = [[] for _ in sources]
    by_length: dict[int, list[int]] = {}
    for i, source in enumerate(sources):
        by_length.setdefault(len(source), []).append(i)

    for rows in by_length.values():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            prefix = torch.tensor([[*sources[i], sep] for i in chunk], device=device)
            done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
            for _ in range(max_new_tokens):
                if prefix.shape[1] >= model.config.seq_len:
                    break  # the position table ends here
                step = model(prefix).argmax(-1)  # (B,) at the last position
                for row, (i, token) in enumerate(zip(chunk, step.tolist(), strict=True)):
                    if not done[row] and token != eos:
                        outputs[i].append(token)
                done |= step == eos
                if bool(done.all()):
                    break
                prefix = torch.cat([prefix, step[:, None]], dim=1)
    model.train(was_training)
    return outputs
