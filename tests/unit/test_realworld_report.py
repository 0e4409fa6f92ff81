"""The realworld report: aggregation over seeds, the verdict, per-category table, figure."""

import csv
import json

import pytest

from anchorlab.realworld.experiments import (
    LARGE_INIT,
    SMALL_INIT,
    aggregate,
    preset,
    run_config,
    verdict,
    write_report,
)
from anchorlab.tasks.datafiles import DataFileError


def rows(small_ood, large_ood, categories=False):
    out = []
    for setting, values in ((SMALL_INIT.name, small_ood), (LARGE_INIT.name, large_ood)):
        for n_train, per_seed in values.items():
            for seed, ood in enumerate(per_seed):
                row = {
                    "setting": setting,
                    "n_train": n_train,
                    "seed": seed,
                    "train_accuracy": 1.0,
                    "in_distribution_accuracy": 0.99,
                    "out_of_distribution_accuracy": ood,
                }
                if categories:
                    row["gen/pp_recursion_accuracy"] = ood / 2
                out.append(row)
    return out


def test_aggregate_and_verdict_over_seeds():
    data = rows({100: [0.2, 0.4], 1000: [0.9, 0.7]}, {100: [0.5, 0.5], 1000: [0.6, 0.6]})
    summary = aggregate(data)
    small_100 = next(e for e in summary if e["setting"] == SMALL_INIT.name and e["n_train"] == 100)
    assert small_100["out_of_distribution_accuracy_mean"] == pytest.approx(0.3)
    assert small_100["out_of_distribution_accuracy_min"] == 0.2
    assert small_100["out_of_distribution_accuracy_max"] == 0.4
    sentence = verdict(summary)
    assert "at 1 of 2 training sizes" in sentence
    assert "0.550 against 0.550" in sentence


def test_write_report_files_and_cogs_categories(tmp_path):
    data = rows({100: [0.2], 1000: [0.8]}, {100: [0.1], 1000: [0.4]}, categories=True)
    write_report(data, preset("cogs", "cpu"), tmp_path)
    with (tmp_path / "results.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4
    record = json.loads((tmp_path / "summary.json").read_text())
    assert record["per_category"]["n_train"] == 1000
    assert record["per_category"]["accuracy"]["pp_recursion"][SMALL_INIT.name] == 0.4
    text = (tmp_path / "summary.md").read_text()
    assert "at 2 of 2 training sizes" in text and "| pp_recursion | 0.400 | 0.200 |" in text
    assert (tmp_path / "figure.png").stat().st_size > 1000


def test_run_config_carries_the_setting_and_refuses_unknown_names():
    config = run_config(preset("scan", "cpu"), SMALL_INIT.name, 1000, 1)
    assert (config["init_rate"], config["train"]["weight_decay"]) == (0.7, 0.1)
    assert config["model"]["arch"] == "gpt2" and config["n_train"] == 1000
    with pytest.raises(DataFileError, match="unknown setting"):
        run_config(preset("scan", "cpu"), "medium", 1000, 1)
    with pytest.raises(DataFileError, match="one of cpu, paper, smoke"):
        preset("scan", "huge")
