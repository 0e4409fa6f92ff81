"""Compositional tasks: the anchor-function task (and real-data tasks)."""

from anchorlab.tasks.anchor import (
    PRESETS,
    AnchorData,
    TaskSpec,
    TaskSpecError,
    generate,
    task_preset,
)

__all__ = ["PRESETS", "AnchorData", "TaskSpec", "TaskSpecError", "generate", "task_preset"]
