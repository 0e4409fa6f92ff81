"""COGS (Kim & Linzen, 2020): English sentences and their logical forms.

``load_cogs`` reads the official tab-separated files (``train``, ``dev``, ``test``, ``gen``)
from a directory the user provides; anchorlab never downloads them. Each line is
``sentence <TAB> logical form <TAB> category``. The generalization set holds 21 categories;
``sample_by_category`` draws the same number from each, so that its mean accuracy weighs
the categories equally.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anchorlab.tasks.datafiles import DataFileError, dataset_dir, read_lines

logger = logging.getLogger(__name__)

PARTS = ("train", "dev", "test", "gen")
GEN_CATEGORIES = (
    "active_to_passive",
    "cp_recursion",
    "do_dative_to_pp_dative",
    "obj_omitted_transitive_to_transitive",
    "obj_pp_to_subj_pp",
    "obj_to_subj_common",
    "obj_to_subj_proper",
    "only_seen_as_transitive_subj_as_unacc_subj",
    "only_seen_as_unacc_subj_as_obj_omitted_transitive_subj",
    "only_seen_as_unacc_subj_as_unerg_subj",
    "passive_to_active",
    "pp_dative_to_do_dative",
    "pp_recursion",
    "prim_to_inf_arg",
    "prim_to_obj_common",
    "prim_to_obj_proper",
    "prim_to_subj_common",
    "prim_to_subj_proper",
    "subj_to_obj_common",
    "subj_to_obj_proper",
    "unacc_to_transitive",
)
STRUCTURAL_CATEGORIES = ("cp_recursion", "pp_recursion", "obj_pp_to_subj_pp")
"""Categories the COGS authors call structural; the others are lexical."""


@dataclass(frozen=True)
class CogsExample:
    sentence: tuple[str, ...]
    logical_form: tuple[str, ...]
    category: str

    def pair(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.sentence, self.logical_form


def load_cogs_file(path: str | os.PathLike) -> list[CogsExample]:
    """Every line of one COGS TSV file, in file order. Refuses (``DataFileError``, naming
    the file and line) a missing file, a line without exactly three tab-separated columns,
    or an empty sentence or logical form."""
    path = Path(path)
    examples = []
    for number, line in enumerate(read_lines(path), start=1):
        columns = line.split("\t")
        if len(columns) != 3:
            raise DataFileError(
                f"{path}:{number}: expected 3 tab-separated columns (sentence, logical form, "
                f"category), found {len(columns)}"
            )
        sentence, logical_form, category = (column.split() for column in columns)
        if not sentence or not logical_form or len(category) != 1:
            raise DataFileError(f"{path}:{number}: empty sentence, logical form or category")
        examples.append(CogsExample(tuple(sentence), tuple(logical_form), category[0]))
    logger.debug("read %d COGS examples from %s", len(examples), path)
    return examples


def cogs_path(part: str, data: str | os.PathLike | None = None) -> Path:
    if part not in PARTS:
        raise DataFileError(f"unknown COGS part {part!r}; one of {', '.join(PARTS)}")
    return dataset_dir("cogs", data) / f"{part}.tsv"


def load_cogs(
    data: str | os.PathLike | None = None, parts: Sequence[str] = PARTS
) -> dict[str, list[CogsExample]]:
    """The named parts from ``<data>/cogs/<part>.tsv``. ``gen`` must hold exactly the 21
    generalization categories; refuses it otherwise."""
    loaded = {part: load_cogs_file(cogs_path(part, data)) for part in parts}
    if "gen" in loaded:
        found = {example.category for example in loaded["gen"]}
        if found != set(GEN_CATEGORIES):
            missing = sorted(set(GEN_CATEGORIES) - found)
            extra = sorted(found - set(GEN_CATEGORIES))
            raise DataFileError(
                f"{cogs_path('gen', data)}: categories differ from the 21 of COGS "
                f"(missing {missing[:3]}, unexpected {extra[:3]})"
            )
    return loaded


def sample_by_category(
    examples: Sequence[CogsExample], per_category: int | None, seed: int
) -> dict[str, list[CogsExample]]:
    """Category -> ``per_category`` examples drawn without replacement (all of them when
    None or when a category holds fewer), in a fixed category order."""
    by_category: dict[str, list[CogsExample]] = {}
    for example in examples:
        by_category.setdefault(example.category, []).append(example)
    rng = np.random.default_rng(seed)
    sampled = {}
    for category in sorted(by_category):
        pool = by_category[category]
        if per_category is None or per_category >= len(pool):
            sampled[category] = list(pool)
        else:
            picks = rng.choice(len(pool), size=per_category, replace=False)
            sampled[category] = [pool[i] for i in sorted(picks)]
    return sampled
