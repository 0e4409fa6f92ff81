"""The decoder: shapes, cached activations, and the last-position shortcut."""

import pytest
import torch
from pydantic import ValidationError

from anchorlab import apply_init_rate
from anchorlab.models import AnchorTransformer, ModelConfig


def small(**fields) -> AnchorTransformer:
    config = ModelConfig(d_model=32, d_k=32, d_v=16, d_ff=48, **fields)
    model = AnchorTransformer(config)
    apply_init_rate(model, 0.5, generator=torch.Generator().manual_seed(0))
    return model.eval()


@pytest.mark.parametrize("norm_position", ["post", "pre"])
@pytest.mark.parametrize("n_heads", [1, 4])
def test_last_position_shortcut_matches_the_full_forward(norm_position, n_heads):
    model = small(norm_position=norm_position, n_heads=n_heads, n_layers=3)
    tokens = torch.randint(0, 201, (5, 9))

    fast = model(tokens)
    full, cache = model.run_with_cache(tokens)

    assert fast.shape == (5, 201)
    assert torch.allclose(fast, full, atol=1e-5)


def test_cache_holds_every_documented_activation():
    model = small(n_layers=2, n_heads=2)
    _, cache = model.run_with_cache(torch.randint(0, 201, (3, 9)))

    assert cache["embed"].shape == (3, 9, 32)
    assert cache["pos_embed"].shape == (9, 32)
    for layer in range(2):
        pattern = cache[f"blocks.{layer}.attn.pattern"]
        assert pattern.shape == (3, 2, 9, 9)
        assert torch.allclose(pattern.sum(-1), torch.ones(3, 2, 9))
        assert torch.all(pattern.triu(diagonal=1) == 0), "attention is causal"
        assert cache[f"blocks.{layer}.attn.values"].shape == (3, 2, 9, 8)
        assert cache[f"blocks.{layer}.attn_out"].shape == (3, 9, 32)
        assert cache[f"blocks.{layer}.out"].shape == (3, 9, 32)


def test_post_ln_block_outputs_are_normalized():
    model = small(norm_position="post")
    _, cache = model.run_with_cache(torch.randint(0, 201, (4, 9)))
    out = cache["blocks.0.attn_out"]
    assert torch.allclose(out.mean(-1), torch.zeros(4, 9), atol=1e-5)


def test_readout_is_untied_and_biases_follow_the_config():
    model = small(block_bias=False, readout_bias=True)
    assert model.readout.weight.data_ptr() != model.embed.weight.data_ptr()
    assert model.blocks[0].attn.query.bias is None
    assert model.readout.bias is not None


@pytest.mark.parametrize(
    "fields", [{"d_k": 30, "n_heads": 4}, {"n_layers": 0}, {"activation": "tanh"}]
)
def test_invalid_configs_are_refused(fields):
    with pytest.raises(ValidationError):
        ModelConfig(**fields)


def test_too_long_input_is_refused():
    with pytest.raises(ValueError, match="exceeds seq_len"):
        small()(torch.zeros(1, 12, dtype=torch.long))
