"""Export a segmentation network to ONNX, so that it runs with onnxruntime alone (no torch).

The graph takes ``image`` (B, C, H, W) float32, normalised to [-1, 1], and returns
``logits`` (B, 1, H, W); batch, height and width are dynamic (H and W multiples of 8 for
MobileGAN, of 16 for the U-Net). The decoder's noise z is switched off for export: the
graph is the deterministic eval network.

Two exporters: ``dynamo`` (torch.export, the maintained path) and ``torchscript`` (the
legacy tracer). Both give the same outputs (max abs diff ~1e-6) and the same onnxruntime
latency, but ``dynamo`` takes 25-40 s to export the generator on a 2-core CPU against 1-5 s
for ``torchscript``, and the Segmenter exports on the fly. So ``auto`` (the default) uses
``torchscript`` and falls back to ``dynamo`` if it raises (it is deprecated in torch 2.9+
and may go away).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from mobilegan.inference.onnx_backend import METADATA_KEY, MODEL_KEY, onnx_session
from mobilegan.models.blocks import noise_sampling

log = logging.getLogger(__name__)

Exporter = Literal["auto", "dynamo", "torchscript"]
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 18
#: Opsets the export is known to write (torch 2.13): 14 is the first with attention
#: (scaled_dot_product_attention); below it every exporter fails with pages of graph dump.
MIN_OPSET, MAX_OPSET = 14, 22


@contextlib.contextmanager
def deterministic(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode with the noise z off for the duration; the model's flags are restored after."""
    was_training = model.training
    model.eval()
    try:
        with noise_sampling(model, False):
            yield model
    finally:
        model.train(was_training)


def _in_channels(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "in_channels"):
        return int(config.in_channels)
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return first.in_channels if first is not None else 3


def _export_dynamo(model: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    dim = torch.export.Dim.DYNAMIC
    # The exporter narrates each stage on stdout; keep the CLI's output ours.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), dynamo=True, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_shapes=({0: dim, 2: dim, 3: dim},),
                          external_data=False, verbose=False)


def _export_torchscript(model: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes})


def export_onnx(model: nn.Module, path: str | Path, opset: int = DEFAULT_OPSET,
                exporter: Exporter = "auto", example_size: tuple[int, int] = (128, 128),
                metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` as an ONNX file with dynamic batch, height and width; returns the path.

    The example input has batch 2, so that no exporter specialises the batch to 1.
    ``metadata`` (e.g. the model config as JSON) is stored in the file's metadata_props.
    """
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ValueError(f"exporter: expected auto, dynamo or torchscript, got {exporter!r}")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset {opset}: the network exports to opsets {MIN_OPSET} to "
                         f"{MAX_OPSET} (default {DEFAULT_OPSET})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    example = torch.zeros(2, _in_channels(model), *example_size, device=device)
    order = ["torchscript", "dynamo"] if exporter == "auto" else [exporter]
    with deterministic(model), torch.no_grad(), _quiet_torch_onnx():
        for i, name in enumerate(order):
            try:
                _EXPORTERS[name](model, example, path, opset)
                return _finish(path, name, metadata, opset)
            except Exception as error:  # noqa: BLE001 - any exporter failure may fall back
                if i == len(order) - 1:
                    raise
                log.warning("%s ONNX export failed (%s: %s); trying %s", name,
                            type(error).__name__, str(error).split("\n")[0], order[i + 1])
    raise AssertionError("unreachable")


_EXPORTERS = {"dynamo": _export_dynamo, "torchscript": _export_torchscript}


@contextlib.contextmanager
def _quiet_torch_onnx() -> Iterator[None]:
    """The dynamo exporter logs a warning per torchvision op it cannot register; not ours."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _finish(path: Path, exporter: str, metadata: dict[str, str] | None,
            opset: int) -> Path:
    """Check the file is valid ONNX and record which exporter wrote it (plus ``metadata``)."""
    import onnx

    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    written = next((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:  # an exporter that silently chose another opset is not what was asked
        raise ValueError(f"the {exporter} exporter wrote opset {written}, not {opset}")
    props = {"mobilegan.exporter": exporter, **(metadata or {})}
    for key, value in props.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(graph, str(path))
    return path


def weights_metadata(weights: str | Path) -> dict[str, str]:
    """What an export of ``weights`` should carry so that it can be scored and traced
    alone: the model config, the training metadata (protocol, training ids hash, image
    size) and the source file's name and SHA-256."""
    import hashlib

    from mobilegan.models.io import read_model_info

    weights = Path(weights)
    info = read_model_info(weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    return {MODEL_KEY: json.dumps(info["model"]), METADATA_KEY: json.dumps(info["metadata"]),
            "mobilegan.source": weights.name, "mobilegan.source_sha256": digest}


def source_metadata(props: dict[str, str]) -> dict[str, Any]:
    """The training metadata stored by :func:`weights_metadata` (empty when absent)."""
    return json.loads(props.get(METADATA_KEY) or "{}")


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def check_onnx_parity(model: nn.Module, path: str | Path,
                      sizes: Sequence[tuple[int, int, int]] = ((1, 128, 128), (2, 192, 256)),
                      seed: int = 0) -> float:
    """Largest absolute difference of logits between PyTorch (eval, noise off) and
    onnxruntime on random inputs of each (batch, height, width), over all sizes; infinite
    where either gives a value that is not finite (``max(0.0, nan)`` is 0.0: a NaN once
    passed the check)."""
    session = onnx_session(path)
    generator = torch.Generator().manual_seed(seed)
    cin = _in_channels(model)
    worst = 0.0
    device = next(model.parameters()).device
    with deterministic(model), torch.no_grad():
        for batch, height, width in sizes:
            x = torch.rand(batch, cin, height, width, generator=generator) * 2 - 1
            expected = model(x.to(device)).float().cpu().numpy()
            got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
            if got.shape != expected.shape:
                raise ValueError(f"ONNX output shape {got.shape} != PyTorch {expected.shape} "
                                 f"for input {tuple(x.shape)}")
            if not (np.isfinite(got).all() and np.isfinite(expected).all()):
                return math.inf
            worst = max(worst, float(np.abs(got - expected).max()))
    return worst
