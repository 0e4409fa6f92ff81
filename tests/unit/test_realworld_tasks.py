"""COGS loader and addition task."""

import numpy as np
import pytest

from anchorlab.tasks import addition, cogs
from anchorlab.tasks.anchor import TaskSpecError
from anchorlab.tasks.datafiles import DataFileError


@pytest.mark.usefixtures("official_cogs_dir")
def test_cogs_loader_reads_the_official_files():
    parts = cogs.load_cogs()
    assert {name: len(rows) for name, rows in parts.items()} == {
        "train": 24_155,
        "dev": 3_000,
        "test": 3_000,
        "gen": 21_000,
    }
    assert {e.category for e in parts["gen"]} == set(cogs.GEN_CATEGORIES)
    assert len(cogs.GEN_CATEGORIES) == 21
    first = parts["gen"][0]
    assert first.sentence[-1] == "." and first.logical_form[0] == "paint"


def test_sampling_by_category_is_equal_and_seeded():
    rows = [
        cogs.CogsExample(("a", str(i)), ("x",), category)
        for category in ("c1", "c2")
        for i in range(10 if category == "c1" else 3)
    ]
    sample = cogs.sample_by_category(rows, 3, seed=0)
    assert {k: len(v) for k, v in sample.items()} == {"c1": 3, "c2": 3}
    assert sample == cogs.sample_by_category(rows, 3, seed=0)
    assert len(cogs.sample_by_category(rows, None, seed=0)["c1"]) == 10


def write_cogs(root, gen_lines):
    (root / "cogs").mkdir()
    line = "A cat ran .\tcat ( x _ 1 ) AND run . agent ( x _ 2 , x _ 1 )\tin_distribution\n"
    for part in ("train", "dev", "test"):
        (root / "cogs" / f"{part}.tsv").write_text(line)
    (root / "cogs" / "gen.tsv").write_text(gen_lines)


def test_cogs_refuses_malformed_files_naming_file_and_line(tmp_path):
    write_cogs(tmp_path, "A cat ran .\tcat ( x _ 1 )\n")
    with pytest.raises(DataFileError, match=r"gen\.tsv:1: expected 3 tab-separated columns"):
        cogs.load_cogs(tmp_path)


def test_cogs_refuses_a_gen_file_without_the_21_categories(tmp_path):
    write_cogs(tmp_path, "A cat ran .\tcat ( x _ 1 )\tpp_recursion\n")
    with pytest.raises(DataFileError, match=r"gen\.tsv: categories differ"):
        cogs.load_cogs(tmp_path)


def test_cogs_missing_file_is_named(tmp_path):
    with pytest.raises(DataFileError, match=r"cogs/train\.tsv: file not found"):
        cogs.load_cogs(tmp_path)


def test_addition_sets_are_disjoint_and_respect_the_band():
    spec = addition.AdditionSpec()
    data = addition.draw(3000, 500, seed=1, spec=spec)
    low, high = spec.held_out

    def pairs(examples):
        out = set()
        for source, target in examples:
            a, b = int("".join(source[:3])), int("".join(source[4:]))
            assert addition.decode_sum(target, spec) == a + b
            out.add((a, b))
        return out

    train, in_dist, out_dist = (
        pairs(data.train),
        pairs(data.in_distribution),
        pairs(data.out_of_distribution),
    )
    assert len(train) == 3000 and len(in_dist) == len(out_dist) == 500
    assert not (train & in_dist) and not (train & out_dist)
    assert all(low <= a <= high and low <= b <= high for a, b in out_dist)
    assert not any(low <= a <= high and low <= b <= high for a, b in train | in_dist)
    assert data == addition.draw(3000, 500, seed=1, spec=spec)


def test_addition_writes_the_sum_least_significant_digit_first():
    source, target = addition.encode_pair(7, 995)
    assert source == ("0", "0", "7", "+", "9", "9", "5")
    assert target == ("2", "0", "0", "1")
    plain = addition.AdditionSpec(reverse_sum=False)
    assert addition.encode_pair(7, 995, plain)[1] == ("1", "0", "0", "2")


def test_addition_refuses_impossible_requests():
    with pytest.raises(TaskSpecError):
        addition.AdditionSpec(held_out=(600, 400))
    with pytest.raises(TaskSpecError, match="ask for fewer"):
        addition.draw(10, 50_000, seed=0)
    assert np.all(
        addition.inside_band(np.array([400, 600]), np.array([600, 400]), addition.AdditionSpec())
    )
