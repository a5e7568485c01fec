"""The moving average of the generator's weights (train.ema_decay): its arithmetic, that it is
what validation scores and the run exports, and that resume continues it exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mobilegan.cli.main import main as cli_main
from mobilegan.config import ConfigError, apply_overrides
from mobilegan.models.io import load_model
from mobilegan.training import trainer as trainer_module
from mobilegan.training.checkpoint import load_checkpoint
from mobilegan.training.ema import WeightAverage
from mobilegan.training.run_log import read_csv
from tests.test_training import tiny_config


def test_average_follows_the_formula_and_copies_integer_buffers() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {k: v.clone() for k, v in start.items() if v.is_floating_point()}
    for n in range(30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
            model[1].running_mean.add_(2.0)
            model[1].num_batches_tracked.add_(1)
        decay = min(0.9, (1 + n) / (10 + n))
        assert average.current_decay() == pytest.approx(decay)
        average.update(model)
        live = model.state_dict()
        for k in expected:
            expected[k] = decay * expected[k] + (1 - decay) * live[k]
    for k, v in average.module.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, expected[k])
        else:
            assert torch.equal(v, model.state_dict()[k])
    # the average lags the live weights, and moved away from the start
    weight = average.module[0].weight
    assert (weight < model[0].weight).all() and (weight > start["0.weight"]).all()
    assert not average.module.training and not any(p.requires_grad for p in average.module.parameters())
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, 1.0)


def test_run_exports_and_scores_the_average(data_root: Path, tmp_path: Path) -> None:
    cfg = apply_overrides(tiny_config(data_root, tmp_path / "run", steps=4), ["train.ema_decay=0.5"])
    cfg.out_dir = str(tmp_path / "run")
    trainer = trainer_module.Trainer(cfg)
    trainer.fit()
    exported, _ = load_model(tmp_path / "run" / "last.safetensors")
    averaged = trainer.average.module.state_dict()
    live = trainer_module._unwrap(trainer.generator).state_dict()
    differs = False
    for name, tensor in exported.state_dict().items():
        torch.testing.assert_close(tensor, averaged[name].to(tensor.dtype), rtol=0, atol=1e-6)
        differs |= not torch.equal(tensor, live[name].to(tensor.dtype))
    assert differs, "the export must be the average, not the live generator"
    meta = json.loads((tmp_path / "run" / "last.json").read_text())["metadata"]
    assert "moving average" in meta["weights"]
    assert trainer.average.updates == 4
    row = read_csv(tmp_path / "run" / "metrics.csv")[-1]
    assert {"val_JAC", "live_val_JAC", "live_val_DIC"} <= set(row)


def test_resume_continues_the_average_exactly(data_root: Path, tmp_path: Path) -> None:
    extra = ["train.ema_decay=0.8"]
    straight = apply_overrides(tiny_config(data_root, tmp_path / "a", steps=4), extra)
    straight.out_dir = str(tmp_path / "a")
    trainer_module.train(straight)
    half = apply_overrides(tiny_config(data_root, tmp_path / "b", steps=2), extra)
    half.out_dir = str(tmp_path / "b")
    trainer_module.train(half)
    assert cli_main(["train", "--out", str(tmp_path / "b"), "--resume", "--set",
                     "train.max_steps=4", "--set", "train.progress=false"]) == 0
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")["average"]
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["average"]
    assert a["updates"] == b["updates"] == 4
    for name, tensor in a["weights"].items():
        torch.testing.assert_close(tensor, b["weights"][name], rtol=0, atol=1e-6)


def test_decay_out_of_range_names_the_field(data_root: Path, tmp_path: Path) -> None:
    cfg = apply_overrides(tiny_config(data_root, tmp_path / "x"), ["train.ema_decay=1.5"])
    with pytest.raises(ConfigError, match="train.ema_decay"):
        cfg.validate()
