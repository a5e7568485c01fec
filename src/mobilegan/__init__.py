"""mobilegan: skin lesion segmentation in dermoscopy images with a lightweight GAN.

Start with :class:`mobilegan.Segmenter` to segment images (its results are
:class:`mobilegan.SegmentationResult`), :func:`mobilegan.evaluate` to score a model on a
labelled folder, :func:`mobilegan.train` with a :class:`mobilegan.RunConfig` to train,
:func:`mobilegan.build_model` to get a network, or the ``mobilegan`` command line.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Segmenter", "SegmentationResult", "evaluate", "train", "build_model", "RunConfig",
           "ModelConfig", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import mobilegan`` stays cheap and the ONNX backend needs no torch.
    if name == "Segmenter":
        from mobilegan.inference.segmenter import Segmenter

        return Segmenter
    if name == "SegmentationResult":
        from mobilegan.inference.result import SegmentationResult

        return SegmentationResult
    if name == "evaluate":
        from mobilegan.evaluation.evaluate import evaluate

        return evaluate
    if name == "train":
        from mobilegan.training.trainer import train

        return train
    if name == "build_model":
        from mobilegan.models.registry import build_model

        return build_model
    if name in ("RunConfig", "ModelConfig"):
        from mobilegan import config

        return getattr(config, name)
    raise AttributeError(f"module 'mobilegan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
