"""Model families for anchorlab's decoder: the study's block and GPT-2's.

GPT-2 runs on anchorlab's own ``AnchorTransformer`` with a GPT-2 configuration rather than
on ``transformers``' ``GPT2LMHeadModel``, so that activation names, caches, run directories
and every analysis keep one code path. A GPT-2 block is, in ``ModelConfig`` terms:

- several heads (head width 16 below d_model 256, GPT-2's 64 from there on);
- d_k = d_v = d_model, d_ff = 4 d_model, GELU (exact; GPT-2 uses the tanh approximation);
- biases in every attention and feed-forward layer, no readout bias;
- the readout tied to the token embedding;
- post-LN, as the study switched GPT-2 to; ``norm_position="pre"`` gives GPT-2's own
  pre-LN order with a final LayerNorm before the readout.

GPT-2's dropout is left out, as in the study's own code.
"""

from __future__ import annotations

from typing import Any

ARCHITECTURES = ("study", "gpt2")

_STUDY_SWITCHES: dict[str, Any] = {
    "n_heads": 1,
    "block_bias": False,
    "readout_bias": True,
    "tie_embedding": False,
}

_GPT2_SWITCHES: dict[str, Any] = {
    "activation": "gelu",
    "block_bias": True,
    "readout_bias": False,
    "tie_embedding": True,
    "norm_position": "post",
}


def gpt2_heads(d_model: int) -> int:
    """GPT-2-style head count for a width: head width 16 below 256, 64 from 256 on, rounded
    down to a divisor of d_model (64 -> 4, 128 -> 8, 768 -> 12)."""
    heads = max(1, d_model // (16 if d_model < 256 else 64))
    while d_model % heads:
        heads -= 1
    return heads


def arch_defaults(arch: str, d_model: int) -> dict[str, Any]:
    """The ``ModelConfig`` fields the family ``arch`` fixes for a model of width d_model.

    ``study``: one head, no biases inside blocks, a readout bias, an untied readout; sizes,
    activation and norm position stay as they are (the presets choose them).
    ``gpt2``: the GPT-2 block described in this module's docstring.
    Refuses an unknown family with a one-line ValueError.
    """
    if arch == "study":
        return {"arch": "study", **_STUDY_SWITCHES}
    if arch == "gpt2":
        return {
            "arch": "gpt2",
            **_GPT2_SWITCHES,
            "n_heads": gpt2_heads(d_model),
            "d_k": d_model,
            "d_v": d_model,
            "d_ff": 4 * d_model,
        }
    raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
