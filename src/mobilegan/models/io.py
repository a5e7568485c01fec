"""Weights as safetensors with a JSON config beside them; loading never unpickles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mobilegan.atomic import replaced_whole
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


def inherited_split(start: str | Path, own_train: Sequence[str] | None = None) -> dict[str, Any]:
    """The ids the weights a run starts from (``train.init_generator``) were trained and
    selected on, their own ancestors' included. A stage trained leak-free from weights that
    saw test images still carries the leak: its evaluations must count these ids too.
    ``known`` is False when the start weights have no ``splits.json`` (nor ``<stem>.splits
    .json``), or an ancestor of theirs had none: then no evaluation can rule a leak out,
    unless their metadata's training-id hash is that of ``own_train`` (the run's own
    training ids: a stage on the same split; their validation ids stay unknown)."""
    start = Path(start)
    found = {"from": str(start), "known": False, "train": [], "val": []}
    path = splits_path_for(start) if start.is_file() else None
    if path is None:
        return _same_training_ids(found, start, own_train) or \
            {**found, "reason": f"no splits.json for {start}"}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return {**found, "reason": f"{path} cannot be read ({error})"}
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), list):
        return {**found, "reason": f"{path} lists no training ids"}
    earlier = saved.get("inherited") or {"known": True, "train": [], "val": []}
    if not earlier.get("known"):
        return {**found, "splits": str(path),
                "reason": f"an earlier stage of {start}: {earlier.get('reason', 'unknown')}"}
    return {**found, "known": True, "splits": str(path), "protocol": saved.get("protocol"),
            "train": sorted({*saved["train"], *earlier.get("train", [])}),
            "val": sorted({*saved.get("val", []), *earlier.get("val", [])})}


def _same_training_ids(found: dict[str, Any], start: Path,
                       own_train: Sequence[str] | None) -> dict[str, Any] | None:
    """Weights without their ids (an older shipped file) whose metadata hash proves they
    trained on exactly ``own_train``; None when that cannot be shown."""
    from mobilegan.data.splits import ids_sha256

    if own_train is None or not start.is_file():
        return None
    try:
        metadata = read_model_info(start)["metadata"]
    except (OSError, ValueError):
        return None
    if metadata.get("train_ids_sha256") != ids_sha256(own_train):
        return None
    return {**found, "known": True, "protocol": metadata.get("protocol"),
            "train": sorted(own_train), "verified_by": "train_ids_sha256"}


def save_model(model: nn.Module, cfg: ModelConfig, path: str | Path,
               metadata: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write ``path`` (.safetensors) and ``path.json`` (model config + metadata), each
    whole or not at all (:func:`~mobilegan.atomic.replaced_whole`): a run killed while
    exporting its best epoch leaves the earlier files whole, not half a file (the best
    weights are not in the checkpoint, so nothing would write them again)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
             .detach().cpu().contiguous() for k, v in model.state_dict().items()}
    info = {"model": dataclasses.asdict(cfg), "metadata": metadata or {}}
    with replaced_whole(path) as weights, replaced_whole(config_path_for(path)) as config:
        save_file(state, str(weights))
        config.write_text(json.dumps(info, indent=2) + "\n")
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
    """Rebuild the network from its JSON config and load the tensors (as float32), on the
    device ``map_location`` names."""
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
    return model.to(map_location).eval(), cfg
