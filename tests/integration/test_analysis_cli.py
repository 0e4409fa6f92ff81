"""``anchorlab analyze`` on tiny runs trained here, as a user runs it."""

import json
import shutil

import pytest

from anchorlab.config import preset, with_overrides
from anchorlab.train.run import run_experiment

FAST = (
    "--tsne-points",
    "300",
    "--sequences",
    "400",
    "--flow-sequences",
    "100",
    "--contexts",
    "2",
    "--threads",
    "1",
)
FIGURES = {
    "information_flow.png",
    "information_flow.svg",
    "representation_tsne.png",
    "equal_target_cosine.png",
    "value_vectors.png",
    "wq1_condensation.png",
    "embedding_structure.png",
    "spectra.png",
}


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A directory with two smoke runs (gamma 0.4 and 0.8), the second with checkpoints."""
    root = tmp_path_factory.mktemp("sweep")
    for gamma, checkpoint_every in ((0.4, 0), (0.8, 15)):
        config = with_overrides(
            preset("smoke"),
            {
                "gamma": gamma,
                "steps": 30,
                "train.eval_every": 30,
                "train.checkpoint_every": checkpoint_every,
                "threads": 1,
            },
        )
        run_experiment(config, root / "runs" / f"g{gamma}")
    return root


def test_analyze_a_run_writes_every_number_and_figure(
    anchorlab_cli, sweep_dir, tmp_path, analysis_numbers
):
    out = tmp_path / "analysis"
    result = anchorlab_cli("analyze", str(sweep_dir / "runs" / "g0.8"), "--out", str(out), *FAST)

    report = json.loads((out / "analysis.json").read_text())
    assert analysis_numbers <= set(report["numbers"])
    assert report["run"]["gamma"] == 0.8 and report["run"]["depth"] == 2
    assert "blocks.0.attn.query" in report["stable_rank"]
    assert len(report["embedding_covariance_eigenvalues"]) == 32
    assert set(report["figures"]) == FIGURES
    assert all((out / name).stat().st_size > 0 for name in FIGURES)
    assert "mirror_pair_ratio" in result.stdout


def test_analyze_over_training_has_a_value_per_checkpoint(
    anchorlab_cli, sweep_dir, tmp_path, analysis_numbers
):
    out = tmp_path / "analysis"
    args = ("analyze", str(sweep_dir / "runs" / "g0.8"), "--out", str(out), "--over-training")
    anchorlab_cli(*args, *FAST, "--tsne-points", "0")

    curve = json.loads((out / "analysis.json").read_text())["over_training"]
    assert curve["steps"] == [0, 15, 30]
    assert all(len(curve["numbers"][name]) == 3 for name in analysis_numbers)
    assert (out / "over_training.png").is_file()
    assert not (out / "representation_tsne.png").exists()


def test_analyze_a_sweep_draws_the_grid(anchorlab_cli, sweep_dir, tmp_path):
    out = tmp_path / "grid"
    anchorlab_cli("analyze", str(sweep_dir), "--out", str(out), *FAST, "--tsne-points", "0")

    summary = json.loads((out / "analysis.json").read_text())
    assert sorted(run["run"]["gamma"] for run in summary["runs"]) == [0.4, 0.8]
    for name in ("grid_wq1_condensation", "grid_embedding_pca", "grid_information_flow"):
        assert (out / f"{name}.png").is_file()
    assert (out / "grid_numbers.png").is_file()
    for run in summary["runs"]:
        assert (out / run["cell_dir"] / "analysis.json").is_file()


def test_bad_input_is_one_line_with_exit_status_2(anchorlab_cli, sweep_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(sweep_dir / "runs" / "g0.4" / "config.json", unfinished)
    cases = {
        str(tmp_path / "missing"): "does not exist",
        str(empty): "holds no finished run",
        str(unfinished): "did not finish",
    }
    for path, message in cases.items():
        result = anchorlab_cli("analyze", path, "--out", str(tmp_path / "out"), check=False)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    no_checkpoints = str(sweep_dir / "runs" / "g0.4")
    result = anchorlab_cli(
        "analyze", no_checkpoints, "--out", str(tmp_path / "o"), "--over-training", check=False
    )
    assert result.returncode == 2 and "--checkpoint-every" in result.stderr
