"""Int8 ONNX for phone-class CPUs: static quantisation of the convolutions, calibrated on
the model's own training images.

Why this form:
- **Static** (activation ranges fixed from calibration images), not dynamic: onnxruntime's
  dynamic quantisation covers MatMul/Gemm, not the convolutions that hold most of the
  generator's multiply-adds.
- **Convolutions and what sits between them** (ReLU, residual Add, pooling, resizing),
  so that chains of int8 convolutions stay int8; the attention maths (MatMul, Softmax)
  stays float32: CAM energies reach 3.8e6 (see ``models.attention``), far outside what one
  int8 scale holds without flattening the softmax. Measured on the shipped weights
  (docs/deployment.md): quantising the convolutions alone was 1.25x faster than float32,
  with the ops between them 1.45x, and neither moved held-out or test JAC by more than 0.2.
- **QDQ format**, the one the mobile execution providers (XNNPACK, NNAPI, QNN, CoreML) read;
  onnxruntime's CPU provider fuses it into int8 kernels when the session loads.
- **Per-channel weight scales**: the ERFNet blocks' 3x1/1x3 filters differ in range by
  channel, one scale per tensor costs accuracy for nothing.

Calibration images must not be evaluation images (they set the model's ranges); the CLI
takes the run's training ids when it knows them and records their hash in the file.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mobilegan.inference.preprocess import normalize, normalize_exposure, resize_rgb

QUANTIZED_OPS: tuple[str, ...] = ("Conv", "Relu", "Add", "MaxPool", "AveragePool", "Resize")
CALIBRATION_BATCH = 8
QUANTIZATION_KEY = "mobilegan.quantization"


@dataclass
class Quantization:
    """What was done to make an int8 file, stored in its metadata as JSON."""

    scheme: str
    ops: list[str]
    calibration_images: int
    calibration_ids: list[str] | None  # so anyone can check they are not test images
    calibration_ids_sha256: str | None
    calibration_source: str
    image_size: int
    exposure_normalized: bool
    seconds: float


def calibration_batches(images: Sequence[np.ndarray], size: int, exposure: bool = True,
                        batch: int = CALIBRATION_BATCH) -> Iterator[np.ndarray]:
    """Network-ready float32 batches prepared exactly as the Segmenter prepares inputs
    (exposure normalised by default, bilinear resize, [-1, 1])."""
    for start in range(0, len(images), batch):
        chunk = [normalize_exposure(im) if exposure else im for im in images[start:start + batch]]
        yield normalize(np.stack([resize_rgb(im, size) for im in chunk]))


def quantize_onnx(fp32_path: str | os.PathLike, out_path: str | os.PathLike,
                  calibration: Sequence[np.ndarray], image_size: int = 128,
                  exposure: bool = True, ops: Sequence[str] = QUANTIZED_OPS,
                  calibration_ids: Sequence[str] | None = None,
                  calibration_source: str = "") -> Path:
    """Write an int8 (QDQ) copy of the float32 ONNX file ``fp32_path``, its activation
    ranges measured on ``calibration`` (uint8 RGB images of any size; ``calibration_ids``
    name them). The float file's metadata is kept; a :class:`Quantization` record is added."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from mobilegan.data.splits import ids_sha256

    if len(calibration) == 0:
        raise ValueError("int8 quantisation needs at least one calibration image")
    if calibration_ids is not None and len(calibration_ids) != len(calibration):
        raise ValueError(f"{len(calibration_ids)} calibration ids for {len(calibration)} images")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"no ONNX model at {fp32_path}")
    start = time.perf_counter()

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = calibration_batches(calibration, image_size, exposure)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"image": batch}

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mobilegan-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Shape inference plus onnxruntime's basic fusions (batch norm into conv), so the
        # quantised convolutions are the ones that will run.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(ops), per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        # Every batch's ranges are kept: onnxruntime's min-max calibrator
                        # reduces each tensor to its min and max per batch, so they are small.
                        # (With CalibMaxIntermediateOutputs it drops each full set of batches
                        # unmerged, onnxruntime issue 18893: the int8 file of 2026-11-29 was
                        # calibrated on the last 8 of its 128 images.)
                        calibrate_method=CalibrationMethod.MinMax)
    record = Quantization(
        scheme="static int8, QDQ, per-channel weights, uint8 activations, min-max calibration",
        ops=list(ops), calibration_images=len(calibration),
        calibration_ids=list(calibration_ids) if calibration_ids is not None else None,
        calibration_ids_sha256=ids_sha256(calibration_ids) if calibration_ids is not None else None,
        calibration_source=calibration_source,
        image_size=image_size, exposure_normalized=exposure,
        seconds=round(time.perf_counter() - start, 1))
    source = onnx.load(str(fp32_path), load_external_data=False)
    graph = onnx.load(str(out_path))
    del graph.metadata_props[:]
    for prop in source.metadata_props:
        graph.metadata_props.add().CopyFrom(prop)
    entry = graph.metadata_props.add()
    entry.key, entry.value = QUANTIZATION_KEY, json.dumps(asdict(record))
    onnx.save(graph, str(out_path))
    return out_path


def read_quantization(path: str | os.PathLike) -> Quantization | None:
    """The :class:`Quantization` record of an ONNX file; None for a float file. Needs only
    the ``onnx`` package (no torch): the int8 backend runs torch-free."""
    import onnx

    props = onnx.load(str(path), load_external_data=False).metadata_props
    raw = next((p.value for p in props if p.key == QUANTIZATION_KEY), None)
    return Quantization(**json.loads(raw)) if raw else None


def mask_agreement(reference_path: str | os.PathLike, candidate_path: str | os.PathLike,
                   images: Sequence[np.ndarray], image_size: int = 128,
                   exposure: bool = True, threshold: float = 0.5) -> dict[str, float]:
    """How far an int8 file's masks stray from the float file's on ``images``: per-image
    Jaccard between the two masks (mean and worst), the largest probability change, and
    how many images neither mask marks at all (agreement there is trivially 1)."""
    from mobilegan.inference.onnx_backend import OnnxBackend

    reference, candidate = OnnxBackend(reference_path), OnnxBackend(candidate_path)
    jaccards: list[float] = []
    both_empty = 0
    worst_probability = 0.0
    for batch in calibration_batches(images, image_size, exposure):
        p = _sigmoid(reference.logits(batch))
        q = _sigmoid(candidate.logits(batch))
        # NaN compares false both ways: counted as the largest change, never as none
        change = np.abs(p - q).max()
        worst_probability = max(worst_probability, float(change) if np.isfinite(change) else 1.0)
        for a, b in zip(p[:, 0] > threshold, q[:, 0] > threshold):
            union = np.logical_or(a, b).sum()
            both_empty += int(union == 0)
            jaccards.append(1.0 if union == 0 else float(np.logical_and(a, b).sum() / union))
    return {"images": len(jaccards), "mean_mask_jaccard": float(np.mean(jaccards)),
            "worst_mask_jaccard": float(np.min(jaccards)),
            "max_probability_change": worst_probability, "both_empty": both_empty}


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # no overflow for large |logits|
