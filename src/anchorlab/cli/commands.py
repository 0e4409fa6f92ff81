"""Imports every command module so that each registers its commands on ``cli``."""

from anchorlab.cli import analyze, core, gpt2, realworld, sweep  # noqa: F401
