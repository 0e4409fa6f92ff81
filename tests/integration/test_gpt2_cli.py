"""The GPT-2 commands end to end: init-audit --arch gpt2, init-audit-hf, gamma-curve."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_init_audit_gpt2_shows_the_tied_embedding(anchorlab_cli):
    result = anchorlab_cli("init-audit", "--arch", "gpt2", "--gamma", "0.8", "--json")

    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert all(row["ok"] for row in rows.values())
    assert rows["readout.weight"]["kind"] == "tied"
    assert "embed.weight" in rows["readout.weight"]["note"]
    assert rows["blocks.0.attn.query.bias"]["kind"] == "bias"  # GPT-2 blocks have biases


def test_init_audit_rejects_an_unknown_arch(anchorlab_cli):
    result = anchorlab_cli("init-audit", "--arch", "bert", check=False)

    assert result.returncode == 2
    assert "Invalid value for '--arch'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None,
    reason="transformers is not installed: pip install 'anchorlab[hf]'",
)
def test_init_audit_hf_on_transformers_gpt2(anchorlab_cli):
    result = anchorlab_cli("init-audit-hf", "--gamma", "0.3", "--json")

    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert all(row["ok"] for row in rows.values())
    assert rows["transformer.h.0.mlp.c_proj.weight"]["fan_in"] == 256  # Conv1D: (in, out)
    assert rows["lm_head.weight"]["note"].startswith("tied to transformer.wte.weight")


def test_gamma_curve_trains_resumes_and_draws(anchorlab_cli, tmp_path):
    out = tmp_path / "curve"
    args = ["gamma-curve", "--preset", "smoke", "--gammas", "0.4,0.8", "--seeds", "1"]
    args += ["--set", "steps=20", "--set", "train.eval_every=20", "--workers", "1"]
    args += ["--out", str(out)]

    first = anchorlab_cli(*args)
    again = anchorlab_cli(*args)

    assert "2 trained, 0 reused" in first.stdout
    assert "0 trained, 2 reused" in again.stdout
    assert "2 of 2 runs finished" in anchorlab_cli(*args, "--redraw").stdout
    with (out / "gamma_curve.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["gamma"] for row in rows] == ["0.4", "0.8"]
    for row in rows:
        assert 0.0 <= float(row["inferential_mean"]) <= 1.0
        assert row["runs"] == "1"
    assert (out / "gamma_curve.png").is_file()
    run_config = json.loads(next(out.glob("runs/*/config.json")).read_text())
    assert run_config["model"]["arch"] == "gpt2" and run_config["train"]["steps"] == 20


def test_init_audit_hf_without_transformers_says_how_to_install(anchorlab_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed

    result = anchorlab_cli("init-audit-hf", check=False)

    assert result.returncode == 2
    assert "pip install 'transformers>=4.40'" in result.stderr
    assert "Traceback" not in result.stderr
