"""``anchorlab scan export`` and ``anchorlab realworld`` end to end, as a user runs them."""

import csv
from collections import Counter

import pytest


@pytest.mark.parametrize("part", ["train", "test"])
def test_scan_export_matches_the_official_file_as_a_multiset(
    anchorlab_cli, tmp_path, part, official_scan_dir
):
    out = tmp_path / f"{part}.txt"
    result = anchorlab_cli(
        "scan", "export", "--split", "addprim_turn_left", "--part", part, "--out", str(out)
    )
    assert "from the grammar" in result.stdout
    official_file = official_scan_dir / "add_prim_split" / f"tasks_{part}_addprim_turn_left.txt"
    assert Counter(out.read_text().splitlines()) == Counter(official_file.read_text().splitlines())


def test_scan_export_needs_no_data_from_the_grammar(anchorlab_cli, tmp_path):
    out = tmp_path / "jump_test.txt"
    anchorlab_cli(
        "scan", "export", "--split", "addprim_jump", "--part", "test", "--out", str(out),
        "--data", str(tmp_path / "absent"),
    )  # fmt: skip
    assert len(out.read_text().splitlines()) == 7706


def test_missing_data_is_one_line_naming_the_file(anchorlab_cli, tmp_path):
    result = anchorlab_cli(
        "scan", "export", "--split", "all", "--source", "official", "--data",
        str(tmp_path), "--out", str(tmp_path / "x.txt"), check=False,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "scan/tasks.txt: file not found" in lines[0]


def test_malformed_cogs_file_stops_the_sweep_before_any_run(anchorlab_cli, tmp_path):
    (tmp_path / "cogs").mkdir()
    for part in ("train", "test", "gen"):
        (tmp_path / "cogs" / f"{part}.tsv").write_text("The cat ran .\tin_distribution\n")
    out = tmp_path / "sweep"
    result = anchorlab_cli(
        "realworld", "cogs", "--preset", "smoke", "--data", str(tmp_path), "--out", str(out),
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "train.tsv:1: expected 3 tab-separated columns" in lines[0]
    assert not (out / "results.csv").exists()


def test_realworld_addition_smoke_writes_figure_csv_summary_and_resumes(anchorlab_cli, tmp_path):
    out = tmp_path / "addition"
    result = anchorlab_cli("realworld", "addition", "--preset", "smoke", "--out", str(out))
    assert "4 runs" in result.stdout
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["setting"], r["n_train"]) for r in rows} == {
        (s, n) for s in ("small_init_large_wd", "large_init_small_wd") for n in ("200", "400")
    }
    assert all(0 <= float(r["out_of_distribution_accuracy"]) <= 1 for r in rows)
    assert all(float(r["greedy_agreement"]) == 1.0 for r in rows)
    assert (out / "figure.png").stat().st_size > 1000
    assert "out-of-distribution" in (out / "summary.md").read_text()

    again = anchorlab_cli("realworld", "addition", "--preset", "smoke", "--out", str(out))
    assert "4 runs" in again.stdout
    assert again.stdout.count("| small init") == 2  # same table, nothing retrained


@pytest.mark.usefixtures("official_scan_dir", "official_cogs_dir")
def test_realworld_scan_and_cogs_smoke_on_the_official_files(anchorlab_cli, tmp_path):
    anchorlab_cli(
        "realworld", "scan", "--preset", "smoke", "--out", str(tmp_path / "scan"),
        "--sizes", "200", "--seeds", "0",
    )  # fmt: skip
    anchorlab_cli("realworld", "cogs", "--preset", "smoke", "--out", str(tmp_path / "cogs"))
    with (tmp_path / "cogs" / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    categories = [name for name in rows[0] if name.startswith("gen/")]
    assert len(categories) == 21
