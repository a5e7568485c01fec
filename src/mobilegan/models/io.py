"""Weights as safetensors with a JSON config beside them; loading never unpickles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mobilegan.config import ModelConfig


def config_path_for(weights: Path) -> Path:
    return weights.with_suffix(".json")


def splits_path_for(weights: Path, source_name: str | None = None) -> Path | None:
    """The training and validation ids of the run that made ``weights``: its run folder's
    ``splits.json``, else ``<stem>.splits.json`` beside the file (how the shipped weights
    carry theirs); ``source_name`` names the weights an export was made from."""
    candidates = [weights.parent / "splits.json", weights.with_name(f"{weights.stem}.splits.json")]
    if source_name:
        candidates.append(weights.with_name(f"{Path(source_name).stem}.splits.json"))
    return next((c for c in candidates if c.is_file()), None)


def save_model(model: nn.Module, cfg: ModelConfig, path: str | Path,
               metadata: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write ``path`` (.safetensors) and ``path.json`` (model config + metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
             .detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    info = {"model": dataclasses.asdict(cfg), "metadata": metadata or {}}
    config_path_for(path).write_text(json.dumps(info, indent=2) + "\n")
    return path


def read_model_info(path: str | Path) -> dict[str, Any]:
    """The JSON beside a ``.safetensors`` file: ``{"model": ..., "metadata": ...}``. Every
    way it can be wrong is a ValueError or FileNotFoundError that names the file."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise ValueError(f"{path}: weights must be a .safetensors file (with its .json beside "
                         f"it); an .onnx file runs with the onnx backend")
    info_path = config_path_for(path)
    if not info_path.is_file():
        raise FileNotFoundError(f"{path} has no {info_path.name} beside it (its model config)")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{info_path} is not a model config (invalid JSON: {error})") from None
    if not isinstance(info, dict) or not isinstance(info.get("model"), dict):
        raise ValueError(f"{info_path} is not a model config (no \"model\" section)")
    metadata = info.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"{info_path}: \"metadata\" must be an object, got {metadata!r}")
    info["metadata"] = metadata or {}  # missing or null: nothing recorded
    return info


def model_config(stored: dict[str, Any]) -> ModelConfig:
    """A stored model config (weights JSON, ONNX metadata); fields this version does not
    know are ignored, missing ones take their defaults."""
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in stored.items() if k in known})


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network from its JSON config and load the tensors (as float32)."""
    from mobilegan.models.registry import build_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights at {path}")
    cfg = model_config(read_model_info(path)["model"])
    model = build_model(cfg)
    try:
        state = load_file(str(path), device=str(map_location))
    except SafetensorError as error:
        raise ValueError(f"{path} is not a valid safetensors file ({error}); download or "
                         f"export it again") from None
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state)
    return model.eval(), cfg
