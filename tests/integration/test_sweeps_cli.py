"""Sweeps as a user runs them: the phase-diagram and plot commands, kill -9 and resume,
the Ray backend on a local instance, and one-line errors for bad input."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SMOKE = ["phase-diagram", "--preset", "smoke", "--axis", "depth=1", "--workers", "2"]


def test_smoke_sweep_reports_resumes_and_redraws(anchorlab_cli, tmp_path):
    out = tmp_path / "sweep"
    first = anchorlab_cli(*SMOKE, "--out", str(out))
    assert "trained 2 now, reused 0" in first.stderr
    with (out / "phase_diagram.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["gamma"], r["depth"], r["n_seeds"]) for r in rows] == [
        ("0.4", "1", "1"),
        ("0.8", "1", "1"),
    ]
    for name in ("phase_diagram.png", "phase_diagram.svg", "phase_boundary.csv", "sweep.db"):
        assert (out / name).stat().st_size > 0
    assert "boundary depth 1" in first.stdout

    again = anchorlab_cli(*SMOKE, "--out", str(out))
    assert "trained 0 now, reused 2" in again.stderr
    assert again.stdout.split("boundary")[0] == first.stdout.split("boundary")[0]

    (out / "phase_diagram.png").unlink()
    redrawn = anchorlab_cli("plot", str(out))
    assert (out / "phase_diagram.png").is_file() and "wrote" in redrawn.stdout
    with sqlite3.connect(out / "sweep.db") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--axis", "gamm=0.4"], "unknown setting 'gamm'"),
        (["--axis", "gamma=abc"], "bad value 'abc' for axis gamma"),
        (["--axis", "depth=0"], "bad value 0 for axis depth"),
        (["--preset", "huge"], "'huge' is not one of"),
        (["--out", "{file}/sub"], "cannot write to"),
        (["--out", "{damaged}"], "is damaged or not a sweep store"),
    ],
)
def test_bad_input_gets_one_line_and_status_2(anchorlab_cli, tmp_path, args, message):
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "sweep.db").write_bytes(b"garbage" * 1000)
    args = [a.format(file=tmp_path / "file", damaged=tmp_path / "damaged") for a in args]
    result = anchorlab_cli("phase-diagram", "--preset", "smoke", *args, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("anchorlab: error:")


def test_plot_of_a_directory_without_a_store_fails_cleanly(anchorlab_cli, tmp_path):
    result = anchorlab_cli("plot", str(tmp_path), check=False)
    assert result.returncode == 2 and "no sweep store here" in result.stderr


TOY_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from anchorlab.sweeps import Job, Sweep, run_sweep

    def slow(config, run_dir):
        log = Path(config["log"])
        with log.open("a") as handle:
            handle.write(f"start {config['x']} {os.getpid()}\\n")
        time.sleep(config["sleep"])
        (run_dir / "out.txt").write_text("done")
        with log.open("a") as handle:
            handle.write(f"end {config['x']} {os.getpid()}\\n")
        return {"x": config["x"]}

    def make_job(cell):
        return Job({"x": cell["x"], "sleep": 1.0, "log": sys.argv[2]}, slow, label=f"x{cell['x']}")

    if __name__ == "__main__":
        sweep = Sweep("toy", {"x": list(range(6))}, make_job)
        result = run_sweep(sweep, sys.argv[1], workers=2, threads=1)
        print("trained", result.trained, "reused", result.reused, "recovered", result.recovered)
    """
)


def test_kill_9_then_rerun_completes_with_each_cell_finished_once(tmp_path):
    script, out, log = tmp_path / "toy_sweep.py", tmp_path / "sweep", tmp_path / "attempts.log"
    script.write_text(TOY_SCRIPT)
    command = [sys.executable, str(script), str(out), str(log)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if sum(line.startswith("end") for line in lines) >= 2:
            break
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    workers = {int(line.split()[2]) for line in log.read_text().splitlines()}
    time.sleep(3)  # orphaned workers notice their parent is gone
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    ends = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("end")]
    assert sorted(ends, key=int) == [str(x) for x in range(6)]  # each cell finished once
    with sqlite3.connect(out / "sweep.db") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 6
    assert all((out / "runs").glob("x*/out.txt"))


def test_ray_backend_runs_a_smoke_sweep_on_a_local_instance(tmp_path):
    pytest.importorskip("ray")
    from tests.integration.conftest import run_subprocess

    out = tmp_path / "ray"
    result = run_subprocess(*SMOKE, "--backend", "ray", "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trained 2 now" in result.stderr
    with sqlite3.connect(out / "sweep.db") as db:
        backends = {row[0] for row in db.execute("SELECT backend FROM runs")}
    assert backends == {"ray"}
    assert all((Path(p) / "model.safetensors").is_file() for p in (out / "runs").iterdir())


def test_a_sweep_file_and_dry_run_list_the_cells_without_training(anchorlab_cli, tmp_path):
    (tmp_path / "sweep.yaml").write_text(
        "preset: smoke\naxes:\n  gamma: [0.3, 0.9]\n  seed: '0:2'\nset:\n  train.steps: 50\n"
        "lr_search: {k: 2, low: 0.001, high: 0.002}\n"
    )
    (tmp_path / "sweep.toml").write_text('preset = "smoke"\n[axes]\ndepth = [1]\n')
    listed = anchorlab_cli(
        "phase-diagram",
        "--config",
        str(tmp_path / "sweep.yaml"),
        "--out",
        str(tmp_path / "x"),
        "--dry-run",
    )
    assert "24 runs" in listed.stdout  # 2 gammas x 2 depths x 3 seeds x 2 learning rates
    assert not (tmp_path / "x").exists()
    listed = anchorlab_cli(
        "phase-diagram",
        "--config",
        str(tmp_path / "sweep.toml"),
        "--axis",
        "gamma=0.5",
        "--dry-run",
    )
    assert "1 runs" in listed.stdout
    (tmp_path / "bad.yaml").write_text("preset: smoke\naxis: {gamma: [1]}\n")
    bad = anchorlab_cli("phase-diagram", "--config", str(tmp_path / "bad.yaml"), check=False)
    assert bad.returncode == 2 and "unknown key(s) ['axis']" in bad.stderr
