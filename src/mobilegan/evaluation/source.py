"""Where a scored model comes from: a run folder, a ``.safetensors`` file or an ONNX
export; what its run says about its training data (``splits.json``, ``config.json``); and
the network that scores it, torch or onnxruntime behind one call."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mobilegan import paper
from mobilegan.config import ConfigError, RunConfig
from mobilegan.models.io import read_model_info, splits_path_for

#: Run-config fields that differ between seeds of one experiment (or do not change results).
_NOT_CONFIG = {("train", "seed"), ("data", "seed"), ("train", "progress"),
               ("train", "num_threads"), ("train", "device"), ("", "out_dir")}
_SEED_SUFFIX = re.compile(r"(?:[-_.]s|[-_.]?seed)[-_]?\d+$", re.IGNORECASE)


@dataclass
class ModelSource:
    """Where the weights come from, and what the run says about its training data."""

    weights: Path
    run_dir: Path | None
    metadata: dict[str, Any]
    splits: dict[str, Any] | None  # splits.json, when known
    run_config: dict[str, Any] | None  # config.json, when known

    @property
    def name(self) -> str:
        return self.run_dir.name if self.run_dir is not None else self.weights.stem

    @property
    def image_size(self) -> int:
        """The input size the network trained at (its file's metadata, else the run's
        config; 128, the paper's, when neither says)."""
        return int(self.metadata.get("image_size")
                   or (self.run_config or {}).get("data", {}).get("image_size")
                   or paper.IMAGE_SIZE)


def resolve_source(path: str | Path) -> ModelSource:
    """A run folder (its ``best.safetensors`` and ``splits.json``) or a ``.safetensors`` file
    (its run folder's ``splits.json`` is used when the file sits in one)."""
    path = Path(path)
    if path.is_dir():
        weights = path / "best.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(
                f"{path} is a folder without best.safetensors: not a finished run folder "
                f"(pass a run folder written by `mobilegan train`, or a .safetensors file)")
        run_dir: Path | None = path
    elif path.is_file():
        if path.suffix.lower() not in (".safetensors", ".onnx"):
            raise ValueError(f"{path}: expected a run folder, a .safetensors or an .onnx file")
        weights = path
        run_dir = path.parent if (path.parent / "splits.json").is_file() else None
    else:
        raise FileNotFoundError(f"no run folder or weights file at {path}")
    source_name = None
    if weights.suffix.lower() == ".onnx":
        metadata, source_name = onnx_source_metadata(weights)
    else:
        metadata = read_model_info(weights)["metadata"]
    splits_path = splits_path_for(weights, source_name)
    splits = read_json(splits_path) if splits_path is not None else None
    config = read_json(run_dir / "config.json") if run_dir is not None else None
    return ModelSource(weights, run_dir, metadata, splits, config)


def onnx_source_metadata(path: Path) -> tuple[dict[str, Any], str | None]:
    """The training metadata an export carries (``mobilegan export`` stores the weights'
    metadata in the file) and the name of the weights it came from. Its image size is the
    one the ONNX backend runs at (an int8 file's calibration size when nothing else says)."""
    from mobilegan.inference.export import MODEL_KEY, read_onnx_metadata, source_metadata
    from mobilegan.inference.onnx_backend import recorded_image_size

    props = read_onnx_metadata(path)
    if MODEL_KEY not in props:
        raise ValueError(f"{path} has no mobilegan model config in its metadata: export it "
                         f"with `mobilegan export` to score it")
    metadata = source_metadata(props)
    size = recorded_image_size(props)  # the training size first, as in the metadata
    return ({**metadata, "image_size": size} if size else metadata), props.get("mobilegan.source")


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON file's content, None when it is missing; a clear error when it is broken."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def config_fingerprint(run_config: dict[str, Any] | None) -> str | None:
    """sha256 (12 hex) of a run's config without its seeds and machine settings: runs that
    differ only by seed share it, so the report can average them. Fields at their default
    value are left out, so a config saved before a field existed (the field then had its
    default's behaviour) matches one saved after it; a config this version cannot read
    (a newer one's fields) is hashed as saved."""
    if run_config is None:
        return None
    trimmed = {}
    for section, value in _without_defaults(run_config).items():
        if ("", section) in _NOT_CONFIG:
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if (section, k) not in _NOT_CONFIG}
        trimmed[section] = value
    text = json.dumps(trimmed, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _without_defaults(run_config: dict[str, Any]) -> dict[str, Any]:
    try:
        full = RunConfig.from_dict(run_config).to_dict()
    except (ConfigError, TypeError, ValueError):
        return run_config
    defaults = RunConfig().to_dict()
    kept: dict[str, Any] = {}
    for section, value in full.items():
        if isinstance(value, dict):
            kept[section] = {k: v for k, v in value.items() if defaults[section].get(k) != v}
        elif value != defaults.get(section):
            kept[section] = value
    return kept


def experiment_name(run_name: str) -> str:
    """``unet_seed2`` -> ``unet``: seeds of one experiment are grouped under one name."""
    return _SEED_SUFFIX.sub("", run_name) or run_name


# ---- the network ----------------------------------------------------------------------------

class OnnxNetwork:
    """An exported file called like the torch network (logits tensor in and out), so that
    an ONNX or int8 export is scored by exactly the code that scores the weights. It runs
    on torch's thread count, so that the summary's device line is true for both runtimes."""

    def __init__(self, path: Path) -> None:
        from mobilegan.inference.onnx_backend import OnnxBackend

        self.threads = torch.get_num_threads()
        self.backend = OnnxBackend(path, threads=self.threads)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.backend.logits(x.cpu().numpy()))


def load_network(source: ModelSource, device: torch.device
                 ) -> tuple[nn.Module | OnnxNetwork, Any, int, str]:
    """The network to score, its model config, parameter count and runtime label
    ("torch", "onnxruntime" or "onnxruntime int8"). ONNX files run on the CPU."""
    from mobilegan.models.io import load_model, model_config
    from mobilegan.models.registry import build_model

    if source.weights.suffix.lower() == ".onnx":
        if device.type != "cpu":
            raise ValueError(f"an ONNX file is scored with onnxruntime on the CPU; "
                             f"got --device {device}")
        from mobilegan.inference.export import MODEL_KEY, read_onnx_metadata

        cfg = model_config(json.loads(read_onnx_metadata(source.weights)[MODEL_KEY]))
        params = sum(p.numel() for p in build_model(cfg).parameters())
        network = OnnxNetwork(source.weights)  # its session knows whether the file is int8
        runtime = "onnxruntime int8" if network.backend.name == "int8" else "onnxruntime"
        return network, cfg, params, runtime
    model, cfg = load_model(source.weights, map_location="cpu")
    model = model.to(device).eval()
    return model, cfg, sum(p.numel() for p in model.parameters()), "torch"
