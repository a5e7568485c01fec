"""Run an exported ONNX model with onnxruntime and numpy only: no torch on the machine.

The export has the noise z off (dropout is not exported), so this backend cannot
sample: uncertainty maps need the torch backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from mobilegan.inference.quantize import QUANTIZATION_KEY


class OnnxBackend:
    """Logits from a float32 (B, 3, S, S) numpy batch, deterministic."""

    name = "onnx"
    can_sample = False

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX model at {path}")
        self.session = onnx_session(path, device, threads)
        self.input_name = self.session.get_inputs()[0].name
        # An int8 file (``mobilegan export --quantize int8``) says so in its metadata.
        props = self.session.get_modelmeta().custom_metadata_map
        if QUANTIZATION_KEY in props:
            self.name = "int8"
        #: The input size the network was trained at; None if unknown.
        self.image_size = recorded_image_size(props)

    def logits(self, batch: np.ndarray, sampling: bool = False) -> np.ndarray:
        if sampling:
            raise ValueError("the ONNX backend cannot sample the noise z (dropout is not "
                             "exported); use backend='torch' for samples > 1")
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return np.asarray(self.session.run(None, {self.input_name: x})[0], dtype=np.float32)


#: Keys of an export's metadata (here, not in the export module, which needs torch): the
#: model config and the weights' training metadata.
MODEL_KEY = "mobilegan.model"
METADATA_KEY = "mobilegan.metadata"


def onnx_session(path: str | Path, device: str = "cpu",
                 threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime session for ``path`` on the CPU (or CUDA), ``threads`` intra-op
    threads (None lets onnxruntime choose): the one setup for segmenting, scoring, the
    export's parity check and the benchmarks."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device not in ("cpu", "auto") and not device.startswith("cuda"):
        raise ValueError(f"device {device!r}: the onnx backends run on cpu or cuda")
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError("device='cuda' but this onnxruntime has no CUDA provider "
                             "(install onnxruntime-gpu) ")
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), options, providers=providers)


def recorded_image_size(props: dict[str, str]) -> int | None:
    """The image size an exported file records: the size its weights were trained at (as
    evaluation's ModelSource reads it), else an int8 file's calibration size."""
    for key in (METADATA_KEY, QUANTIZATION_KEY):
        try:
            size = (json.loads(props.get(key) or "{}") or {}).get("image_size")
        except (ValueError, AttributeError):
            continue
        if size:
            return int(size)
    return None
