"""Imports every command module so that each registers its commands on ``cli``."""

import anchorlab.cli.gpt2  # noqa: F401
from anchorlab.cli import core, sweep  # noqa: F401
from anchorlab.cli import realworld  # noqa: F401, I001
from anchorlab.cli import analyze  # noqa: F401, I001
