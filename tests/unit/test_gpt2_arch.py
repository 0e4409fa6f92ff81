"""The GPT-2 architecture on anchorlab's decoder: family defaults, tied embedding, one code
path for caches and run directories."""

from __future__ import annotations

import json

import pytest
import torch

from anchorlab.config import ConfigError, RunConfig, preset, with_overrides
from anchorlab.init import audit_init_rate
from anchorlab.models.gpt2 import arch_defaults, gpt2_heads
from anchorlab.train.run import build_model, load_run, save_weights


def gpt2_config(**overrides) -> RunConfig:
    return with_overrides(preset("smoke"), {"arch": "gpt2", **overrides})


def test_gpt2_family_fills_the_gpt2_block():
    model = with_overrides(preset("cpu"), {"arch": "gpt2"}).model

    assert model.arch == "gpt2"
    assert (model.n_heads, model.d_k, model.d_v, model.d_ff) == (4, 64, 64, 256)
    assert model.activation == "gelu" and model.norm_position == "post"
    assert model.block_bias and not model.readout_bias and model.tie_embedding


def test_explicit_settings_win_over_family_defaults_in_any_order():
    first = with_overrides(preset("cpu"), {"norm": "pre", "heads": 2, "arch": "gpt2"})
    last = with_overrides(preset("cpu"), {"arch": "gpt2", "heads": 2, "norm": "pre"})

    assert first == last
    assert first.model.norm_position == "pre" and first.model.n_heads == 2
    wide = with_overrides(preset("cpu"), {"arch": "gpt2", "width": 128})
    assert (wide.model.d_ff, wide.model.n_heads) == (512, 8)


def test_study_family_leaves_the_cpu_preset_unchanged():
    assert with_overrides(preset("cpu"), {"arch": "study"}) == preset("cpu")
    assert preset("cpu").model.arch == "study" and not preset("cpu").model.tie_embedding


def test_unknown_family_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown arch 'bert'; choose one of study, gpt2"):
        with_overrides(preset("cpu"), {"arch": "bert"})


@pytest.mark.parametrize(("width", "heads"), [(32, 2), (64, 4), (128, 8), (768, 12), (400, 5)])
def test_gpt2_heads(width, heads):
    assert gpt2_heads(width) == heads
    assert arch_defaults("gpt2", width)["n_heads"] == heads


def test_tied_readout_is_the_embedding_and_the_audit_says_so():
    model = build_model(gpt2_config(gamma=0.5))

    assert model.readout.weight is model.embed.weight
    assert model.readout.bias is None
    rows = {row.name: row for row in audit_init_rate(model)}
    assert all(row.ok for row in rows.values())
    assert rows["readout.weight"].kind == "tied"
    assert rows["readout.weight"].note.startswith("tied to embed.weight: drawn once by its rule")


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_both_norm_variants_share_the_cache_names(norm):
    config = gpt2_config(norm=norm)
    model = build_model(config)
    tokens = torch.randint(0, 100, (3, config.model.seq_len))

    logits, cache = model.run_with_cache(tokens)

    assert logits.shape == (3, config.model.vocab_size)
    assert cache["blocks.0.attn.pattern"].shape == (3, config.model.n_heads, 9, 9)
    assert set(cache) >= {"embed", "pos_embed", "blocks.1.attn_out", "blocks.1.out"}
    assert torch.allclose(model(tokens), logits, atol=1e-5)
    assert (model.final_norm is None) == (norm == "post")


def test_run_directory_round_trip_keeps_the_tie(tmp_path):
    config = gpt2_config(gamma=0.7, seed=3)
    model = build_model(config)
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    save_weights(model, tmp_path / "model.safetensors")

    loaded_config, loaded, _ = load_run(tmp_path)

    assert loaded_config == config
    assert loaded.readout.weight is loaded.embed.weight
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
