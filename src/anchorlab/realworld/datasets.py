"""The three real-data tasks as sequence-to-sequence problems with a shared shape.

``prepare(config)`` turns a run configuration into a ``PreparedData``: the training
examples (a draw of ``n_train`` from the task's training pool, fixed by the seed), the
evaluation sets, and a vocabulary that does not depend on the draw. Evaluation sets are
named ``in_distribution`` (unseen examples from the training distribution; the training
draw itself for SCAN, whose add-primitive split has no such set) and
``out_of_distribution`` (the compositional generalization set); COGS adds one set per
generalization category, named ``gen/<category>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from anchorlab.realworld.sequence import Vocabulary
from anchorlab.tasks import addition, cogs, scan
from anchorlab.tasks.datafiles import DataFileError

Example = tuple[tuple[str, ...], tuple[str, ...]]
DATASETS = ("scan", "cogs", "addition")
IN_DISTRIBUTION = "in_distribution"
OUT_OF_DISTRIBUTION = "out_of_distribution"


@dataclass
class PreparedData:
    train: list[Example]
    eval_sets: dict[str, list[Example]]
    vocabulary: Vocabulary
    seq_len: int
    """Positions the model needs: the longest ``source SEP target EOS`` of any set."""
    pool_size: int
    """Size of the training pool the draw came from."""


def _draw(pool: list, n: int, seed: int, what: str) -> list:
    """``n`` items of ``pool`` without replacement, in a random order fixed by ``seed``."""
    if n > len(pool):
        raise DataFileError(f"n_train={n} exceeds the {len(pool)} {what}: ask for fewer")
    picks = np.random.default_rng(seed).permutation(len(pool))[:n]
    return [pool[i] for i in picks]


def _longest(*sets: list[Example]) -> int:
    return max(len(source) + len(target) + 2 for examples in sets for source, target in examples)


def prepare(config: Mapping[str, Any]) -> PreparedData:
    """The data of one run. Keys used: ``dataset``, ``n_train``, ``seed`` (the draw),
    ``data_dir``, and the dataset's block ``task`` (see the presets)."""
    dataset = config["dataset"]
    if dataset == "scan":
        return _prepare_scan(config)
    if dataset == "cogs":
        return _prepare_cogs(config)
    if dataset == "addition":
        return _prepare_addition(config)
    raise DataFileError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")


def _prepare_scan(config: Mapping[str, Any]) -> PreparedData:
    task = config["task"]
    split = scan.load_split(task["split"], task["source"], config.get("data_dir"))
    pool = [(e.command, e.actions) for e in split.train]
    train = _draw(pool, config["n_train"], config["seed"], f"lines of the {split.name} train set")
    n_check = min(len(train), task["n_train_eval"])
    test = [(e.command, e.actions) for e in split.test]
    vocabulary = Vocabulary.from_examples([(scan.COMMAND_WORDS, scan.ACTION_TOKENS)])
    return PreparedData(
        train=train,
        eval_sets={IN_DISTRIBUTION: train[:n_check], OUT_OF_DISTRIBUTION: test},
        vocabulary=vocabulary,
        seq_len=_longest(pool, test),
        pool_size=len(pool),
    )


def _prepare_cogs(config: Mapping[str, Any]) -> PreparedData:
    task = config["task"]
    parts = cogs.load_cogs(config.get("data_dir"), parts=("train", "test", "gen"))
    pool = [example.pair() for example in parts["train"]]
    train = _draw(pool, config["n_train"], config["seed"], "lines of COGS train.tsv")

    eval_seed = task["eval_seed"]
    test = [example.pair() for example in parts["test"]]
    if task["n_test"] is not None and task["n_test"] < len(test):
        test = _draw(test, task["n_test"], eval_seed, "lines of COGS test.tsv")
    by_category = cogs.sample_by_category(parts["gen"], task["per_category"], eval_seed)
    gen = {name: [e.pair() for e in examples] for name, examples in by_category.items()}

    everything = [e.pair() for part in parts.values() for e in part]
    eval_sets = {IN_DISTRIBUTION: test}
    eval_sets[OUT_OF_DISTRIBUTION] = [pair for name in sorted(gen) for pair in gen[name]]
    eval_sets.update({f"gen/{name}": gen[name] for name in sorted(gen)})
    return PreparedData(
        train=train,
        eval_sets=eval_sets,
        vocabulary=Vocabulary.from_examples(everything),
        seq_len=_longest(pool, *eval_sets.values()),
        pool_size=len(pool),
    )


def _prepare_addition(config: Mapping[str, Any]) -> PreparedData:
    task = config["task"]
    spec = addition.AdditionSpec(
        max_operand=task["max_operand"],
        held_out=tuple(task["held_out"]),
        reverse_sum=task["reverse_sum"],
    )
    data = addition.draw(config["n_train"], task["n_test"], config["seed"], spec)
    digits = tuple("0123456789")
    vocabulary = Vocabulary.from_examples([((*digits, "+"), digits)])
    return PreparedData(
        train=data.train,
        eval_sets={
            IN_DISTRIBUTION: data.in_distribution,
            OUT_OF_DISTRIBUTION: data.out_of_distribution,
        },
        vocabulary=vocabulary,
        seq_len=3 + 1 + 3 + 1 + 4 + 1,
        pool_size=(spec.max_operand + 1) ** 2 - (spec.held_out[1] - spec.held_out[0] + 1) ** 2,
    )
