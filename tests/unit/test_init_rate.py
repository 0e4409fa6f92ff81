"""apply_init_rate: N(0, d_in ** (-2 gamma)) for every matrix, nothing else touched wrongly."""

import pytest
import torch
from torch import nn

from anchorlab import InitRule, apply_init_rate, audit_init_rate, register_fan_in
from anchorlab.init import InitRateError, check_distinct_layers
from anchorlab.models import AnchorTransformer, ModelConfig


class Mixed(nn.Module):
    """Embedding, Linear layers of different fan-ins (with biases) and LayerNorms."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(300, 96)
        self.up = nn.Linear(96, 384)
        self.norm = nn.LayerNorm(384)
        self.down = nn.Linear(384, 48)
        self.out_norm = nn.LayerNorm(48)


@pytest.mark.parametrize("gamma", [0.3, 0.5, 0.8])
def test_every_matrix_has_std_of_its_fan_in(gamma):
    model = Mixed()
    apply_init_rate(model, gamma, generator=torch.Generator().manual_seed(0))

    for weight, fan_in in [
        (model.embed.weight, 96),
        (model.up.weight, 96),
        (model.down.weight, 384),
    ]:
        expected = fan_in**-gamma
        assert abs(weight.std().item() - expected) < 0.05 * expected
        assert abs(weight.mean().item()) < 0.05 * expected
    for norm in (model.norm, model.out_norm):
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
        assert torch.equal(norm.bias, torch.zeros_like(norm.bias))
    for linear in (model.up, model.down):
        assert torch.equal(linear.bias, torch.zeros_like(linear.bias))


def test_audit_reports_every_tensor_and_all_follow_the_rule():
    model = Mixed()
    rows = apply_init_rate(model, 0.5)
    assert [row.name for row in rows] == [name for name, _ in model.named_parameters()]
    assert all(row.ok for row in rows)
    up = next(row for row in rows if row.name == "up.weight")
    assert (up.fan_in, up.shape, up.kind) == (96, (384, 96), "matrix")
    assert up.expected_std == pytest.approx(96**-0.5)


def test_audit_catches_a_reinitialization_after_the_rule():
    model = Mixed()
    apply_init_rate(model, 0.8)
    model.up.reset_parameters()  # what a library's own init would do
    bad = [row.name for row in audit_init_rate(model) if not row.ok]
    assert "up.weight" in bad and "up.bias" in bad


def test_embedding_fan_in_rows_rule_and_overrides():
    model = Mixed()
    rule = InitRule(embedding_fan_in="rows", overrides={"down": 0.3})
    apply_init_rate(model, 0.8, rule)
    assert model.embed.weight.std().item() == pytest.approx(300**-0.8, rel=0.05)
    assert model.down.weight.std().item() == pytest.approx(384**-0.3, rel=0.05)
    assert model.up.weight.std().item() == pytest.approx(96**-0.8, rel=0.05)


def test_an_override_that_matches_no_module_is_refused():
    with pytest.raises(InitRateError, match="'nomatch\\*' matches no module"):
        apply_init_rate(Mixed(), 0.8, overrides={"nomatch*": 0.3})


def test_layernorm_gain_rules():
    model = Mixed()
    apply_init_rate(model, 0.5, layernorm_gain="scaled")
    assert torch.allclose(model.norm.weight, torch.full((384,), 384**-0.5))
    apply_init_rate(model, 0.5, layernorm_gain="rate")
    assert model.norm.weight.std().item() == pytest.approx(384**-0.5, rel=0.1)
    assert torch.equal(model.norm.bias, torch.zeros(384))


def test_tied_weights_are_drawn_once_and_reported():
    model = Mixed()
    model.readout = nn.Linear(96, 300, bias=False)
    model.readout.weight = model.embed.weight
    rows = apply_init_rate(model, 0.5)
    tied = [row for row in rows if row.kind == "tied"]
    assert len(tied) == 1 and "embed.weight" in tied[0].note
    assert model.embed.weight.std().item() == pytest.approx(96**-0.5, rel=0.05)


def test_unknown_layer_types_are_refused_until_registered():
    class Bilinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Parameter(torch.empty(50, 20))

    model = nn.Sequential(Bilinear())
    with pytest.raises(InitRateError, match="register_fan_in"):
        apply_init_rate(model, 0.5)

    register_fan_in(Bilinear, lambda module, name, tensor: tensor.shape[0])
    apply_init_rate(model, 0.5)
    assert model[0].table.std().item() == pytest.approx(50**-0.5, rel=0.1)


def test_conv1d_storage_order_reads_fan_in_from_first_dimension():
    class Conv1D(nn.Module):  # Hugging Face GPT-2 stores (in, out)
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(64, 256))
            self.bias = nn.Parameter(torch.empty(256))

    layer = Conv1D()
    apply_init_rate(layer, 0.5)
    assert layer.weight.std().item() == pytest.approx(64**-0.5, rel=0.05)


@pytest.mark.parametrize("gamma", [0, -0.5, float("nan")])
def test_non_positive_rate_is_refused(gamma):
    with pytest.raises(InitRateError, match="positive"):
        apply_init_rate(Mixed(), gamma)


def test_layers_of_the_model_start_different_and_identical_copies_are_detected():
    model = AnchorTransformer(ModelConfig(d_model=32, d_k=32, d_v=32, d_ff=64, n_layers=3))
    apply_init_rate(model, 0.5)
    assert check_distinct_layers(model) == []
    first, second = model.blocks[0].attn.query.weight, model.blocks[1].attn.query.weight
    assert not torch.equal(first, second)

    with torch.no_grad():
        second.copy_(first)
    assert check_distinct_layers(model) == [
        ("blocks.0.attn.query.weight", "blocks.1.attn.query.weight")
    ]


def test_same_generator_seed_gives_the_same_weights():
    a, b = Mixed(), Mixed()
    apply_init_rate(a, 0.6, generator=torch.Generator().manual_seed(4))
    apply_init_rate(b, 0.6, generator=torch.Generator().manual_seed(4))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
