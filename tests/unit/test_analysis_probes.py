"""Probe sequences and the whole analysis on a small untrained model."""

import numpy as np
import pytest
import torch

from anchorlab.analysis.mechanism import AnalysisSettings, analyze_model
from anchorlab.analysis.probes import activations, all_pairs, noise_contexts, probe_tokens
from anchorlab.models.decoder import AnchorTransformer, ModelConfig
from anchorlab.tasks import task_preset

SPEC = task_preset("standard")


def test_probes_differ_only_at_the_key_and_the_pair():
    contexts = noise_contexts(SPEC, 5, seed=3)
    tokens = probe_tokens(contexts, [30, 31], [(1, 2), (4, 3)])

    assert tokens.shape == (2, 2, 5, SPEC.seq_len)
    rows = np.arange(5)
    p = contexts.key_position
    assert (tokens[1, 0, rows, p] == 30).all() and (tokens[1, 1, rows, p] == 31).all()
    assert (tokens[1, 0, rows, p + 1] == 4).all() and (tokens[1, 0, rows, p + 2] == 3).all()
    changed = (tokens[0, 0] != tokens[1, 1]).sum(axis=1)
    assert (changed <= 3).all()
    assert len(all_pairs(SPEC)) == 16


def test_noise_contexts_refuse_a_position_the_task_does_not_use():
    with pytest.raises(ValueError, match="key position"):
        noise_contexts(SPEC, 3, key_position=7)


def small_model(n_layers: int) -> AnchorTransformer:
    torch.manual_seed(0)
    config = ModelConfig(n_layers=n_layers, d_model=16, d_k=16, d_v=16, d_ff=32, n_heads=2)
    return AnchorTransformer(config)


def test_activations_keep_rows_aligned_across_batches():
    model = small_model(2)
    tokens = probe_tokens(noise_contexts(SPEC, 7), [40], [(1, 1)]).reshape(-1, SPEC.seq_len)
    whole = activations(model, tokens, ["blocks.1.attn.pattern"], batch_size=64)
    split = activations(model, tokens, ["blocks.1.attn.pattern"], batch_size=3)
    assert whole["blocks.1.attn.pattern"].shape == (7, 2, 9, 9)
    assert np.allclose(whole["blocks.1.attn.pattern"], split["blocks.1.attn.pattern"], atol=1e-6)
    with pytest.raises(KeyError, match="no activation"):
        activations(model, tokens, ["blocks.5.out"])


SMALL = AnalysisSettings(flow_sequences=50, cluster_sequences=200, tsne_points=0, probe_contexts=2)


def test_analyze_model_returns_every_number(analysis_numbers):
    result = analyze_model(small_model(2), SPEC, SMALL, maps=False)
    assert analysis_numbers <= set(result.numbers)
    assert all(np.isfinite(result.numbers[name]) for name in analysis_numbers)
    assert set(result.stable_rank) >= {"embed", "blocks.0.attn.query", "readout"}
    assert result.flow is None and result.condensation is None


def test_a_one_layer_model_has_no_second_layer_numbers():
    result = analyze_model(small_model(1), SPEC, SMALL, maps=False)
    assert result.numbers["equal_target_cosine_gap"] is None
    assert result.numbers["value_single_anchor_cosine_gap"] is None
    assert "layer2_anchor_to_key" not in result.numbers
