"""Imports every command module so that each registers its commands on ``cli``."""

from anchorlab.cli import core  # noqa: F401
