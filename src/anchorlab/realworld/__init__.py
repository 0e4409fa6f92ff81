"""Real-data validation (SCAN, COGS, addition): small initialization + large weight decay
against large initialization + small weight decay, over training-set sizes."""

from anchorlab.realworld.experiments import (
    LARGE_INIT,
    PRESETS,
    SETTINGS,
    SMALL_INIT,
    Preset,
    Setting,
    make_sweep,
    preset,
    run_config,
    run_realworld,
    run_realworld_sweep,
    write_report,
)

__all__ = [
    "LARGE_INIT",
    "PRESETS",
    "SETTINGS",
    "SMALL_INIT",
    "Preset",
    "Setting",
    "make_sweep",
    "preset",
    "run_config",
    "run_realworld",
    "run_realworld_sweep",
    "write_report",
]
