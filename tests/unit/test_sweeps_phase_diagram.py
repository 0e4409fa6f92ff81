"""The phase-diagram sweep's spec and its report, on synthetic stored runs (no training)."""

import csv

import pytest

from anchorlab.config import ConfigError
from anchorlab.reports.phase_diagram import phase_boundaries, summarize, write_report
from anchorlab.sweeps import RunRecord
from anchorlab.sweeps.phase_diagram import (
    LR_AXIS,
    SWEEP_PRESETS,
    LRSearch,
    PhaseDiagramSpec,
    build_sweep,
    parse_axis_values,
    phase_diagram_spec,
)


def test_presets_cover_both_phases_and_the_paper_protocol():
    assert list(SWEEP_PRESETS) == ["cpu", "smoke", "cpu-full", "paper"]
    cpu_full = SWEEP_PRESETS["cpu-full"].axes
    assert cpu_full["gamma"][0] == 0.1 and cpu_full["gamma"][-1] == 1.0
    assert len(cpu_full["gamma"]) == 10 and cpu_full["depth"] == [2, 3, 4, 5, 6]
    assert SWEEP_PRESETS["paper"].lr_search == LRSearch(k=9, low=1e-4, high=3e-4)


def test_the_default_sweep_builds_one_cpu_run_per_cell():
    spec = phase_diagram_spec()
    sweep = build_sweep(spec)
    jobs = sweep.jobs()
    cells = SWEEP_PRESETS["cpu"].axes
    assert len(jobs) == len(cells["gamma"]) * len(cells["depth"]) * len(cells["seed"])
    cell, job = jobs[0]
    assert job.config["init"]["init_rate"] == cell["gamma"]
    assert job.config["model"]["n_layers"] == cell["depth"]
    assert job.config["preset"] == "cpu" and job.config["threads"] is None
    assert len({job.key for _, job in jobs}) == len(jobs)


def test_axes_replace_the_presets_and_any_setting_can_be_swept():
    spec = phase_diagram_spec(
        "smoke", {"init_rate": [0.5], "train.weight_decay": [0.0, 0.1]}, {"steps": 10}
    )
    assert "gamma" not in spec.axes and spec.axes["init_rate"] == [0.5]
    assert spec.extra_axes() == ["train.weight_decay"]
    configs = [job.config for _, job in build_sweep(spec).jobs()]
    assert {c["train"]["weight_decay"] for c in configs} == {0.0, 0.1}
    assert {c["train"]["steps"] for c in configs} == {10}


@pytest.mark.parametrize(
    "preset, axes, overrides, message",
    [
        ("nope", {}, {}, "unknown sweep preset 'nope'"),
        ("smoke", {"gamm": [0.4]}, {}, "unknown setting 'gamm'"),
        ("smoke", {"gamma": ["abc"]}, {}, "bad value 'abc' for axis gamma"),
        ("smoke", {"gamma": [-1]}, {}, "bad value -1 for axis gamma"),
        ("smoke", {"depth": [0]}, {}, "bad value 0 for axis depth"),
        ("smoke", {"gamma": [0.4, 0.4]}, {}, "repeats a value"),
        ("smoke", {"init_rate": [0.4]}, {"gamma": 0.5}, "both set init.init_rate"),
        ("smoke", {}, {"train.nope": 1}, "unknown setting 'train.nope'"),
        ("smoke", {LR_AXIS: [0]}, {}, "set by the learning-rate search"),
    ],
)
def test_bad_sweeps_are_refused_in_one_line(preset, axes, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as error:
        phase_diagram_spec(preset, axes, overrides)
    assert "\n" not in str(error.value)


def test_axis_values_parse_lists_and_inclusive_ranges():
    assert parse_axis_values("0.3,0.5, 0.8") == [0.3, 0.5, 0.8]
    assert parse_axis_values("0.1:0.5:0.1") == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert parse_axis_values("2:6") == [2, 3, 4, 5, 6]
    assert parse_axis_values("post,pre") == ["post", "pre"]
    for bad in ("", "1:0", "a:b", "0:1:0"):
        with pytest.raises(ConfigError):
            parse_axis_values(bad)


def test_the_learning_rate_search_adds_k_runs_per_cell_with_stable_draws():
    search = LRSearch(k=3, low=1e-4, high=3e-4, seed=0)
    spec = phase_diagram_spec("smoke", {"gamma": [0.4], "depth": [1]}, lr_search=search)
    jobs = build_sweep(spec).jobs()
    assert [cell[LR_AXIS] for cell, _ in jobs] == [0, 1, 2]
    rates = [job.config["train"]["lr"] for _, job in jobs]
    assert len(set(rates)) == 3 and all(1e-4 <= lr <= 3e-4 for lr in rates)
    again = [job.config["train"]["lr"] for _, job in build_sweep(spec).jobs()]
    assert again == rates
    stored = PhaseDiagramSpec.from_dict(spec.to_dict())
    assert stored == spec
    with pytest.raises(ConfigError, match="sets train.lr"):
        phase_diagram_spec("smoke", {"lr": [1e-3]}, lr_search=search)


def record(gamma, depth, seed, seen, inferential, symmetric, lr_draw=None, **cell):
    cell = {"gamma": gamma, "depth": depth, "seed": seed, **cell}
    if lr_draw is not None:
        cell[LR_AXIS] = lr_draw
    metrics = {
        "seen_test_accuracy": seen,
        "inferential_accuracy": inferential,
        "symmetric_accuracy": symmetric,
    }
    config = {"init": {"init_rate": gamma}, "model": {"n_layers": depth}, "seed": seed}
    key = f"{gamma}-{depth}-{seed}-{lr_draw}-{cell}"
    return RunRecord(key, "test", cell, config, metrics, f"runs/{key}", 1.0)


def test_cells_keep_the_best_rate_per_mapping_then_average_seeds():
    records = [
        record(0.4, 2, 0, 1.0, 0.1, 0.9, lr_draw=0),
        record(0.4, 2, 0, 0.8, 0.3, 0.5, lr_draw=1),
        record(0.4, 2, 1, 1.0, 0.0, 1.0, lr_draw=0),
        record(0.4, 2, 1, 1.0, 0.0, 0.7, lr_draw=1),
    ]
    (cell,) = summarize(records)
    assert cell.n_seeds == 2 and cell.n_runs == 4
    assert cell.symmetric_accuracy == pytest.approx(0.95)
    assert cell.symmetric_std == pytest.approx(0.0707, abs=1e-4)
    assert cell.inferential_accuracy == pytest.approx(0.15)
    assert cell.seen_test_accuracy == 1.0 and cell.solution == "symmetric"
    assert cell.seed_solutions == ["symmetric", "symmetric"]


def test_the_boundary_is_interpolated_where_inferential_overtakes():
    records = [
        record(0.4, 2, 0, 1.0, 0.0, 1.0),
        record(0.6, 2, 0, 1.0, 0.2, 0.6),  # gap -0.4
        record(0.8, 2, 0, 1.0, 0.9, 0.1),  # gap +0.8
        record(0.4, 3, 0, 0.5, 0.9, 0.0),
        record(0.8, 3, 0, 1.0, 1.0, 0.0),
        record(0.4, 4, 0, 1.0, 0.0, 1.0),
        record(0.8, 4, 0, 1.0, 0.2, 0.7),
    ]
    by_depth = {b.depth: b for b in phase_boundaries(summarize(records))}
    assert by_depth[2].gamma == pytest.approx(0.6 + 0.2 * 0.4 / 1.2, abs=1e-4)
    assert by_depth[3].gamma is None and "every gamma" in by_depth[3].note
    assert "1 of 2 cells below 0.9" in by_depth[3].note
    assert by_depth[4].gamma is None and "no crossing" in by_depth[4].note


def test_the_report_writes_csv_boundary_and_figures(tmp_path):
    records = [
        record(g, d, s, 1.0 if d == 2 else 0.5, g, 1 - g, weight_decay=wd)
        for g in (0.4, 0.8)
        for d in (2, 3)
        for s in (0, 1)
        for wd in (0.01, 0.1)
    ]
    report = write_report(records, tmp_path, extra_axes=["weight_decay"], formats=("png",))
    with (tmp_path / "phase_diagram.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    required = {"gamma", "depth", "n_seeds", "symmetric_accuracy", "inferential_accuracy"}
    assert required | {"seen_test_accuracy", "solution", "weight_decay"} <= set(rows[0])
    assert {r["n_seeds"] for r in rows} == {"2"}
    assert {r["solution"] for r in rows if r["depth"] == "3"} == {"unfit"}
    names = sorted(path.name for path in report.files)
    assert "phase_diagram-weight_decay=0.1.png" in names and "phase_boundary.csv" in names
    assert all(path.stat().st_size > 0 for path in report.files)
