"""Models: the study's decoder-only transformer."""

from anchorlab.models.decoder import AnchorTransformer, ModelConfig

__all__ = ["AnchorTransformer", "ModelConfig"]
