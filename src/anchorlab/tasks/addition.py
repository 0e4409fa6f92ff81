"""Addition a + b = c with a, b in 0..999, held out on a middle band of operands.

A pair (a, b) is *inside* the held-out band when both operands lie in ``held_out`` (400..600
by default); training draws only pairs outside it (at least one operand outside the band),
the out-of-distribution test only pairs inside. Every operand value still appears in
training, paired with operands outside the band; what the test asks is the sum of two
numbers never added together.

Tokens are characters: operands are written with three digits (``007``), the sum with four,
least significant digit first by default (``reverse_sum``), which lets a left-to-right
decoder produce each digit after the digits whose carry it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anchorlab.tasks.anchor import TaskSpecError

Example = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class AdditionSpec:
    """Operand range, held-out band and how the sum is written."""

    max_operand: int = 999
    held_out: tuple[int, int] = (400, 600)
    """Inclusive band; pairs with both operands inside it form the test set."""
    reverse_sum: bool = True
    """Write the sum least significant digit first."""

    def __post_init__(self) -> None:
        low, high = self.held_out
        if not 0 < self.max_operand <= 999:
            raise TaskSpecError(f"max_operand must lie in 1..999, got {self.max_operand}")
        if not 0 <= low <= high <= self.max_operand:
            raise TaskSpecError(
                f"held_out {self.held_out} must be an inclusive band inside 0..{self.max_operand}"
            )
        if (high - low + 1) ** 2 >= (self.max_operand + 1) ** 2:
            raise TaskSpecError("held_out covers every pair: nothing is left to train on")


def encode_pair(a: int, b: int, spec: AdditionSpec = AdditionSpec()) -> Example:
    """(source, target) characters for a + b: ``('4','0','5','+',...)``, sum digits."""
    source = (*f"{a:03d}", "+", *f"{b:03d}")
    digits = f"{a + b:04d}"
    return source, tuple(reversed(digits) if spec.reverse_sum else digits)


def decode_sum(target: tuple[str, ...], spec: AdditionSpec = AdditionSpec()) -> int:
    """The integer a target sequence writes."""
    digits = "".join(reversed(target) if spec.reverse_sum else target)
    return int(digits)


def inside_band(a: np.ndarray, b: np.ndarray, spec: AdditionSpec) -> np.ndarray:
    low, high = spec.held_out
    return (a >= low) & (a <= high) & (b >= low) & (b <= high)


@dataclass(frozen=True)
class AdditionData:
    """Disjoint pair sets: ``train`` and ``in_distribution`` outside the band,
    ``out_of_distribution`` inside it; each a list of (source, target) examples."""

    train: list[Example]
    in_distribution: list[Example]
    out_of_distribution: list[Example]


def draw(n_train: int, n_test: int, seed: int, spec: AdditionSpec = AdditionSpec()) -> AdditionData:
    """``n_train`` distinct training pairs and ``n_test`` test pairs of each kind, drawn
    without replacement by ``seed``; the three sets never share a pair. Refuses sizes the
    pair space cannot hold."""
    side = spec.max_operand + 1
    every = np.arange(side * side)
    a, b = every // side, every % side
    inside = inside_band(a, b, spec)
    outside_pairs, inside_pairs = every[~inside], every[inside]
    if n_train + n_test > len(outside_pairs) or n_test > len(inside_pairs):
        raise TaskSpecError(
            f"n_train + n_test ({n_train + n_test}) exceeds the {len(outside_pairs)} pairs "
            f"outside the band, or n_test the {len(inside_pairs)} inside: ask for fewer"
        )

    rng = np.random.default_rng(seed)
    outside_pick = rng.choice(outside_pairs, size=n_train + n_test, replace=False)
    inside_pick = rng.choice(inside_pairs, size=n_test, replace=False)

    def examples(pairs: np.ndarray) -> list[Example]:
        return [encode_pair(int(p // side), int(p % side), spec) for p in pairs]

    return AdditionData(
        train=examples(outside_pick[:n_train]),
        in_distribution=examples(outside_pick[n_train:]),
        out_of_distribution=examples(inside_pick),
    )
