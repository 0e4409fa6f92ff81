"""The gamma-curve sweep: its grid, its refusals and its summary over seeds."""

from __future__ import annotations

import csv
import statistics

import pytest

from anchorlab.config import ConfigError
from anchorlab.sweeps.gamma_curve import (
    FIGURE,
    RUNS_CSV,
    SUMMARY_CSV,
    build_sweep,
    gamma_curve_spec,
    report,
    summarize,
)
from anchorlab.sweeps.store import RunRecord


def test_default_grid_is_gpt2_at_cpu_size_with_four_seeds():
    spec = gamma_curve_spec()
    model = spec.base_config().model

    assert spec.gammas == [0.3, 0.4, 0.6, 0.8]
    assert spec.seeds == [0, 1, 2, 3]
    assert (model.arch, model.d_model, model.n_heads, model.n_layers) == ("gpt2", 64, 4, 2)
    assert model.norm_position == "pre"


def test_paper_preset_is_gpt2_small_on_gpus():
    config = gamma_curve_spec("paper").base_config()

    assert (config.model.n_layers, config.model.d_model, config.model.n_heads) == (12, 768, 12)
    assert config.model.d_ff == 3072 and config.train.device == "cuda"


def test_sweep_has_one_job_per_gamma_and_seed():
    spec = gamma_curve_spec(gammas=[0.8, 0.4], seeds=2, overrides={"norm": "pre"})

    jobs = build_sweep(spec).jobs()

    assert [cell for cell, _ in jobs] == [
        {"gamma": 0.4, "seed": 0},
        {"gamma": 0.4, "seed": 1},
        {"gamma": 0.8, "seed": 0},
        {"gamma": 0.8, "seed": 1},
    ]
    assert len({job.key for _, job in jobs}) == 4
    config = jobs[3][1].config
    assert config["init"]["init_rate"] == 0.8 and config["seed"] == 1
    assert config["model"]["norm_position"] == "pre" and config["model"]["arch"] == "gpt2"


def test_study_arch_draws_the_same_curve_for_the_study_decoder():
    model = gamma_curve_spec(overrides={"arch": "study"}).base_config().model
    assert model.arch == "study" and model.n_heads == 1 and not model.tie_embedding


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset_name": "huge"}, "unknown gamma-curve preset 'huge'"),
        ({"gammas": [0.5, -0.1]}, "every gamma must be a positive number"),
        ({"gammas": [0.5, 0.5]}, "a gamma is repeated"),
        ({"gammas": []}, "give at least one gamma"),
        ({"seeds": 0}, "at least one seed"),
        ({"overrides": {"gamma": 0.3}}, "gamma is an axis of the curve"),
        ({"overrides": {"seed": 1}}, "seed is an axis of the curve"),
        ({"overrides": {"heads": 3}}, "bad setting: model: d_k=64 is not divisible by n_heads=3"),
        ({"overrides": {"colour": 3}}, "unknown setting 'colour'"),
    ],
)
def test_refusals_are_one_line(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        gamma_curve_spec(**kwargs)


def record(gamma: float, seed: int, inferential: float, symmetric: float, seen: float = 1.0):
    solution = "inferential" if inferential >= symmetric else "symmetric"
    return RunRecord(
        key=f"{gamma}-{seed}",
        kind="test",
        cell={"gamma": gamma, "seed": seed},
        config={"init": {"init_rate": gamma}, "seed": seed},
        metrics={
            "inferential_accuracy": inferential,
            "symmetric_accuracy": symmetric,
            "seen_test_accuracy": seen,
            "solution": solution if seen >= 0.9 else "unfit",
        },
        run_dir=f"runs/{gamma}-{seed}",
        seconds=1.0,
    )


RECORDS = [
    record(0.8, 0, 0.9, 0.0),
    record(0.8, 1, 0.7, 0.1),
    record(0.4, 0, 0.0, 1.0),
    record(0.4, 1, 0.2, 0.6, seen=0.5),
    record(0.4, 2, 0.1, 0.8),
]


def test_summary_is_mean_and_spread_over_seeds_per_gamma():
    low, high = summarize(RECORDS)

    assert (low.gamma, low.runs, high.gamma, high.runs) == (0.4, 3, 0.8, 2)
    assert low.symmetric_mean == pytest.approx(0.8)
    assert low.symmetric_std == pytest.approx(statistics.stdev([1.0, 0.6, 0.8]))
    assert (low.symmetric_min, low.symmetric_max) == (0.6, 1.0)
    assert high.inferential_mean == pytest.approx(0.8)
    assert (low.fit_runs, high.fit_runs) == (2, 2)
    assert low.solutions == "symmetric:2 unfit:1"


def test_report_writes_both_tables_and_the_figure(tmp_path):
    base = gamma_curve_spec("smoke").base_config()

    report(RECORDS, tmp_path, base)

    with (tmp_path / SUMMARY_CSV).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["gamma"] for row in rows] == ["0.4", "0.8"]
    assert float(rows[1]["inferential_mean"]) == pytest.approx(0.8)
    with (tmp_path / RUNS_CSV).open() as handle:
        assert len(list(csv.DictReader(handle))) == 5
    assert (tmp_path / FIGURE).stat().st_size > 10_000


def test_report_without_runs_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no finished runs"):
        report([], tmp_path, gamma_curve_spec("smoke").base_config())
