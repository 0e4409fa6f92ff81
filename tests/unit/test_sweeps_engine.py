"""The sweep engine and its store, with toy run functions (no training)."""

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from anchorlab.sweeps import (
    Job,
    LocalBackend,
    StoreError,
    Sweep,
    SweepError,
    SweepStore,
    config_key,
    run_directory,
    run_sweep,
)
from anchorlab.sweeps.engine import RESULT_FILENAME


def square(config: dict, run_dir: Path) -> dict:
    """Toy run: writes a file and logs the attempt next to the sweep directory."""
    log = Path(config["log"])
    with log.open("a") as handle:
        handle.write(f"start {config['x']}\n")
    time.sleep(config.get("sleep", 0))
    if config["x"] == config.get("fail_at"):
        raise RuntimeError(f"x={config['x']} is refused")
    (run_dir / "value.txt").write_text(str(config["x"] ** 2))
    with log.open("a") as handle:
        handle.write(f"end {config['x']}\n")
    return {"y": config["x"] ** 2, "solution": "inferential" if config["x"] else "symmetric"}


def crash_once(config: dict, run_dir: Path) -> dict:
    """Toy run whose worker process dies (SIGKILL) the first time it runs cell 1."""
    marker = Path(config["marker"])
    if config["x"] == 1 and not marker.exists():
        marker.write_text("crashed")
        os.kill(os.getpid(), 9)
    return {"y": config["x"]}


def toy_sweep(tmp_path: Path, xs, **extra) -> Sweep:
    def make_job(cell):
        config = {"x": cell["x"], "seed": cell["seed"], "log": str(tmp_path / "attempts.log")}
        return Job(config | extra, square, label=f"x{cell['x']}-s{cell['seed']}")

    return Sweep("toy", {"x": list(xs), "seed": [0]}, make_job)


def attempts(tmp_path: Path) -> list[str]:
    path = tmp_path / "attempts.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_sweep_stores_every_cell_once_and_a_rerun_trains_nothing(tmp_path):
    out = tmp_path / "sweep"
    first = run_sweep(toy_sweep(tmp_path, [0, 1, 2]), out, workers=2, threads=1)
    assert first.complete and first.trained == 3 and first.reused == 0
    assert [r.metrics["y"] for r in first.records] == [0, 1, 4]
    assert [r.solution for r in first.records] == ["symmetric", "inferential", "inferential"]
    record = first.records[2]
    assert (out / record.run_dir / "value.txt").read_text() == "4"
    assert record.threads == 1 and record.versions["anchorlab"] and record.host

    again = run_sweep(toy_sweep(tmp_path, [0, 1, 2]), out, workers=2)
    assert again.trained == 0 and again.reused == 3
    assert sorted(attempts(tmp_path)).count("end 2") == 1


def test_a_changed_grid_reuses_the_cells_it_shares(tmp_path):
    out = tmp_path / "sweep"
    run_sweep(toy_sweep(tmp_path, [0, 1]), out, "inline")
    wider = run_sweep(toy_sweep(tmp_path, [1, 0, 3]), out, "inline")
    assert wider.trained == 1 and wider.reused == 2
    assert [r.metrics["y"] for r in wider.records] == [1, 0, 9]
    with SweepStore(out / "sweep.db") as store:
        assert len(store) == 3
        name, spec, cells = store.load_grid()
    assert name == "toy" and [c["cell"]["x"] for c in cells] == [1, 0, 3]
    assert spec["axes"] == {"x": [1, 0, 3], "seed": [0]}


def test_a_failing_job_is_reported_and_retried_on_the_next_run(tmp_path):
    out = tmp_path / "sweep"
    result = run_sweep(toy_sweep(tmp_path, [0, 1, 2], fail_at=1), out, "inline")
    assert not result.complete and result.trained == 2
    assert result.failures[0][0] == {"x": 1, "seed": 0}
    assert "RuntimeError: x=1 is refused" in result.failures[0][1]
    assert result.records[1] is None

    fixed = run_sweep(toy_sweep(tmp_path, [0, 1, 2], fail_at=1), out, "inline")
    assert fixed.trained == 0 and len(fixed.failures) == 1  # same config, same failure


def test_a_half_written_run_is_redone_and_a_finished_one_recorded(tmp_path):
    out = tmp_path / "sweep"
    sweep = toy_sweep(tmp_path, [0, 1])
    run_sweep(sweep, out, "inline")
    (cell0, job0), (cell1, job1) = sweep.jobs()

    with sqlite3.connect(out / "sweep.db") as db:  # the parent died before recording both
        db.execute("DELETE FROM runs")
    half = out / run_directory(job1, job1.key)
    (half / RESULT_FILENAME).unlink()  # ... and run 1 never finished

    result = run_sweep(sweep, out, "inline")
    assert result.recovered == 1 and result.trained == 1 and result.complete
    assert attempts(tmp_path).count("end 0") == 1 and attempts(tmp_path).count("end 1") == 2
    assert (half / "value.txt").read_text() == "1"


def test_a_crashed_worker_is_replaced_and_its_cell_retried(tmp_path):
    marker = tmp_path / "crashed"

    def make_job(cell):
        return Job({"x": cell["x"], "marker": str(marker)}, crash_once, label=f"x{cell['x']}")

    sweep = Sweep("crash", {"x": [0, 1, 2]}, make_job)
    result = run_sweep(sweep, tmp_path / "sweep", workers=1, threads=1)
    assert marker.exists() and result.complete and result.trained == 3
    assert [r.metrics["y"] for r in result.records] == [0, 1, 2]


def test_keys_depend_on_the_configuration_only(tmp_path):
    a = Job({"x": 1, "nested": {"b": 2, "a": [1, 2]}}, square)
    b = Job({"nested": {"a": (1, 2), "b": 2}, "x": 1}, square, label="other label")
    assert a.key == b.key == config_key({"x": 1, "nested": {"a": [1, 2], "b": 2}}, a.kind)
    assert Job({"x": 1.5}, square).key != Job({"x": 1.25}, square).key
    assert Job({"x": 1}, square, kind="other").key != Job({"x": 1}, square).key
    assert a.kind == "tests.unit.test_sweeps_engine.square"


def test_jobs_refuse_what_cannot_reach_a_worker():
    with pytest.raises(SweepError, match="module-level"):
        Job({"x": 1}, lambda config, run_dir: {})
    with pytest.raises(SweepError, match="plain JSON"):
        Job({"x": object()}, square)
    with pytest.raises(SweepError, match="repeats"):
        Sweep("s", {"x": [1, 1]}, lambda cell: None)


def test_local_backend_splits_threads_between_workers():
    backend = LocalBackend(workers=2, threads=None)
    assert backend.capacity == 2 and backend.threads == max(1, (os.cpu_count() or 1) // 2)


def test_a_second_sweep_into_the_same_directory_is_refused(tmp_path):
    from anchorlab.sweeps.engine import sweep_lock

    with sweep_lock(tmp_path):
        with pytest.raises(SweepError, match="another sweep"):
            run_sweep(toy_sweep(tmp_path, [0]), tmp_path, workers=1)


@pytest.mark.parametrize("damage", ["garbage", "foreign", "newer", "empty-tables"])
def test_an_unusable_store_gets_one_line_naming_the_file(tmp_path, damage):
    path = tmp_path / "sweep.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif damage == "foreign":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE things (x)")
    else:
        SweepStore(path).close()
        with sqlite3.connect(path) as db:
            if damage == "newer":
                db.execute("PRAGMA user_version = 99")
            else:
                db.execute("DROP TABLE runs")
    with pytest.raises(StoreError) as error:
        SweepStore(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert ("newer anchorlab" in message) == (damage == "newer")


def test_a_truncated_store_is_refused(tmp_path):
    out = tmp_path / "sweep"
    run_sweep(toy_sweep(tmp_path, range(40)), out, "inline")
    path = out / "sweep.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="damaged"):
        SweepStore(path).records()


def test_result_files_are_plain_json(tmp_path):
    out = tmp_path / "sweep"
    result = run_sweep(toy_sweep(tmp_path, [2]), out, "inline")
    data = json.loads((out / result.records[0].run_dir / RESULT_FILENAME).read_text())
    assert data["metrics"]["y"] == 4 and data["key"] == result.records[0].key
