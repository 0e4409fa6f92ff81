"""The initialization rate gamma as a hyper-parameter for any torch module."""

from anchorlab.init.rate import (
    AuditRow,
    InitRateError,
    InitRule,
    apply_init_rate,
    audit_init_rate,
    check_distinct_layers,
    register_fan_in,
)

__all__ = [
    "AuditRow",
    "InitRateError",
    "InitRule",
    "apply_init_rate",
    "audit_init_rate",
    "check_distinct_layers",
    "register_fan_in",
]
