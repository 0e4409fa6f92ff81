"""The core commands, run as a user runs them."""

import json

import numpy as np
import pytest

from anchorlab.tasks import task_preset
from tests.unit.test_task_anchor import check_rules


@pytest.mark.parametrize("split", ["train", "test", "heldout"])
def test_task_export_obeys_the_task_rules(anchorlab_cli, tmp_path, split):
    out = tmp_path / f"{split}.jsonl"
    anchorlab_cli(
        "task",
        "export",
        "--variant",
        "standard",
        "--split",
        split,
        "--n",
        "2000",
        "--seed",
        "1",
        "--out",
        str(out),
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2000 and {row["split"] for row in rows} == {split}

    class Data:  # the exported columns, as the generator's arrays
        tokens = np.array([r["tokens"] for r in rows])
        key = np.array([r["key"] for r in rows])
        key_position = np.array([r["key_position"] for r in rows])
        anchor_pair = np.array([r["anchor_pair"] for r in rows])
        inferential_target = np.array([r["inferential_target"] for r in rows])

    check_rules(Data, task_preset("standard"), split)
    for row in rows:
        if row["anchor_pair"] == [4, 3]:
            assert row["target"] == row["key"] - 10 and row["symmetric_target"] == row["key"] - 6
        if row["anchor_pair"] == [3, 4]:
            assert row["target"] == row["key"] - 6


def test_train_writes_a_run_directory_and_is_reproducible(anchorlab_cli, tmp_path):
    args = [
        "train",
        "--preset",
        "smoke",
        "--gamma",
        "0.6",
        "--depth",
        "2",
        "--seed",
        "3",
        "--checkpoint-every",
        "30",
        "--set",
        "threads=1",
    ]
    first = anchorlab_cli(*args, "--out", str(tmp_path / "a"))
    anchorlab_cli(*args, "--out", str(tmp_path / "b"))

    assert "solution:" in first.stdout
    for name in (
        "config.json",
        "metrics.json",
        "history.csv",
        "model.safetensors",
        "checkpoints/step_0000030.safetensors",
    ):
        assert (tmp_path / "a" / name).is_file(), name
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    for key in (
        "seen_test_accuracy",
        "inferential_accuracy",
        "symmetric_accuracy",
        "final_loss",
        "solution",
    ):
        assert a[key] == b[key], key
    history = (tmp_path / "a" / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,lr,loss") and len(history) == 3


def test_load_run_restores_the_trained_model(anchorlab_cli, tmp_path):
    import torch

    from anchorlab.train.run import load_run, make_datasets

    anchorlab_cli("train", "--preset", "smoke", "--out", str(tmp_path))
    config, model, metrics = load_run(tmp_path)
    data = make_datasets(config)
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.test.tokens)).argmax(-1).numpy()
    accuracy = float((predicted == data.test.target).mean())
    assert accuracy == pytest.approx(metrics["seen_test_accuracy"], abs=1e-6)


def test_init_audit_prints_every_tensor(anchorlab_cli):
    result = anchorlab_cli("init-audit", "--preset", "cpu", "--gamma", "0.3", "--depth", "2")
    assert "blocks.1.ffn.down.weight" in result.stdout
    assert "26/26 tensors follow the rule" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--gamma", "abc", "--out", "x"], "'--gamma'"),
        (["train", "--gamma", "-0.5", "--out", "x"], "positive"),
        (["train", "--preset", "nope", "--out", "x"], "'--preset'"),
        (["train", "--set", "model.n_heads=3", "--out", "x"], "divisible"),
        (["train", "--out", "/proc/anchorlab-run"], "cannot write"),
        (["task", "export", "--split", "dev", "--out", "x.jsonl"], "'--split'"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(anchorlab_cli, args, message):
    result = anchorlab_cli(*args, check=False)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_console_entry_point_reports_bad_input_in_one_line():
    from tests.integration.conftest import run_subprocess

    result = run_subprocess("train", "--depth", "0", "--out", "x")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--depth" in result.stderr


def test_a_finished_run_is_never_overwritten_unless_asked(anchorlab_cli, tmp_path):
    args = ["train", "--preset", "smoke", "--set", "threads=1", "--out", str(tmp_path)]
    anchorlab_cli(*args, "--checkpoint-every", "30")
    weights = (tmp_path / "model.safetensors").read_bytes()

    refused = anchorlab_cli(*args, "--seed", "1", check=False)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert (tmp_path / "model.safetensors").read_bytes() == weights

    anchorlab_cli(*args, "--seed", "1", "--overwrite")
    assert (tmp_path / "model.safetensors").read_bytes() != weights
    assert not (tmp_path / "checkpoints").exists()  # the replaced run's are gone


@pytest.mark.parametrize(
    "damage, message",
    [
        (("model.safetensors", b"garbage"), "cannot be loaded"),
        (("config.json", b'{"model": '), "config.json is damaged"),
        (("config.json", b'{"foo": 1}'), "config.json: foo"),
    ],
)
def test_a_damaged_run_directory_is_named_in_one_line(anchorlab_cli, tmp_path, damage, message):
    run = tmp_path / "run"
    anchorlab_cli("train", "--preset", "smoke", "--set", "threads=1", "--out", str(run))
    name, content = damage
    (run / name).write_bytes(content)

    result = anchorlab_cli("analyze", str(run), "--out", str(tmp_path / "a"), check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2
    assert message in lines[-1] and "Traceback" not in result.stderr, result.stderr
