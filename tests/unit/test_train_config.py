"""Schedule, solution labels and configuration overrides."""

import pytest

from anchorlab.config import ConfigError, preset, resolve_path, with_overrides
from anchorlab.train import TrainConfig, learning_rate
from anchorlab.train.run import classify_solution


def test_schedule_warms_up_linearly_then_decays_by_cosine():
    config = TrainConfig(steps=110, warmup_steps=10, lr=1e-3, lr_start=1e-5, lr_end=2e-5)
    assert learning_rate(config, 0) == pytest.approx(1e-5)
    assert learning_rate(config, 5) == pytest.approx((1e-5 + 1e-3) / 2)
    assert learning_rate(config, 10) == pytest.approx(1e-3)
    assert learning_rate(config, 60) == pytest.approx((1e-3 + 2e-5) / 2)
    assert learning_rate(config, 110) == pytest.approx(2e-5)


def test_paper_preset_follows_the_study_schedule():
    paper = preset("paper")
    steps_per_epoch = 440  # ceil(900,000 / 2048)
    assert paper.train.steps == 210 * steps_per_epoch
    assert paper.train.warmup_steps == 10 * steps_per_epoch
    assert (paper.train.lr, paper.train.lr_start, paper.train.lr_end) == (2.5e-4, 1e-5, 1e-5)
    assert paper.train.betas == (0.9, 0.999) and paper.train.batch_size == 2048
    assert (paper.model.d_model, paper.model.d_ff, paper.model.d_k) == (400, 1200, 200)
    assert paper.model.norm_position == "post" and paper.model.activation == "relu"
    assert (paper.init.layernorm_gain, paper.init.embedding_fan_in) == ("rate", "rows")


@pytest.mark.parametrize(
    "seen, inferential, symmetric, label",
    [
        (0.89, 1.0, 0.0, "unfit"),
        (0.95, 0.8, 0.1, "inferential"),
        (0.95, 0.1, 0.8, "symmetric"),
        (0.95, 0.4, 0.45, "neither"),
        (0.95, 0.6, 0.6, "inferential"),
        (float("nan"), 1.0, 0.0, "unfit"),
    ],
)
def test_solution_labels(seen, inferential, symmetric, label):
    assert classify_solution(seen, inferential, symmetric) == label


def test_overrides_by_alias_and_dotted_path():
    config = with_overrides(preset("cpu"), {"gamma": 0.7, "depth": 4, "train.lr": 3e-4})
    assert config.init.init_rate == 0.7 and config.model.n_layers == 4
    assert config.train.lr == 3e-4
    assert resolve_path("weight_decay") == "train.weight_decay"


def test_width_override_keeps_the_preset_ratios():
    config = with_overrides(preset("cpu"), {"width": 128})
    assert (config.model.d_model, config.model.d_k, config.model.d_ff) == (128, 128, 512)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"colour": 1}, "unknown setting 'colour'"),
        ({"gamma": -1}, "positive"),
        ({"model.n_heads": 3}, "divisible"),
        ({"train.device": "tpu"}, "device"),
        ({"variant": "other"}, "unknown task variant"),
    ],
)
def test_bad_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError, match=message) as error:
        with_overrides(preset("cpu"), overrides)
    assert "\n" not in str(error.value)


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match="choose one of"):
        preset("gpu-huge")
