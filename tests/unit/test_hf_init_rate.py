"""The initialization rate on transformers' GPT-2, built offline from a config."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed: pip install 'anchorlab[hf]'"
)

from anchorlab import apply_init_rate, audit_init_rate  # noqa: E402
from anchorlab.init.huggingface import (  # noqa: E402
    CheckpointError,
    gpt2_model,
    init_pretrained_model,
    load_pretrained_checked,
)


def acceptance_model():
    config = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=128, n_positions=16)
    return transformers.GPT2LMHeadModel(config)


def conv1d_weights(model):
    return [
        (name, module.weight)
        for name, module in model.named_modules()
        if type(module).__name__ == "Conv1D"
    ]


@pytest.mark.parametrize("gamma", [0.3, 0.5, 0.8])
def test_conv1d_std_follows_first_dimension(gamma):
    model = acceptance_model()
    apply_init_rate(model, gamma, generator=torch.Generator().manual_seed(1))

    weights = conv1d_weights(model)
    assert len(weights) == 8  # c_attn, c_proj, c_fc, mlp c_proj per layer
    for name, weight in weights:
        expected = weight.shape[0] ** -gamma
        measured = weight.detach().std().item()
        assert abs(measured - expected) <= 0.05 * expected, (name, measured, expected)
    # c_fc (64, 256) and the MLP's c_proj (256, 64) tell (in, out) from (out, in)
    mlp = model.transformer.h[0].mlp
    assert mlp.c_proj.weight.std().item() < 0.8 * mlp.c_fc.weight.std().item()


def test_layernorm_gains_one_biases_zero():
    model = acceptance_model()
    apply_init_rate(model, 0.5)

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.LayerNorm):
            assert torch.all(module.weight == 1), name
            assert torch.all(module.bias == 0), name
        if type(module).__name__ == "Conv1D":
            assert torch.all(module.bias == 0), name


def test_audit_states_the_tied_embedding_rule():
    model = acceptance_model()
    assert model.lm_head.weight is model.transformer.wte.weight

    rows = {row.name: row for row in apply_init_rate(model, 0.5)}

    assert all(row.ok for row in rows.values())
    tied = rows["lm_head.weight"]
    assert tied.kind == "tied"
    assert "transformer.wte.weight" in tied.note and "std 0.125" in tied.note
    assert rows["transformer.wpe.weight"].kind == "position"


def test_tied_rule_disagreement_is_stated():
    model = acceptance_model()

    rows = {row.name: row for row in apply_init_rate(model, 0.5, embedding_fan_in="rows")}

    # the table has 128 rows: wte (and so lm_head) at 128 ** -0.5; lm_head's own rule: 64
    assert rows["transformer.wte.weight"].expected_std == pytest.approx(128**-0.5)
    assert "its own matrix rule would give std 0.125" in rows["lm_head.weight"].note


def test_library_reinit_after_custom_init_is_detected():
    """The known failure: the library's own init runs again after a custom init."""
    model = acceptance_model()
    init_pretrained_model(model, 0.5)
    assert all(row.ok for row in audit_init_rate(model))

    model.apply(model._init_weights)  # what transformers' init_weights runs (std 0.02)

    off = {row.name for row in audit_init_rate(model) if not row.ok}
    assert "transformer.wte.weight" in off
    assert {name + ".weight" for name, _ in conv1d_weights(model)} <= off


def test_checkpoint_round_trip_keeps_the_init(tmp_path):
    model = gpt2_model()
    init_pretrained_model(model, 0.8, generator=torch.Generator().manual_seed(3))
    model.save_pretrained(tmp_path)

    loaded = load_pretrained_checked(tmp_path)

    assert all(row.ok for row in audit_init_rate(loaded))  # gamma 0.8 read from the checkpoint
    loaded_state = loaded.state_dict()
    assert set(loaded_state) == set(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded_state[name]), name
    assert loaded.lm_head.weight is loaded.transformer.wte.weight


def test_incomplete_checkpoint_is_refused_not_reinitialized(tmp_path):
    from safetensors.torch import load_file, save_file

    model = gpt2_model()
    init_pretrained_model(model, 0.5)
    model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    state = load_file(str(weights))
    del state["transformer.h.1.mlp.c_fc.weight"]
    save_file(state, str(weights), metadata={"format": "pt"})

    # the library alone fills the gap with its own init, silently for a script
    plain = transformers.GPT2LMHeadModel.from_pretrained(tmp_path, local_files_only=True)
    off = [row.name for row in audit_init_rate(plain, 0.5) if not row.ok]
    assert off == ["transformer.h.1.mlp.c_fc.weight"]

    with pytest.raises(CheckpointError, match="missing: transformer.h.1.mlp.c_fc.weight"):
        load_pretrained_checked(tmp_path)


def test_load_refuses_a_directory_without_config(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        load_pretrained_checked(tmp_path)
