"""Run a saved network with PyTorch: the only backend that can sample the noise z."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilegan.hardware import resolve_device
from mobilegan.models.blocks import noise_sampling
from mobilegan.models.io import load_model


class TorchBackend:
    """Logits from a float32 (B, 3, S, S) numpy batch; ``sampling`` turns the noise z on.

    ``threads`` sets torch's process-wide thread count (torch has no per-model setting);
    ``device`` None keeps the network where it is. The network runs in eval mode and is
    put back in the mode it was in after each call: a caller's model, in training between
    two evaluations, stays in training.
    """

    name = "torch"

    def __init__(self, model: nn.Module, device: str | None = "cpu", threads: int | None = None,
                 seed: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.device = resolve_device(device) if device is not None else _device_of(model)
        self.model = model.to(self.device)
        self.seed = seed
        #: The input size the network was trained at (None: not recorded).
        self.image_size: int | None = None

    @classmethod
    def from_weights(cls, weights: str | Path, **kw) -> "TorchBackend":
        from mobilegan.models.io import read_model_info

        model, _ = load_model(weights, map_location="cpu")
        backend = cls(model, **kw)
        size = read_model_info(weights)["metadata"].get("image_size")
        backend.image_size = int(size) if size else None
        return backend

    @property
    def can_sample(self) -> bool:
        return hasattr(self.model, "set_sampling")

    def logits(self, batch: np.ndarray, sampling: bool = False) -> np.ndarray:
        if sampling and not self.can_sample:
            raise ValueError(f"{type(self.model).__name__} has no noise z to sample; use samples=1")
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        with (torch.inference_mode(), _evaluating(self.model), self._rng(sampling),
              noise_sampling(self.model, sampling)):
            out = self.model(x)
        return out.float().cpu().numpy()

    def sample_logits(self, batch: np.ndarray, samples: int, group: int = 1) -> np.ndarray:
        """(samples, B, 1, S, S) logits with the noise z on. MobileGAN's generator encodes
        once and decodes ``samples`` times (the noise is in the decoder only).

        ``group``: how many consecutive rows are views of one image (4 under flip TTA).
        Every row draws its own noise; seeded, each group draws from the seed alone, so an
        image's result does not depend on which images share its batch, and its views
        draw apart from one another as they do unseeded (one seed per row gave the four
        views one shared draw: seeded and unseeded uncertainty had different scales)."""
        if not self.can_sample:
            raise ValueError(f"{type(self.model).__name__} has no noise z to sample; use samples=1")
        if group < 1 or len(batch) % group:
            raise ValueError(f"{len(batch)} rows are not whole groups of {group}")
        if self.seed is not None and len(batch) > group:
            # One group at a time costs little on a CPU; unseeded sampling keeps the batch.
            return np.concatenate([self.sample_logits(batch[i:i + group], samples, group)
                                   for i in range(0, len(batch), group)], axis=1)
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        with torch.inference_mode(), _evaluating(self.model), self._rng(True):
            if hasattr(self.model, "sample"):
                out = self.model.sample(x, samples)
            else:
                with noise_sampling(self.model, True):
                    out = self.model(x.repeat(samples, 1, 1, 1))
                out = out.view(samples, x.shape[0], *out.shape[1:])
        return out.float().cpu().numpy()

    def _rng(self, sampling: bool) -> contextlib.AbstractContextManager:
        """A seeded RNG for sampling (reproducible uncertainty) that leaves the caller's
        global RNG state untouched."""
        if not sampling or self.seed is None:
            return contextlib.nullcontext()
        devices = [self.device] if self.device.type == "cuda" else []
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=devices))
        torch.manual_seed(self.seed)
        return stack


def _device_of(model: nn.Module) -> torch.device:
    """Where a network's weights are (the CPU for one without any)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode for one call, each module's own mode restored after it."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def export_weights_to_onnx(weights: str | Path, path: str | Path) -> Path:
    """Export saved weights to ONNX (noise z off), through the project's exporter."""
    from mobilegan.inference.export import export_onnx, weights_metadata

    model, _ = load_model(weights, map_location="cpu")
    return Path(export_onnx(model, path, metadata=weights_metadata(weights)))
