"""Saved weights: safetensors + JSON, identical outputs after loading, and no pickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from mobilegan.config import ModelConfig
from mobilegan.models.io import load_model, read_model_info, save_model
from mobilegan.models.registry import build_model


def _perturbed(cfg: ModelConfig) -> torch.nn.Module:
    """A network whose weights, attention gammas and BN statistics are all non-default."""
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("gamma"):
                tensor.fill_(0.2)
            elif name.endswith("running_mean"):
                tensor.normal_(0, 0.1)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("cfg", [ModelConfig(pam_kv_stride=2),
                                 ModelConfig(name="unet", unet_base=8)], ids=["mobilegan", "unet"])
def test_round_trip_gives_identical_outputs_without_pickle(
        cfg: ModelConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _perturbed(cfg)
    path = save_model(model, cfg, tmp_path / "w.safetensors", metadata={"epoch": 3})

    def refuse(*args, **kwargs):
        raise AssertionError("loading weights must not unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded, loaded_cfg = load_model(path)
    monkeypatch.undo()

    assert loaded_cfg == cfg and not loaded.training
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        assert torch.isfinite(expected).all() and torch.equal(expected, loaded(x))
    # The file is safetensors (8-byte header length, JSON header), the config is JSON.
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert set(header) - {"__metadata__"} == set(model.state_dict())
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["model"]["name"] == cfg.name and info["metadata"] == {"epoch": 3}


def test_a_config_without_metadata_reads_as_nothing_recorded(tmp_path: Path) -> None:
    """A hand-written JSON may say "metadata": null or leave it out: every reader gets {}
    (int8 export crashed on null); anything else but an object is refused by name."""
    cfg = ModelConfig()
    path = save_model(build_model(cfg), cfg, tmp_path / "w.safetensors")
    info_path = path.with_suffix(".json")
    for stored in (None, "absent"):
        info = json.loads(info_path.read_text())
        if stored is None:
            info["metadata"] = None
        else:
            info.pop("metadata")
        info_path.write_text(json.dumps(info))
        assert read_model_info(path)["metadata"] == {}
    info["metadata"] = [1]
    info_path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="must be an object"):
        read_model_info(path)


def test_loading_missing_weights_says_where(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no weights"):
        load_model(tmp_path / "absent.safetensors")


def test_an_export_killed_half_way_leaves_the_earlier_file_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """best.safetensors was written in place: a run killed while exporting left half a file,
    and the best weights are in no checkpoint."""
    from mobilegan.models import io as model_io

    cfg = ModelConfig(pam_kv_stride=4)
    path = save_model(build_model(cfg), cfg, tmp_path / "best.safetensors", {"epoch": 1})
    before = path.read_bytes()

    def killed(state, filename):
        Path(filename).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(model_io, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(build_model(cfg), cfg, path, {"epoch": 2})
    assert path.read_bytes() == before
    assert load_model(path)[0] is not None
    assert json.loads((tmp_path / "best.json").read_text())["metadata"] == {"epoch": 1}
