"""The initialization rate on Hugging Face ``transformers`` models, offline.

``apply_init_rate`` itself already reads GPT-2's ``Conv1D`` (stored (in, out): fan-in is
``shape[0]``), LayerNorms, embeddings (``wpe`` counts as a position table) and the tied
``lm_head``/``wte`` pair. This module adds what a library model needs around it:

- ``init_pretrained_model``: the init rate applied after the library's own ``post_init``
  (which every ``transformers`` constructor runs), recorded in ``model.config`` so that a
  checkpoint written by ``save_pretrained`` carries the rule it was drawn by;
- ``load_pretrained_checked``: ``from_pretrained`` from a local directory that refuses a
  checkpoint lacking tensors (``transformers`` would silently draw them at its own std,
  0.02 for GPT-2) and restores the recorded rule, so ``audit_init_rate(model)`` re-checks
  an untrained checkpoint against it;
- ``gpt2_model``: a ``GPT2LMHeadModel`` built from sizes alone, no download.

``transformers`` is the optional extra ``anchorlab[hf]``; nothing here reaches the network
(``HF_HUB_OFFLINE`` is set before ``transformers`` is imported, loads are local only).
Re-initialization by direct calls (``model.apply(model._init_weights)``, the pattern older
``transformers`` versions ran in ``init_weights``) cannot be prevented from here; the audit
detects it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import torch
from torch import nn

from anchorlab.init.rate import AuditRow, InitRateError, InitRule, apply_init_rate

logger = logging.getLogger(__name__)

CONFIG_KEY = "anchorlab_init"
"""Attribute of a ``transformers`` config holding {"init_rate": gamma, "rule": {...}}."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded without the library inventing tensors."""


def require_transformers():
    """The ``transformers`` module, imported offline; one-line error when it is missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import transformers
    except ImportError:
        raise InitRateError(
            "this needs Hugging Face transformers: pip install 'transformers>=4.40' "
            "(the extra anchorlab[hf])"
        ) from None
    return transformers


def gpt2_model(
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    vocab_size: int = 128,
    n_positions: int = 16,
    **config_fields,
) -> nn.Module:
    """``GPT2LMHeadModel(GPT2Config(...))`` from sizes alone (the library's own init, no
    download). Begin/end token ids default to the last vocabulary id so small vocabularies
    stay valid."""
    transformers = require_transformers()
    config_fields.setdefault("bos_token_id", vocab_size - 1)
    config_fields.setdefault("eos_token_id", vocab_size - 1)
    config = transformers.GPT2Config(
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        vocab_size=vocab_size,
        n_positions=n_positions,
        **config_fields,
    )
    return transformers.GPT2LMHeadModel(config)


def init_pretrained_model(
    model: nn.Module,
    init_rate: float,
    rule: InitRule | None = None,
    *,
    generator: torch.Generator | None = None,
    **rule_fields,
) -> list[AuditRow]:
    """``apply_init_rate`` on a ``transformers`` model, recorded in ``model.config``.

    Call it after construction (the library's ``post_init`` has run by then) and after
    anything else that initializes weights (e.g. ``resize_token_embeddings``). Guarantees
    what ``apply_init_rate`` guarantees, plus: ``model.config.anchorlab_init`` holds gamma
    and the rule, so ``save_pretrained`` writes them and ``load_pretrained_checked`` can
    audit the loaded weights against them. Returns the audit rows.
    """
    rows = apply_init_rate(model, init_rate, rule, generator=generator, **rule_fields)
    _, applied_rule = model._anchorlab_init
    config = getattr(model, "config", None)
    if config is not None:
        setattr(config, CONFIG_KEY, {"init_rate": init_rate, "rule": _rule_dict(applied_rule)})
    return rows


def load_pretrained_checked(path: str | os.PathLike, model_class=None) -> nn.Module:
    """``model_class.from_pretrained(path)`` from a local directory, never re-initializing.

    Guarantees: every parameter comes from the checkpoint (tied ones through their owner);
    a checkpoint that lacks a tensor, holds one of another shape, or holds tensors the model
    does not use is refused (``CheckpointError``) instead of being completed by the
    library's own init. When the checkpoint records an init rate (``init_pretrained_model``),
    ``audit_init_rate(model)`` afterwards checks the loaded weights against it (meaningful
    while they are untrained: a re-initialization shows up as rows not ok). Refuses a
    path that is not a local directory; ``model_class`` defaults to ``GPT2LMHeadModel``.
    """
    transformers = require_transformers()
    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise CheckpointError(f"{directory} is not a saved model directory (no config.json)")
    model_class = model_class or transformers.GPT2LMHeadModel

    model, info = model_class.from_pretrained(
        str(directory), local_files_only=True, output_loading_info=True
    )
    problems = {
        "missing": sorted(info.get("missing_keys", ())),
        "of another shape": sorted(str(k) for k in info.get("mismatched_keys", ())),
        "unused": sorted(info.get("unexpected_keys", ())),
    }
    for what, keys in problems.items():
        if keys:
            raise CheckpointError(
                f"checkpoint {directory} has tensors {what}: {', '.join(keys[:4])}"
                f"{' ...' if len(keys) > 4 else ''}; the library would draw them with its own "
                "init: save the checkpoint again from the complete model"
            )

    record = getattr(model.config, CONFIG_KEY, None)
    if record:
        model._anchorlab_init = (record["init_rate"], InitRule(**record["rule"]))
        logger.info(
            "loaded %s: weights drawn at init rate %g (audit_init_rate re-checks them)",
            directory,
            record["init_rate"],
        )
    return model


def _rule_dict(rule: InitRule) -> dict:
    data = dataclasses.asdict(rule)
    data["overrides"] = dict(rule.overrides)
    return data
