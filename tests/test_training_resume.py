"""Resume, stopped and extended: a run stopped by a step limit or killed at a bad moment,
then resumed, ends as the run never stopped would (review of 2026-11-30)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mobilegan.cli.main import main as cli_main
from mobilegan.config import RunConfig, apply_overrides
from mobilegan.training import trainer as trainer_module
from mobilegan.training.checkpoint import load_checkpoint
from mobilegan.training.run_log import CsvLog, read_csv
from tests.test_training import tiny_config, tiny_overrides


def _scores_by_step(monkeypatch: pytest.MonkeyPatch, scores: dict[int, float],
                    dice: dict[int, float] | None = None, jac: float = 0.1) -> None:
    """Validation that answers by the trainer's step: a run's choices become exact
    (``scores``: JAC, else ``jac``; ``dice``: DIC, the collapse count's input, else 0.5)."""
    current: dict[str, int] = {}
    original_end = trainer_module.Trainer._end_epoch

    def end(self, *args, **kwargs):
        current["step"] = self.global_step
        return original_end(self, *args, **kwargs)

    monkeypatch.setattr(trainer_module.Trainer, "_end_epoch", end)
    monkeypatch.setattr(trainer_module, "validate", lambda *a, **k: {
        "val_JAC": scores.get(current["step"], jac),
        "val_DIC": (dice or {}).get(current["step"], 0.5)})


def _killed_before_step(number: int, step):
    """A Trainer._step that ends the process (as a kill would) instead of step ``number``."""
    def killed(self, *args):
        if self.global_step == number - 1:
            raise SystemExit("killed")
        return step(self, *args)
    return killed


def test_a_stop_mid_epoch_then_extended_chooses_as_a_run_never_stopped(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step-6 stop scored its half epoch (best of all), then the resume went on: the
    half epoch's score, which a run never stopped does not make, chose the best weights."""
    _scores_by_step(monkeypatch, {4: 0.3, 6: 0.9, 8: 0.5})
    whole = trainer_module.train(tiny_config(data_root, tmp_path / "whole", steps=8))
    stopped = tiny_config(data_root, tmp_path / "stopped", steps=6)
    assert trainer_module.train(stopped).best_val_jac == 0.9  # a run that ends there keeps it
    extended = trainer_module.train(tiny_config(data_root, tmp_path / "stopped", steps=8),
                                    resume=True)
    assert (extended.best_epoch, extended.best_val_jac) == (whole.best_epoch, 0.5) == (2, 0.5)
    for run in ("whole", "stopped"):
        meta = json.loads((tmp_path / run / "best.json").read_text())["metadata"]
        assert (meta["global_step"], meta["val_JAC"]) == (8, 0.5), run
    assert [row["step"] for row in read_csv(tmp_path / "stopped" / "metrics.csv")] == ["4", "8"]
    assert "no longer counts toward the best" in (tmp_path / "stopped" / "train.log").read_text()


def test_a_kill_during_the_last_scoring_is_scored_on_resume(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpoint after the last step came before that step's scoring: a kill during
    it left the last steps unscored and unexported, and the resume stopped at once."""
    out = tmp_path / "run"
    original = trainer_module.validate

    def dies_at_step_6(model, *args, **kwargs):
        if dies_at_step_6.trainer.global_step == 6:
            raise SystemExit("killed")
        return original(model, *args, **kwargs)

    original_end = trainer_module.Trainer._end_epoch

    def end(self, *args, **kwargs):
        dies_at_step_6.trainer = self
        return original_end(self, *args, **kwargs)

    monkeypatch.setattr(trainer_module.Trainer, "_end_epoch", end)
    monkeypatch.setattr(trainer_module, "validate", dies_at_step_6)
    with pytest.raises(SystemExit):
        trainer_module.train(tiny_config(data_root, out, steps=6))
    assert load_checkpoint(out / "checkpoints" / "last.pt")["global_step"] == 6
    monkeypatch.setattr(trainer_module, "validate", original)
    trainer_module.train(tiny_config(data_root, out, steps=6), resume=True)
    assert [row["step"] for row in read_csv(out / "metrics.csv")] == ["4", "6"]
    assert json.loads((out / "last.json").read_text())["metadata"]["global_step"] == 6


def test_an_extended_resume_that_is_killed_is_not_read_as_finished(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The finished run's train_result.json stayed while a resume extended it: killed, the
    run read as finished with the new limits, and --resume-if-interrupted did nothing."""
    from mobilegan.cli.train_cmd import run_state

    out = tmp_path / "run"
    sets = [a for o in tiny_overrides(data_root, out, 4) for a in ("--set", o)]
    assert cli_main(["train", *sets, "--out", str(out)]) == 0
    assert run_state(out) == "finished"
    original = trainer_module.Trainer._step
    monkeypatch.setattr(trainer_module.Trainer, "_step", _killed_before_step(6, original))
    with pytest.raises(SystemExit):
        cli_main(["train", "--out", str(out), "--resume", "--set", "train.max_steps=8"])
    assert run_state(out) != "finished"
    monkeypatch.setattr(trainer_module.Trainer, "_step", original)
    assert cli_main(["train", *sets, "--set", "train.max_steps=8", "--out", str(out),
                     "--resume-if-interrupted"]) == 0
    assert json.loads((out / "train_result.json").read_text())["steps_done"] == 8


def test_a_resume_restores_to_the_state_an_uninterrupted_run_would_after_a_bad_step(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The NaN guard's restore point was not in the checkpoint: resumed, a run restored to
    another state than the run never stopped."""
    original = trainer_module.Trainer._step
    failed: set[Path] = set()  # by run folder: id() of a collected Trainer is reused

    def one_bad_step(self, *args):
        if self.global_step == 5 and self.out not in failed:
            failed.add(self.out)
            return None
        return original(self, *args)

    extra = ["train.snapshot_every=3", "train.checkpoint_every=100", "train.epochs=2"]

    def _config(out: Path) -> RunConfig:
        cfg = apply_overrides(RunConfig(), tiny_overrides(data_root, out, 8) + extra)
        cfg.out_dir = str(out)
        return cfg

    monkeypatch.setattr(trainer_module.Trainer, "_step", one_bad_step)
    trainer_module.train(_config(tmp_path / "whole"))

    monkeypatch.setattr(trainer_module.Trainer, "_step", _killed_before_step(6, one_bad_step))
    with pytest.raises(SystemExit):
        trainer_module.train(_config(tmp_path / "resumed"))
    monkeypatch.setattr(trainer_module.Trainer, "_step", one_bad_step)
    trainer_module.train(_config(tmp_path / "resumed"), resume=True)
    whole, resumed = (load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")["generator"]
                      for run in ("whole", "resumed"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_rng_states_are_brought_to_the_cpu_before_they_are_set(
        data_root: Path, tmp_path: Path) -> None:
    """A checkpoint loaded onto a GPU holds its RNG state there; torch.set_rng_state takes
    CPU bytes only (every resume on a GPU stopped with a TypeError)."""
    trainer = trainer_module.Trainer(tiny_config(data_root, tmp_path / "run", steps=1))
    state = trainer._capture()
    expected = state["torch_rng"].clone()

    class OnAnotherDevice:  # what .to("cuda") would give: only .cpu() makes it settable
        def cpu(self) -> torch.Tensor:
            return expected

    state["torch_rng"] = OnAnotherDevice()
    torch.manual_seed(123)
    trainer._restore(state)
    assert torch.equal(torch.get_rng_state(), expected)


def test_a_column_that_appears_later_is_kept(tmp_path: Path) -> None:
    """The first row's columns were the file's for good: an epoch without a successful
    step dropped every loss column from the rest of the run."""
    log = CsvLog(tmp_path / "metrics.csv", "epoch")
    log.write({"epoch": 1, "val_JAC": 0.1})
    log.write({"epoch": 2, "val_JAC": 0.2, "g_total": 1.5})
    log.write({"epoch": 3, "g_total": 1.2})
    assert read_csv(tmp_path / "metrics.csv") == [
        {"epoch": "1", "val_JAC": "0.1", "g_total": ""},
        {"epoch": "2", "val_JAC": "0.2", "g_total": "1.5"},
        {"epoch": "3", "val_JAC": "", "g_total": "1.2"}]
    resumed = CsvLog(tmp_path / "metrics.csv", "epoch", resume_after=2)
    resumed.write({"epoch": 3, "val_JAC": 0.3, "g_total": 1.0, "lr": 0.1})
    assert [row["lr"] for row in read_csv(tmp_path / "metrics.csv")] == ["", "", "0.1"]
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary file left


def test_a_stop_mid_epoch_then_extended_counts_collapse_as_a_run_never_stopped(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The step-3 stop scored its half epoch as collapsed; extended, that count must go
    back with the rest of the partial scoring: kept, the all-background epoch 2 made two
    in a row and stopped for a collapse a run never stopped does not see. (Epochs of two
    steps: 8 training images, batches of 4.)"""
    _scores_by_step(monkeypatch, {}, dice={3: 0.0, 4: 0.0}, jac=0.5)
    extra = ["data.limit=8", "train.epochs=3", "train.stop_on_collapse=true",
             "train.collapse_patience=2"]

    def _config(out: Path, steps: int) -> RunConfig:
        cfg = apply_overrides(RunConfig(), tiny_overrides(data_root, out, steps) + extra)
        cfg.out_dir = str(out)
        return cfg

    whole = trainer_module.train(_config(tmp_path / "whole", 6))
    trainer_module.train(_config(tmp_path / "stopped", 3))
    extended = trainer_module.train(_config(tmp_path / "stopped", 6), resume=True)
    reasons = [json.loads((tmp_path / run / "train_result.json").read_text())["stop_reason"]
               for run in ("whole", "stopped")]
    assert whole.epochs_done == 3 and reasons[0] != "collapse"
    assert (extended.epochs_done, extended.steps_done) == (whole.epochs_done, whole.steps_done)
    assert reasons[1] == reasons[0]


def test_an_extended_resume_forgets_a_partial_best_when_there_was_no_best_before(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped at step 2 of epoch 1, the run's only best file came from that half epoch;
    extended and killed before epoch 1 is scored, it must not leave that file as the
    run's best weights (a run never stopped has none yet)."""
    out = tmp_path / "run"
    trainer_module.train(tiny_config(data_root, out, steps=2))
    assert (out / "best.safetensors").is_file()  # the partial epoch's score
    original = trainer_module.Trainer._step
    monkeypatch.setattr(trainer_module.Trainer, "_step", _killed_before_step(4, original))
    with pytest.raises(SystemExit):
        trainer_module.train(tiny_config(data_root, out, steps=8), resume=True)
    assert not (out / "best.safetensors").exists()
    assert not (out / "best.json").exists()
