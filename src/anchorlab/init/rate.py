"""The initialization rate gamma: every weight matrix drawn from N(0, d_in ** (-2 gamma)).

``apply_init_rate`` works on any torch module built from layers whose fan-in it knows
(``nn.Linear``, ``nn.Embedding``, ``nn.MultiheadAttention`` and Hugging Face's ``Conv1D``,
plus whatever ``register_fan_in`` adds). It refuses a module holding a matrix it cannot read
the fan-in of, rather than guess the storage order. ``audit_init_rate`` re-measures every
tensor against the rule, so a library re-initializing after you is caught.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

logger = logging.getLogger(__name__)

EmbeddingFanIn = Literal["width", "rows"]
LayerNormGain = Literal["one", "rate", "scaled"]


class InitRateError(ValueError):
    """A module or setting ``apply_init_rate`` cannot honour."""


@dataclass(frozen=True)
class InitRule:
    """How ``apply_init_rate`` treats the tensors the rule leaves open.

    - ``embedding_fan_in``: ``"width"`` takes d_in = embedding width (the table's columns),
      ``"rows"`` takes d_in = number of rows (the one-hot input size).
    - ``position_fan_in``: the same choice for position tables (modules named ``*pos*``, or
      ``wpe`` as in GPT-2).
    - ``layernorm_gain``: ``"one"`` keeps gains at 1; ``"rate"`` draws them from
      N(0, d ** (-2 gamma)) with d the normalized width; ``"scaled"`` sets them to d ** -gamma.
    - ``zero_biases``: biases (and LayerNorm biases) start at 0; False leaves them as built.
    - ``overrides``: glob pattern on the parameter's module name -> its own gamma
      (e.g. ``{"embed*": 0.5, "blocks.1.*": 0.8}``); the first matching pattern wins.
    """

    embedding_fan_in: EmbeddingFanIn = "width"
    position_fan_in: EmbeddingFanIn = "width"
    layernorm_gain: LayerNormGain = "one"
    zero_biases: bool = True
    overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embedding_fan_in not in ("width", "rows"):
            raise InitRateError(
                f"embedding_fan_in must be 'width' or 'rows', got {self.embedding_fan_in!r}"
            )
        if self.position_fan_in not in ("width", "rows"):
            raise InitRateError(
                f"position_fan_in must be 'width' or 'rows', got {self.position_fan_in!r}"
            )
        if self.layernorm_gain not in ("one", "rate", "scaled"):
            raise InitRateError(
                f"layernorm_gain must be 'one', 'rate' or 'scaled', got {self.layernorm_gain!r}"
            )
        for pattern, rate in self.overrides.items():
            _check_rate(rate, f"override {pattern!r}")


@dataclass(frozen=True)
class AuditRow:
    """One tensor as the rule sees it."""

    name: str
    shape: tuple[int, ...]
    kind: str  # matrix | embedding | position | layernorm_gain | bias | tied | skipped
    fan_in: int | None
    init_rate: float | None
    expected_std: float | None  # None where the rule fixes values instead of a std
    measured_std: float
    expected_value: float | None = None  # constant tensors (gains, biases)
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether the tensor still follows the rule: constants exact; a drawn tensor's std
        within 5% of the rule, or within 5 sampling standard errors (1 / sqrt(2 n)) for
        tensors too small to measure a std to 5% (e.g. a 9-row position table)."""
        if self.kind in ("tied", "skipped"):
            return True
        if self.expected_std is not None:
            tolerance = max(0.05, 5.0 / math.sqrt(2.0 * max(1, math.prod(self.shape))))
            return abs(self.measured_std - self.expected_std) <= tolerance * self.expected_std
        return self.note == "" or self.note.startswith("constant")


FanInRule = Callable[[nn.Module, str, torch.Tensor], int | None]
_FAN_IN_RULES: dict[str, FanInRule] = {}


def register_fan_in(module_type: type | str, rule: FanInRule) -> None:
    """Teach ``apply_init_rate`` the fan-in of a layer type's matrices.

    ``rule(module, parameter_name, tensor)`` returns d_in, or None for a tensor the init
    rate does not touch. ``module_type`` may be a class or a class name (so optional
    libraries need not be imported).
    """
    key = module_type if isinstance(module_type, str) else module_type.__name__
    _FAN_IN_RULES[key] = rule


def _linear_fan_in(module: nn.Module, name: str, tensor: torch.Tensor) -> int | None:
    return tensor.shape[1] if name == "weight" else None  # (out, in)


def _conv1d_fan_in(module: nn.Module, name: str, tensor: torch.Tensor) -> int | None:
    return tensor.shape[0] if name == "weight" else None  # Hugging Face Conv1D: (in, out)


def _mha_fan_in(module: nn.Module, name: str, tensor: torch.Tensor) -> int | None:
    return tensor.shape[1] if name.endswith("proj_weight") else None  # (3E, E) or (E, E)


register_fan_in(nn.Linear, _linear_fan_in)
register_fan_in("NonDynamicallyQuantizableLinear", _linear_fan_in)
register_fan_in("Conv1D", _conv1d_fan_in)
register_fan_in(nn.MultiheadAttention, _mha_fan_in)

_NORM_TYPES = tuple(
    getattr(nn, name)
    for name in ("LayerNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d", "RMSNorm")
    if hasattr(nn, name)
)


def _check_rate(rate: float, what: str = "init_rate") -> None:
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise InitRateError(f"{what} must be a positive number (e.g. 0.5), got {rate!r}")


def _check_overrides_match(module: nn.Module, rule: InitRule) -> None:
    names = [name for name, _ in module.named_modules() if name]
    for pattern in rule.overrides:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            examples = ", ".join(names[:4])
            raise InitRateError(
                f"override {pattern!r} matches no module (module names look like {examples})"
            )


def _rate_for(module_name: str, init_rate: float, rule: InitRule) -> float:
    for pattern, rate in rule.overrides.items():
        if fnmatch.fnmatchcase(module_name, pattern):
            return rate
    return init_rate


_POSITION_TABLE_NAMES = ("wpe",)  # GPT-2's learned position table (no "pos" in its name)


def _is_position_table(module_name: str) -> bool:
    last = module_name.rsplit(".", 1)[-1].lower()
    return "pos" in last or last in _POSITION_TABLE_NAMES


@dataclass
class _Plan:
    """What the rule says for one tensor: draw with ``std`` or fill with ``value``."""

    kind: str
    fan_in: int | None = None
    init_rate: float | None = None
    std: float | None = None
    value: float | None = None
    note: str = ""


def _plan_tensors(module: nn.Module, init_rate: float, rule: InitRule):
    """Yield (full name, tensor, plan) for every parameter, each tensor exactly once."""
    seen: dict[int, tuple[str, _Plan]] = {}
    for module_name, sub in module.named_modules():
        for param_name, tensor in sub.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            if id(tensor) in seen:
                yield (
                    full,
                    tensor,
                    _tied_plan(sub, module_name, param_name, tensor, seen, init_rate, rule),
                )
                continue
            plan = _plan_one(sub, module_name, param_name, tensor, init_rate, rule)
            seen[id(tensor)] = (full, plan)
            yield full, tensor, plan


def _tied_plan(sub, module_name, param_name, tensor, seen, init_rate, rule) -> _Plan:
    """A tensor owned by an earlier module follows that owner's rule; the note states the
    rule and, where this layer's own rule would have drawn another std, says so."""
    owner, owner_plan = seen[id(tensor)]
    note = f"tied to {owner}: drawn once by its rule ({_describe(owner_plan)})"
    try:
        own = _plan_one(sub, module_name, param_name, tensor, init_rate, rule)
    except InitRateError:
        own = None
    if own is not None and own.std is not None and owner_plan.std is not None:
        if not math.isclose(own.std, owner_plan.std, rel_tol=1e-9):
            note += f"; its own {own.kind} rule would give std {own.std:.4g}"
    return _Plan("tied", note=note)


def _describe(plan: _Plan) -> str:
    if plan.std is not None:
        return f"{plan.kind}, d_in {plan.fan_in}, std {plan.std:.4g}"
    return f"{plan.kind}, constant {plan.value:g}" if plan.value is not None else plan.kind


def _plan_one(sub, module_name, param_name, tensor, init_rate, rule) -> _Plan:
    rate = _rate_for(module_name, init_rate, rule)
    type_name = type(sub).__name__

    if isinstance(sub, _NORM_TYPES):
        if param_name == "bias":
            return _Plan("bias", value=0.0) if rule.zero_biases else _Plan("skipped")
        width = tensor.numel()
        if rule.layernorm_gain == "one":
            return _Plan("layernorm_gain", width, rate, value=1.0)
        if rule.layernorm_gain == "scaled":
            return _Plan("layernorm_gain", width, rate, value=width**-rate)
        return _Plan("layernorm_gain", width, rate, std=width**-rate)

    if isinstance(sub, nn.Embedding):
        which = rule.position_fan_in if _is_position_table(module_name) else rule.embedding_fan_in
        fan_in = tensor.shape[1] if which == "width" else tensor.shape[0]
        kind = "position" if _is_position_table(module_name) else "embedding"
        return _Plan(kind, fan_in, rate, std=fan_in**-rate, note=f"d_in = {which}")

    if tensor.ndim == 1 or param_name.endswith("bias"):
        return _Plan("bias", value=0.0) if rule.zero_biases else _Plan("skipped")

    fan_in_rule = _FAN_IN_RULES.get(type_name) or next(
        (r for t, r in _FAN_IN_RULES.items() if t in {c.__name__ for c in type(sub).__mro__}),
        None,
    )
    fan_in = fan_in_rule(sub, param_name, tensor) if fan_in_rule else None
    if fan_in is None:
        where = f"{module_name}.{param_name}" if module_name else param_name
        raise InitRateError(
            f"cannot tell the fan-in of {where} ({type_name}, shape {tuple(tensor.shape)}): "
            f"call anchorlab.register_fan_in({type_name}, rule) first"
        )
    return _Plan("matrix", fan_in, rate, std=fan_in**-rate)


def apply_init_rate(
    module: nn.Module,
    init_rate: float,
    rule: InitRule | None = None,
    *,
    generator: torch.Generator | None = None,
    **rule_fields,
) -> list[AuditRow]:
    """Initialize ``module`` in place by the initialization rate ``init_rate`` (gamma).

    Guarantees, for every parameter:

    - a weight matrix W with fan-in d_in gets i.i.d. entries N(0, d_in ** (-2 gamma)), where
      d_in is read from how the layer stores W (``nn.Linear`` (out, in), ``Conv1D`` (in, out));
    - embedding and position tables follow the same law with d_in from ``rule``;
    - LayerNorm gains follow ``rule.layernorm_gain`` (default: exactly 1), biases are 0;
    - a tensor shared by several modules (tied weights) is drawn once, by the rule of the
      first module that owns it (for a tied embedding and readout: the embedding's), and
      reported as ``tied`` with that rule in its note, which is also logged;
    - every tensor gets a fresh draw, so deep-copied layers stop being identical.

    Refuses (``InitRateError``) a non-positive gamma, an override pattern that matches no
    module, and any matrix of a layer type whose fan-in is unknown. Call it after any library
    initialization (e.g. Hugging Face's ``post_init``); ``audit_init_rate`` checks the result.
    Returns the audit rows.
    """
    _check_rate(init_rate)
    if rule is not None and rule_fields:
        raise InitRateError("pass either rule=InitRule(...) or rule fields, not both")
    rule = rule if rule is not None else InitRule(**rule_fields)
    _check_overrides_match(module, rule)

    plans = list(_plan_tensors(module, init_rate, rule))
    with torch.no_grad():
        for _, tensor, plan in plans:
            if plan.std is not None:
                tensor.normal_(0.0, plan.std, generator=generator)
            elif plan.value is not None:
                tensor.fill_(plan.value)
    for name, _, plan in plans:
        if plan.kind == "tied":
            logger.info("init rate: %s %s", name, plan.note)

    module._anchorlab_init = (init_rate, rule)  # read back by audit_init_rate
    logger.debug("init rate %.3g applied to %d tensors", init_rate, len(plans))
    return audit_init_rate(module, init_rate, rule)


def audit_init_rate(
    module: nn.Module, init_rate: float | None = None, rule: InitRule | None = None
) -> list[AuditRow]:
    """Measure every tensor of ``module`` against the rule it should follow.

    Without arguments, checks against the gamma and rule the last ``apply_init_rate`` on
    this module used. Each row's ``ok`` says whether the tensor still follows the rule;
    a library that re-initialized after ``apply_init_rate`` shows up as rows not ``ok``.
    """
    if init_rate is None:
        if not hasattr(module, "_anchorlab_init"):
            raise InitRateError(
                "this module was not initialized by apply_init_rate: pass init_rate explicitly"
            )
        init_rate, stored_rule = module._anchorlab_init
        rule = rule or stored_rule
    rule = rule or InitRule()

    rows = []
    for name, tensor, plan in _plan_tensors(module, init_rate, rule):
        values = tensor.detach().float()
        measured = values.std().item() if values.numel() > 1 else 0.0
        note = plan.note
        if plan.value is not None:
            exact = bool(torch.all(values == plan.value))
            note = f"constant {plan.value:g}" if exact else f"expected all {plan.value:g}"
        rows.append(
            AuditRow(
                name=name,
                shape=tuple(tensor.shape),
                kind=plan.kind,
                fan_in=plan.fan_in,
                init_rate=plan.init_rate,
                expected_std=plan.std,
                measured_std=measured,
                expected_value=plan.value,
                note=note,
            )
        )
    return rows


def check_distinct_layers(module: nn.Module) -> list[tuple[str, str]]:
    """Pairs of distinct (untied) parameters holding identical values: deep-copy symptoms."""
    by_key: dict[tuple, str] = {}
    clashes = []
    seen: set[int] = set()
    for name, tensor in module.named_parameters(remove_duplicate=False):
        if id(tensor) in seen or tensor.ndim < 2:
            continue
        seen.add(id(tensor))
        key = (tuple(tensor.shape), hash(tensor.detach().cpu().numpy().tobytes()))
        if key in by_key:
            clashes.append((by_key[key], name))
        else:
            by_key[key] = name
    return clashes
