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


#: The parts of the API that need PyTorch, by the module that holds them.
_NEED_TORCH = {"evaluate": "mobilegan.evaluation.evaluate", "train": "mobilegan.training.trainer",
               "build_model": "mobilegan.models.registry"}


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import mobilegan`` stays cheap and the ONNX backend needs no torch.
    if name == "Segmenter":
        from mobilegan.inference.segmenter import Segmenter

        return Segmenter
    if name == "SegmentationResult":
        from mobilegan.inference.result import SegmentationResult

        return SegmentationResult
    if name in _NEED_TORCH:
        from mobilegan.optional import import_needing_torch

        return getattr(import_needing_torch(_NEED_TORCH[name], f"mobilegan.{name}"), name)
    if name in ("RunConfig", "ModelConfig"):
        from mobilegan import config

        return getattr(config, name)
    raise AttributeError(f"module 'mobilegan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
