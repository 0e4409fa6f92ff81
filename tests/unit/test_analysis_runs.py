"""Reading run and sweep directories for the analyses."""

from pathlib import Path

import pytest

from anchorlab.analysis.runs import AnalysisInputError, RunEntry, find_runs, mixed_settings
from anchorlab.config import preset, with_overrides


def entry(**overrides) -> RunEntry:
    return RunEntry(Path("run"), with_overrides(preset("cpu"), overrides), None)


def test_mixed_settings_names_what_differs_besides_seed_and_learning_rate():
    same_experiment = [entry(seed=0), entry(seed=1, lr=3e-4, **{"train.checkpoint_every": 5})]
    assert mixed_settings(same_experiment) == []

    mixed = [entry(), entry(**{"model.norm_position": "post"})]
    assert mixed_settings(mixed) == ["model.norm_position"]


def test_find_runs_refuses_a_directory_without_runs(tmp_path):
    with pytest.raises(AnalysisInputError, match="holds no finished run"):
        find_runs(tmp_path)


def test_grid_numbers_include_what_only_deeper_runs_have():
    from types import SimpleNamespace

    from anchorlab.reports.analysis_figures import grid_number_names

    shallow = (SimpleNamespace(depth=1), SimpleNamespace(numbers={"layer1_x": 1.0, "gap": None}))
    deep = (SimpleNamespace(depth=2), SimpleNamespace(numbers={"layer1_x": 1.0, "layer2_x": 2.0}))
    assert grid_number_names([shallow, deep]) == ["layer1_x", "layer2_x"]
