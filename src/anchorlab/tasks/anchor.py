"""The composite anchor-function task.

A sequence holds one key x, immediately followed by an anchor pair (a1, a2); every other
position holds a noise item. The label, read at the last position, is
x + shift(a1) + shift(a2) for an inferential pair, or key + a designated offset for a
non-inferential pair. Held-out pairs never appear in training: a model's answer on them
reveals whether it composed the single-anchor maps (inferential target) or copied its
mirror pair (symmetric target).

Keys are split by value x position: with the key at 0-indexed position p, training keys
satisfy ``x % split_modulus != p`` and test keys ``x % split_modulus == p``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Split = Literal["train", "test", "heldout"]
SPLITS: tuple[str, ...] = ("train", "test", "heldout")

AnchorPair = tuple[int, int]


class TaskSpecError(ValueError):
    """An anchor-task specification that cannot produce a well-defined data set."""


def _keys_for(spec: TaskSpec, position: int, split: str) -> np.ndarray:
    items = np.arange(spec.item_min, spec.item_max + 1)
    residue = items % spec.split_modulus
    if split == "train":
        return items[residue != position % spec.split_modulus]
    if split == "test":
        return items[residue == position % spec.split_modulus]
    return items


@dataclass(frozen=True)
class TaskSpec:
    """A composite anchor-function task. Every field is checked on construction."""

    anchor_shifts: dict[int, int] = field(default_factory=lambda: {1: 5, 2: 1, 3: -2, 4: -8})
    """Anchor token -> the shift it applies to the key."""

    inferential_pairs: tuple[AnchorPair, ...] | None = None
    """Pairs trained with the composed target; None means every ordered pair that is
    neither non-inferential nor held out."""

    non_inferential: tuple[tuple[int, int, int], ...] = ((3, 4, -6),)
    """(a1, a2, offset): the pair is trained with target key + offset."""

    held_out_pairs: tuple[AnchorPair, ...] = ((4, 3),)
    """Pairs never shown in training or in the seen-pair test split."""

    item_min: int = 20
    """Smallest key / noise token (inclusive)."""

    item_max: int = 99
    """Largest key / noise token (inclusive)."""

    seq_len: int = 9
    """Tokens per sequence; the label is read at the last position."""

    key_positions: tuple[int, ...] | None = None
    """0-indexed positions the key may take; None means 0..seq_len-3 (the pair always fits)."""

    vocab_size: int = 201
    """Token ids run over 0..vocab_size-1; every input token and target must fit."""

    split_modulus: int = 8
    """Train keys satisfy key % split_modulus != position, test keys == position."""

    def __post_init__(self) -> None:
        def pairs(value):
            return None if value is None else tuple(tuple(int(t) for t in p) for p in value)

        try:
            normalized = {
                "anchor_shifts": {int(a): int(s) for a, s in dict(self.anchor_shifts).items()},
                "inferential_pairs": pairs(self.inferential_pairs),
                "non_inferential": pairs(self.non_inferential),
                "held_out_pairs": pairs(self.held_out_pairs),
                "key_positions": None
                if self.key_positions is None
                else tuple(int(p) for p in self.key_positions),
            }
        except (TypeError, ValueError) as error:
            raise TaskSpecError(f"malformed task specification: {error}") from None
        for name, value in normalized.items():
            object.__setattr__(self, name, value)
        self._validate()

    # -- derived ---------------------------------------------------------------------------

    @property
    def anchors(self) -> tuple[int, ...]:
        return tuple(sorted(self.anchor_shifts))

    @property
    def positions(self) -> tuple[int, ...]:
        if self.key_positions is not None:
            return tuple(self.key_positions)
        return tuple(range(self.seq_len - 2))

    @property
    def non_inferential_offsets(self) -> dict[AnchorPair, int]:
        return {(a1, a2): offset for a1, a2, offset in self.non_inferential}

    @property
    def trained_pairs(self) -> tuple[AnchorPair, ...]:
        """The pairs seen in training: inferential first, then non-inferential."""
        if self.inferential_pairs is not None:
            inferential = tuple(self.inferential_pairs)
        else:
            excluded = set(self.non_inferential_offsets) | set(self.held_out_pairs)
            inferential = tuple(
                (a1, a2) for a1 in self.anchors for a2 in self.anchors if (a1, a2) not in excluded
            )
        return inferential + tuple(self.non_inferential_offsets)

    def inferential_offset(self, pair: AnchorPair) -> int:
        return self.anchor_shifts[pair[0]] + self.anchor_shifts[pair[1]]

    def trained_offset(self, pair: AnchorPair) -> int:
        """Offset of the label the data carries for a pair (held-out: inferential)."""
        return self.non_inferential_offsets.get(pair, self.inferential_offset(pair))

    def symmetric_offset(self, pair: AnchorPair) -> int:
        """Offset a model that copies the mirror pair (a2, a1) would output."""
        mirror = (pair[1], pair[0])
        return self.non_inferential_offsets.get(mirror, self.inferential_offset(mirror))

    # -- validation ------------------------------------------------------------------------

    def _validate(self) -> None:
        def fail(message: str) -> None:
            raise TaskSpecError(message)

        anchors = set(self.anchor_shifts)
        if not anchors:
            fail("anchor_shifts is empty: give at least one anchor, e.g. {1: 5, 2: 1}")
        if self.item_min > self.item_max:
            fail(f"item_min {self.item_min} > item_max {self.item_max}")
        if min(anchors) < 0 or self.item_min < 0:
            fail("token ids must be non-negative")
        overlap = sorted(a for a in anchors if self.item_min <= a <= self.item_max)
        if overlap:
            fail(
                f"anchors {overlap} overlap the item range {self.item_min}..{self.item_max}: "
                "move the items or the anchors"
            )
        if self.seq_len < 3:
            fail(f"seq_len {self.seq_len} is too short for a key and an anchor pair (need >= 3)")
        bad_positions = [p for p in self.positions if not 0 <= p <= self.seq_len - 3]
        if bad_positions:
            fail(
                f"key_positions {bad_positions} leave no room for the pair in a "
                f"{self.seq_len}-token sequence (allowed 0..{self.seq_len - 3})"
            )
        if len(set(self.positions)) != len(self.positions) or not self.positions:
            fail("key_positions must be non-empty and list each position once")
        if self.split_modulus < 2:
            fail(f"split_modulus must be >= 2, got {self.split_modulus}")

        listed = list(self.inferential_pairs or ()) + [
            (a1, a2) for a1, a2, _ in self.non_inferential
        ]
        all_listed = listed + list(self.held_out_pairs)
        for pair in all_listed:
            if len(pair) != 2 or not set(pair) <= anchors:
                fail(f"pair {tuple(pair)} uses a token that is not an anchor {sorted(anchors)}")
        seen: set[AnchorPair] = set()
        for pair in map(tuple, listed):
            if pair in seen:
                fail(f"pair {pair} is listed twice among the trained pairs")
            seen.add(pair)
        for pair in map(tuple, self.held_out_pairs):
            if pair in seen:
                fail(f"pair {pair} is held out and also trained: remove it from one list")
        if len(set(map(tuple, self.held_out_pairs))) != len(self.held_out_pairs):
            fail("a held-out pair is listed twice")
        if not self.trained_pairs:
            fail("no pair is left to train on")

        offsets = [self.trained_offset(p) for p in self.trained_pairs]
        offsets += [self.symmetric_offset(tuple(p)) for p in self.held_out_pairs]
        offsets += [self.inferential_offset(tuple(p)) for p in self.held_out_pairs]
        low, high = self.item_min + min(offsets), self.item_max + max(offsets)
        if low < 0:
            fail(f"targets reach {low}: raise item_min so that every target is >= 0")
        needed = max(high, self.item_max, max(anchors)) + 1
        if self.vocab_size < needed:
            fail(
                f"vocab_size {self.vocab_size} is too small: targets reach {high}, need >= {needed}"
            )
        for p in self.positions:
            if not _keys_for(self, p, "train").size:
                fail(f"no training key is left at position {p} under the split rule")


PRESETS: dict[str, TaskSpec] = {
    "standard": TaskSpec(),
    "both-held-out": TaskSpec(non_inferential=(), held_out_pairs=((3, 4), (4, 3))),
}


def task_preset(name: str) -> TaskSpec:
    """The named task: ``standard`` (the study's main setup) or ``both-held-out``."""
    if name not in PRESETS:
        raise TaskSpecError(f"unknown task variant {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


# -- generation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorData:
    """Generated sequences with every label a study needs, as aligned numpy arrays."""

    tokens: np.ndarray  # (N, T) int64
    target: np.ndarray  # (N,) the trained label (held-out pairs: inferential)
    inferential_target: np.ndarray  # (N,)
    symmetric_target: np.ndarray  # (N,) what copying the mirror pair would give
    key: np.ndarray  # (N,)
    key_position: np.ndarray  # (N,)
    anchor_pair: np.ndarray  # (N, 2)
    split: str

    def __len__(self) -> int:
        return len(self.target)

    def records(self):
        """One JSON-ready dict per sequence."""
        for i in range(len(self)):
            yield {
                "tokens": self.tokens[i].tolist(),
                "key": int(self.key[i]),
                "key_position": int(self.key_position[i]),
                "anchor_pair": self.anchor_pair[i].tolist(),
                "target": int(self.target[i]),
                "inferential_target": int(self.inferential_target[i]),
                "symmetric_target": int(self.symmetric_target[i]),
                "split": self.split,
            }


def generate(
    spec: TaskSpec,
    split: str,
    n: int,
    seed: int = 0,
    pairs: tuple[AnchorPair, ...] | None = None,
) -> AnchorData:
    """Draw ``n`` sequences of one split, deterministically from ``seed``.

    ``train`` and ``test`` draw the trained pairs uniformly (``pairs`` overrides which),
    with keys obeying the value x position rule; ``heldout`` draws the held-out pairs with
    keys from the whole item range. The same (spec, split, n, seed) always gives the same
    arrays, and the three splits use independent random streams.
    """
    if split not in SPLITS:
        raise TaskSpecError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    if n < 0:
        raise TaskSpecError(f"n must be >= 0, got {n}")
    if pairs is None:
        pairs = spec.held_out_pairs if split == "heldout" else spec.trained_pairs
    if not pairs:
        raise TaskSpecError(f"the task has no pairs for split {split!r}")
    rng = np.random.default_rng([seed, SPLITS.index(split)])

    pair_table = np.asarray(pairs, dtype=np.int64)  # (P, 2)
    trained = np.array([spec.trained_offset(tuple(p)) for p in pairs])
    inferential = np.array([spec.inferential_offset(tuple(p)) for p in pairs])
    symmetric = np.array([spec.symmetric_offset(tuple(p)) for p in pairs])
    positions = np.asarray(spec.positions, dtype=np.int64)

    pair_index = rng.integers(len(pairs), size=n)
    key_position = positions[rng.integers(len(positions), size=n)]
    key = np.empty(n, dtype=np.int64)
    for p in positions:
        rows = np.flatnonzero(key_position == p)
        allowed = _keys_for(spec, int(p), split)
        key[rows] = allowed[rng.integers(len(allowed), size=rows.size)]

    tokens = rng.integers(spec.item_min, spec.item_max + 1, size=(n, spec.seq_len))
    rows = np.arange(n)
    anchor_pair = pair_table[pair_index]
    tokens[rows, key_position] = key
    tokens[rows, key_position + 1] = anchor_pair[:, 0]
    tokens[rows, key_position + 2] = anchor_pair[:, 1]

    return AnchorData(
        tokens=tokens,
        target=key + trained[pair_index],
        inferential_target=key + inferential[pair_index],
        symmetric_target=key + symmetric[pair_index],
        key=key,
        key_position=key_position,
        anchor_pair=anchor_pair,
        split=split,
    )
