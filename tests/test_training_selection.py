"""Model selection during training: the validation scores themselves, which epoch is kept
as best, the collapse warning, the overlays written, tiny training sets, and a stop signal
that lands while validation runs. Runs are tiny (64 px, one step per epoch, one thread)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path

import pytest
import torch
from torch import nn

from mobilegan.config import RunConfig, apply_overrides
from mobilegan.data.cache import CachedSet
from mobilegan.training import trainer as trainer_module
from mobilegan.training.checkpoint import load_checkpoint
from mobilegan.training.run_log import read_csv
from mobilegan.training.validation import validate

from tests.test_training import tiny_config


# ---- validate(): the scores runs are selected on ----------------------------------------

class ChannelZeroIsThePrediction(nn.Module):
    """A stand-in generator whose logits are the first input channel: a white pixel
    (255, normalised to +1) is predicted lesion, a black one (-1) background."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, :1].clone()


def _square(size: int, top: int, left: int, height: int, width: int) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.uint8)
    mask[top:top + height, left:left + width] = 1
    return mask


def _cached(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> CachedSet:
    """(prediction, truth) masks of one size as a CachedSet whose image encodes the
    prediction for ChannelZeroIsThePrediction."""
    images, masks = [], []
    for prediction, truth in pairs:
        images.append((prediction * 255).to(torch.uint8).expand(3, -1, -1).clone())
        masks.append(truth[None].to(torch.uint8))
    return CachedSet(torch.stack(images), torch.stack(masks), [str(i) for i in range(len(masks))])


def test_an_image_with_no_lesion_predicted_empty_scores_one() -> None:
    """Empty truth and empty prediction agree perfectly: JAC and DIC 1, not 0 (0/0)."""
    empty = torch.zeros(16, 16, dtype=torch.uint8)
    scores = validate(ChannelZeroIsThePrediction(), _cached([(empty, empty)]))
    assert scores == pytest.approx({"val_JAC": 1.0, "val_DIC": 1.0})

    # ...while a prediction on an image with no lesion scores 0
    spot = _square(16, 2, 2, 3, 3)
    assert validate(ChannelZeroIsThePrediction(), _cached([(spot, empty)])) == pytest.approx(
        {"val_JAC": 0.0, "val_DIC": 0.0})


def test_validation_dice_is_twice_the_overlap_over_the_sizes() -> None:
    """Truth 4x4 (16 px), prediction its top half (8 px): JAC 8/16, DIC 2*8/(8+16)."""
    truth = _square(16, 4, 4, 4, 4)
    prediction = _square(16, 4, 4, 2, 4)
    scores = validate(ChannelZeroIsThePrediction(), _cached([(prediction, truth)]))
    assert scores["val_JAC"] == pytest.approx(0.5)
    assert scores["val_DIC"] == pytest.approx(2 / 3)
    # A perfect prediction scores 1 on both
    assert validate(ChannelZeroIsThePrediction(), _cached([(truth, truth)])) == pytest.approx(
        {"val_JAC": 1.0, "val_DIC": 1.0})


def test_validation_means_per_image_scores_over_batches_and_restores_the_mode() -> None:
    empty = torch.zeros(16, 16, dtype=torch.uint8)
    truth = _square(16, 4, 4, 4, 4)
    half = _square(16, 4, 4, 2, 4)
    data = _cached([(empty, empty), (half, truth), (truth, truth)])
    generator = ChannelZeroIsThePrediction().train()
    scores = validate(generator, data, batch_size=2)  # a batch of 2, then one of 1
    assert scores["val_JAC"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert scores["val_DIC"] == pytest.approx((1.0 + 2 / 3 + 1.0) / 3)
    assert generator.training  # handed back in the mode it came in


# ---- the training loop ------------------------------------------------------------------

def _config(data_root: Path, out: Path, *overrides: str) -> RunConfig:
    """Four training images at batch 4: one step per epoch, no step limit."""
    cfg = apply_overrides(tiny_config(data_root, out),
                          ["data.limit=4", "data.val_limit=2", "train.max_steps=null",
                           "train.val_every=1", *overrides])
    cfg.out_dir = str(out)
    return cfg


def _scripted_validation(monkeypatch: pytest.MonkeyPatch, jac: list[float],
                         dic: list[float]) -> list[int]:
    """Make the trainer's validation return the given scores, one pair per call."""
    calls: list[int] = []

    def fake(generator, data, batch_size=64, autocast=False):
        i = len(calls)
        calls.append(i)
        return {"val_JAC": jac[i], "val_DIC": dic[i]}

    monkeypatch.setattr(trainer_module, "validate", fake)
    return calls


def test_a_tie_in_validation_jac_keeps_the_earlier_epoch(data_root: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted_validation(monkeypatch, jac=[0.4, 0.6, 0.6], dic=[0.5, 0.7, 0.7])
    out = tmp_path / "run"
    result = trainer_module.train(_config(data_root, out, "train.epochs=3"))
    assert result.epochs_done == 3
    assert result.best_epoch == 2 and result.best_val_jac == pytest.approx(0.6)
    assert json.loads((out / "train_result.json").read_text())["best_epoch"] == 2
    best = json.loads((out / "best.json").read_text())["metadata"]
    assert best["epoch"] == 2 and best["global_step"] == 2  # the weights of epoch 2, not 3


@pytest.mark.parametrize("dics, warned", [([0.0, 0.5, 0.0], False), ([0.5, 0.0, 0.0], True)])
def test_a_good_epoch_resets_the_collapse_count(data_root: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                dics: list[float], warned: bool) -> None:
    """Patience 2: two collapsed epochs in a row warn; collapsed, good, collapsed does not."""
    _scripted_validation(monkeypatch, jac=[0.1, 0.2, 0.3], dic=dics)
    trainer = trainer_module.Trainer(_config(data_root, tmp_path / "run", "train.epochs=3",
                                             "train.collapse_patience=2"))
    trainer.fit()
    warnings = [e for e in trainer.events if "collapsed to all-background" in e]
    if warned:
        assert len(warnings) == 1 and "for 2 epochs" in warnings[0]
        assert "collapsed" in (tmp_path / "run" / "train.log").read_text()
    else:
        assert warnings == []
    assert trainer.collapsed_epochs == (2 if warned else 1)


@pytest.mark.parametrize("stop", [True, False])
def test_stop_on_collapse_ends_the_run_and_keeps_the_best_epoch(data_root: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               stop: bool) -> None:
    """With train.stop_on_collapse, two collapsed validations in a row (patience 2) end the
    run there, its best epoch kept and the reason recorded; without it (the default) the
    run trains its epochs, collapsed or not."""
    calls = _scripted_validation(monkeypatch, jac=[0.5, 0.0, 0.0, 0.0, 0.0],
                                 dic=[0.6, 0.0, 0.0, 0.0, 0.0])
    out = tmp_path / "run"
    overrides = ["train.epochs=5", "train.collapse_patience=2"]
    result = trainer_module.train(_config(data_root, out, *overrides,
                                          *(["train.stop_on_collapse=true"] if stop else [])))
    record = json.loads((out / "train_result.json").read_text())
    assert result.best_epoch == 1 and record["best_epoch"] == 1
    if stop:
        assert result.epochs_done == 3 and len(calls) == 3
        assert record["stop_reason"] == "collapse"
        assert "stop_on_collapse" in (out / "train.log").read_text()
        # Resumed, it stops again at once: it trained one more epoch, then stopped on the
        # old count.
        again = trainer_module.train(RunConfig.load(out / "config.json"), resume=True)
        assert again.epochs_done == 3 and len(calls) == 3 and again.steps_done == result.steps_done
        assert json.loads((out / "train_result.json").read_text())["stop_reason"] == "collapse"
    else:
        assert result.epochs_done == 5 and len(calls) == 5
        assert record["stop_reason"] == "epochs"


def test_a_collapse_at_the_last_epoch_is_not_a_stop(data_root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that collapses in its last epoch trained all its epochs: it says so."""
    _scripted_validation(monkeypatch, jac=[0.5, 0.0, 0.0], dic=[0.6, 0.0, 0.0])
    out = tmp_path / "run"
    trainer_module.train(_config(data_root, out, "train.epochs=3", "train.collapse_patience=2",
                                 "train.stop_on_collapse=true"))
    assert json.loads((out / "train_result.json").read_text())["stop_reason"] == "epochs"


def test_an_overlay_is_written_at_the_first_epoch_and_the_last(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    trainer_module.train(_config(data_root, out, "train.epochs=3", "train.overlay_every=10"))
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["epoch_001.png", "epoch_003.png"]


def test_a_training_set_smaller_than_the_batch_still_trains(data_root: Path, tmp_path: Path) -> None:
    """Three images at batch 4: the only batch is short, and it is the epoch (a short last
    batch is dropped only when full ones exist)."""
    out = tmp_path / "run"
    cfg = _config(data_root, out, "data.limit=3", "train.epochs=2")
    result = trainer_module.train(cfg)
    assert len(json.loads((out / "splits.json").read_text())["train"]) == 3
    assert result.steps_done == 2 and result.epochs_done == 2
    assert [int(r["step"]) for r in read_csv(out / "steps.csv")] == [1, 2]


def test_a_stop_signal_during_validation_ends_the_run_after_it(data_root: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while epoch 1 is validated: the validation finishes, a checkpoint is written
    and the run stops, without starting epoch 2; --resume then finishes it."""
    real_validate = trainer_module.validate
    calls: list[int] = []

    def validate_then_signal(*args, **kwargs):
        scores = real_validate(*args, **kwargs)
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)
        calls.append(1)
        return scores

    monkeypatch.setattr(trainer_module, "validate", validate_then_signal)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        trainer_module.train(_config(data_root, out, "train.epochs=3"))
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers given back
    saved = load_checkpoint(out / "checkpoints" / "last.pt")
    assert saved["global_step"] == 1 and saved["epoch"] == 1 and saved["step_in_epoch"] == 0
    assert [int(r["step"]) for r in read_csv(out / "steps.csv")] == [1]  # no step after it
    assert [int(r["epoch"]) for r in read_csv(out / "metrics.csv")] == [1]
    assert "SIGTERM at step 1" in (out / "train.log").read_text()

    result = trainer_module.train(RunConfig.load(out / "config.json"), resume=True)
    assert result.steps_done == 3 and result.epochs_done == 3
