"""Training: a task-agnostic trainer and one run on the anchor task."""

from anchorlab.train.trainer import EvalSet, TrainConfig, evaluate, learning_rate, train

__all__ = ["EvalSet", "TrainConfig", "evaluate", "learning_rate", "train"]
