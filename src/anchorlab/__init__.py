"""anchorlab: does a transformer reason or memorize? The initialization rate decides."""

__version__ = "0.1.0"

from anchorlab.init import InitRule, apply_init_rate, audit_init_rate, register_fan_in  # noqa: E402

__all__ = ["InitRule", "__version__", "apply_init_rate", "audit_init_rate", "register_fan_in"]
