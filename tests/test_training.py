"""Training: a tiny real run writes every artifact; resume after kill -9 matches an
uninterrupted run; the NaN guard; the overlap guard; config errors name the field."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from mobilegan.cli.main import main as cli_main
from mobilegan.config import ConfigError, RunConfig, apply_overrides
from mobilegan.hardware import describe_device
from mobilegan.training import trainer as trainer_module
from mobilegan.training.checkpoint import atomic_save, load_checkpoint
from mobilegan.training.data_setup import (UNCHECKED_PROTOCOL, OverlapError, plan_splits,
                                          protocol_line)
from mobilegan.training.run_log import read_csv

REPO = Path(__file__).resolve().parents[1]


def tiny_overrides(data_root: Path, out: Path, steps: int = 4) -> list[str]:
    return [
        f"data.train_dir={data_root / 'isic2018'}", f"data.eval_dir={data_root / 'isic2017'}",
        "data.limit=16", "data.val_limit=4", "data.image_size=64", "train.batch_size=4",
        f"train.max_steps={steps}", "train.epochs=2", "train.checkpoint_every=2",
        "train.num_threads=1", "train.progress=false", "train.overlay_every=1",
        "model.pam_kv_stride=2",
    ]


def tiny_config(data_root: Path, out: Path, steps: int = 4) -> RunConfig:
    cfg = apply_overrides(RunConfig(), tiny_overrides(data_root, out, steps))
    cfg.out_dir = str(out)
    return cfg


def test_tiny_run_writes_every_artifact(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = trainer_module.train(tiny_config(data_root, out))
    assert result.steps_done == 4 and result.epochs_done == 1
    for name in ["config.json", "splits.json", "steps.csv", "metrics.csv", "best.safetensors",
                 "best.json", "last.safetensors", "checkpoints/last.pt", "overlays/epoch_001.png"]:
        assert (out / name).is_file(), name
    assert any((out / "events").iterdir())
    assert RunConfig.load(out / "config.json").data.image_size == 64
    splits = json.loads((out / "splits.json").read_text())
    assert splits["protocol"] == "leak-free" and len(splits["train"]) == 16
    assert not set(splits["train"]) & set(splits["val"])
    steps = read_csv(out / "steps.csv")
    assert [int(r["step"]) for r in steps] == [1, 2, 3, 4]
    assert all(math.isfinite(float(r["d_loss"])) and math.isfinite(float(r["g_total"])) for r in steps)
    epochs = read_csv(out / "metrics.csv")
    assert {"val_JAC", "val_DIC", "images_per_s", "g_l1", "g_jaccard", "g_adversarial"} <= set(epochs[0])
    meta = json.loads((out / "best.json").read_text())["metadata"]
    assert meta["protocol"] == "leak-free" and meta["train_ids_sha256"] == splits["train_ids_sha256"]
    # what the run kept out is said as it starts, and kept with its result
    assert "protocol: leak-free: 529 ids of the evaluation set" in (out / "train.log").read_text()
    assert json.loads((out / "train_result.json").read_text())["protocol"] == "leak-free"


def _train_cmd(data_root: Path, out: Path, steps: int, *extra: str) -> list[str]:
    sets = [a for o in tiny_overrides(data_root, out, steps) for a in ("--set", o)]
    return [sys.executable, "-m", "mobilegan.cli.main", "train", *sets, "--out", str(out), *extra]


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted_run(data_root: Path, tmp_path: Path) -> None:
    steps = 8
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(data_root, straight, steps), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    # A real kill -9 at a known step (after the step-4 checkpoint and a step beyond it): a
    # kill timed by polling steps.csv from here landed after the last step on a loaded machine.
    kill_before_step_6 = textwrap.dedent("""
        import os, signal, sys
        from mobilegan.training import trainer
        step = trainer.Trainer._step
        def killed(self, *args):
            if self.global_step == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            return step(self, *args)
        trainer.Trainer._step = killed
        from mobilegan.cli.main import main
        sys.exit(main(sys.argv[1:]))
    """)
    done = subprocess.run([sys.executable, "-c", kill_before_step_6,
                           *_train_cmd(data_root, killed, steps)[3:]], env=env, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(read_csv(killed / "steps.csv")) == 5
    checkpoint = load_checkpoint(killed / "checkpoints" / "last.pt")
    assert 2 <= checkpoint["global_step"] < steps, "the kill must land mid-run"

    resume = [sys.executable, "-m", "mobilegan.cli.main", "train", "--out", str(killed), "--resume"]
    subprocess.run(resume, check=True, env=env, capture_output=True)
    a, b = read_csv(straight / "steps.csv"), read_csv(killed / "steps.csv")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [str(i) for i in range(1, steps + 1)]
    for row_a, row_b in zip(a, b):
        for key in ("d_loss", "g_total", "g_l1", "g_jaccard", "g_adversarial"):
            assert abs(float(row_a[key]) - float(row_b[key])) <= 1e-6, (row_a["step"], key)
    assert read_csv(straight / "metrics.csv")[-1]["val_JAC"] == read_csv(killed / "metrics.csv")[-1]["val_JAC"]


def test_nan_guard_restores_lowers_lr_then_stops(data_root: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real_loss = trainer_module.generator_loss
    calls = {"n": 0}
    poisoned = {3, 5, 6, 7}  # one bad step, then three in a row

    def flaky_loss(*args, **kwargs):
        calls["n"] += 1
        parts = real_loss(*args, **kwargs)
        if calls["n"] in poisoned:
            parts["total"] = parts["total"] * float("nan")
        return parts

    monkeypatch.setattr(trainer_module, "generator_loss", flaky_loss)
    out = tmp_path / "nan"
    cfg = tiny_config(data_root, out, steps=20)
    trainer = trainer_module.Trainer(cfg)
    with pytest.raises(trainer_module.TrainingDiverged, match="3 non-finite losses in a row"):
        trainer.fit()
    # bad, good (the count starts again), bad, bad, bad: halved three times, then stopped
    lowered = [e for e in trainer.events if "lowered the lr to" in e]
    assert [e.split("lowered the lr to ")[1].split(" ")[0] for e in lowered] == [
        "0.0001", "5e-05", "2.5e-05"]
    assert trainer.global_step == 3  # steps 3, 5, 6, 7 of the loss were never applied
    for tensor in trainer.generator.state_dict().values():
        assert torch.isfinite(tensor.float()).all()
    saved = load_checkpoint(out / "checkpoints" / "last.pt")
    assert saved["global_step"] == 3  # written at the end of epoch 1, before the bad run
    assert all(torch.isfinite(t.float()).all() for t in saved["generator"].values())


def test_overlap_guard_refuses_then_labels(data_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_root, tmp_path / "x")
    cfg.data.exclude_eval_ids = False
    with pytest.raises(OverlapError, match="529 training ids"):
        plan_splits(cfg)
    cfg.data.allow_overlap = True
    _, _, info = plan_splits(cfg)
    from mobilegan.data.layouts import load_samples
    test_ids = {s.id for s in load_samples(data_root / "isic2017", "test")}
    used = len(set(info["train"] + info["val"]) & test_ids)  # data.limit keeps a few images
    assert info["leak"] and info["train_overlap_with_eval"] == used < 529
    assert info["leak_label"].startswith(f"LEAKY: {used} training ids" if used else
                                         "LEAKY protocol (test ids allowed in training), "
                                         "though none")
    whole = tiny_config(data_root, tmp_path / "w")
    whole.data.exclude_eval_ids, whole.data.allow_overlap = False, True
    whole.data.limit = whole.data.val_limit = None
    assert plan_splits(whole)[2]["leak_label"].startswith("LEAKY: 529")
    whole_info = plan_splits(whole)[2]
    line = trainer_module.protocol_line(whole_info)
    assert line.startswith("protocol: paper (leaky). LEAKY: 529 training ids")
    assert line.endswith("every result of this run carries that label")
    cfg.data.exclude_eval_ids = True
    train, val, info = plan_splits(cfg)
    assert info["protocol"] == "leak-free" and info["eval_ids_excluded"] == 529
    full_cfg = tiny_config(data_root, tmp_path / "y")
    full_cfg.data.limit = full_cfg.data.val_limit = None
    train, val, _ = plan_splits(full_cfg)
    assert len(train) + len(val) == 2594 - 529
    assert not ({s.id for s in train} | {s.id for s in val}) & test_ids


def test_extra_training_folder_joins_training_only(data_root: Path, tmp_path: Path) -> None:
    """ISIC 2017's training and validation images that ISIC 2018 lacks (229) join the
    training split; validation stays the same; test ids and listed ids never train."""
    from mobilegan.data.layouts import load_samples
    base = tiny_config(data_root, tmp_path / "a")
    base.data.limit = base.data.val_limit = None
    train0, val0, _ = plan_splits(base)
    both = tiny_config(data_root, tmp_path / "b")
    both.data.limit = both.data.val_limit = None
    both.data.extra_train_dir = str(data_root / "isic2017")
    both.data.exclude_train_ids = ("ISIC_0012175", train0[0].id)
    train, val, info = plan_splits(both)
    assert [s.id for s in val] == [s.id for s in val0]
    assert info["train_ids_dropped"] == sorted(["ISIC_0012175", train0[0].id])
    assert info["extra_train_added"] == 229 - 1  # ISIC_0012175 is an extra, listed above
    assert len(train) == len(train0) + 228 - 1
    ids = [s.id for s in train]
    assert len(set(ids)) == len(ids)
    test_ids = {s.id for s in load_samples(data_root / "isic2017", "test")}
    assert not set(ids) & test_ids and not set(ids) & {s.id for s in val}
    assert info["train_ids_sha256"] != plan_splits(base)[2]["train_ids_sha256"]
    # leak-free drops test ids from the extra folder too (71 test ids are not in ISIC 2018)
    both.data.extra_train_splits = ("train", "test")
    train, _, info = plan_splits(both)
    assert not {s.id for s in train} & test_ids and info["eval_ids_excluded"] == 600
    both.data.extra_train_splits = ("test",)  # the paper's guard applies to extras too
    both.data.exclude_eval_ids = False
    with pytest.raises(OverlapError, match="600 training ids"):
        plan_splits(both)
    both.data.extra_train_dir = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="data.extra_train_dir"):
        both.validate()


def test_cli_refuses_overlap_with_a_message(data_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for o in tiny_overrides(data_root, tmp_path, 2) for a in ("--set", o)]
    code = cli_main(["train", *sets, "--set", "data.exclude_eval_ids=false", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "--allow-overlap" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("override, field", [
    ("train.lr=-0.1", "train.lr"),
    ("model.name=resnet", "model.name"),
    ("data.image_size=100", "data.image_size"),
    ("data.train_dir=/no/such/folder", "data.train_dir"),
    ("train.batch_size=0", "train.batch_size"),
    ("train.lr_schedule=step", "train.lr_schedule"),
    ("train.lr_decay_start=500", "train.lr_decay_start"),
    ("augment.zoom=[1.5,1.2]", "augment.zoom"),
    ("loss.bce=-0.5", "loss.bce"),
    # Counters that divide a step or epoch number: 0 crashed the run after an epoch of work.
    ("train.overlay_every=0", "train.overlay_every"),
    ("train.val_every=0", "train.val_every"),
    ("train.snapshot_every=0", "train.snapshot_every"),
    ("model.attention=False", "model.attention"),  # a truthy string, taken as it was
])
def test_bad_config_fails_at_start_naming_the_field(override: str, field: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["train", "--set", override, "--out", str(tmp_path / "r")])
    assert code == 2
    assert field in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_unknown_config_field_is_named() -> None:
    with pytest.raises(ConfigError, match="train.learning_rate"):
        apply_overrides(RunConfig(), ["train.learning_rate=1"])


def test_resume_refuses_to_change_what_the_run_computes(data_root: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    trainer_module.train(tiny_config(data_root, out, steps=2))
    code = cli_main(["train", "--out", str(out), "--resume", "--set", "train.lr=0.1"])
    assert code == 2 and "train.lr" in capsys.readouterr().err
    code = cli_main(["train", "--out", str(out), "--resume", "--no-adversary"])
    assert code == 2 and "train.adversarial" in capsys.readouterr().err
    # the command that started the run, repeated with --resume: same values, so accepted
    same = [a for o in tiny_overrides(data_root, out, 3) for a in ("--set", o)]
    code = cli_main(["train", "--out", str(out), "--resume", *same])
    assert code == 0
    assert [int(r["step"]) for r in read_csv(out / "steps.csv")] == [1, 2, 3]
    assert [int(r["epoch"]) for r in read_csv(out / "metrics.csv")] == [1]


def test_resume_if_interrupted_starts_continues_or_skips(data_root: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """One command for scripts that span sessions: a new run starts, an interrupted one
    continues only if started with the same settings, a finished one is left alone."""
    out = tmp_path / "run"
    sets = [a for o in tiny_overrides(data_root, out, 2) for a in ("--set", o)]
    command = ["train", *sets, "--set", "train.progress=false", "--out", str(out),
               "--resume-if-interrupted"]
    assert cli_main(command) == 0
    first = json.loads((out / "train_result.json").read_text())
    assert first["steps_done"] == 2 and "resumed_at_step" not in first
    assert cli_main(command) == 0  # finished: nothing trains, nothing changes
    assert "already finished" in capsys.readouterr().out
    assert json.loads((out / "train_result.json").read_text()) == first

    (out / "train_result.json").unlink()  # as if a session had ended the run after step 2
    other = [*command, "--set", "train.lr=0.1"]
    assert cli_main(other) == 2
    assert "train.lr" in capsys.readouterr().err
    assert not (out / "train_result.json").exists()
    assert cli_main([*command, "--set", "train.max_steps=3"]) == 0  # a runtime field may change
    again = json.loads((out / "train_result.json").read_text())
    assert again["resumed_at_step"] == 2 and again["steps_done"] == 3
    assert [int(r["step"]) for r in read_csv(out / "steps.csv")] == [1, 2, 3]
    assert cli_main(["train", "--resume-if-interrupted"]) == 2  # needs --out
    assert "--out" in capsys.readouterr().err


def test_resumed_run_reports_the_wall_time_of_every_invocation(data_root: Path, tmp_path: Path) -> None:
    """A run that spans sessions reports its whole training time, not the last piece."""
    out = tmp_path / "run"
    trainer_module.train(tiny_config(data_root, out, steps=2))
    first = json.loads((out / "train_result.json").read_text())
    assert "resumed_at_step" not in first and first["wall_s"] > 0
    before = load_checkpoint(out / "checkpoints" / "last.pt")["wall_s"]
    assert 0 < before <= first["wall_s"] + 0.1
    assert cli_main(["train", "--out", str(out), "--resume", "--set", "train.max_steps=3",
                     "--set", "train.progress=false"]) == 0
    second = json.loads((out / "train_result.json").read_text())
    assert second["resumed_at_step"] == 2
    assert second["wall_s"] == pytest.approx(before + second["wall_s_this_invocation"], abs=0.2)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["wall_s"] > before

    # A checkpoint written before wall time was recorded: said, not guessed.
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    del state["wall_s"]
    atomic_save(state, out / "checkpoints" / "last.pt")
    assert cli_main(["train", "--out", str(out), "--resume", "--set", "train.max_steps=4",
                     "--set", "train.progress=false"]) == 0
    third = json.loads((out / "train_result.json").read_text())
    assert third["wall_s"] == pytest.approx(third["wall_s_this_invocation"], abs=0.2)
    assert "predates" in third["wall_s_note"]


def test_same_seed_same_weights_and_epochs_do_not_depend_on_how_many_follow(
        data_root: Path, tmp_path: Path) -> None:
    """On one machine a seeded run repeats bit for bit, and with the paper's constant lr its
    first epoch is the same whether one or two are asked for: reproduce_shipped.sh trains
    stage 1 for the 3 epochs that mattered, not the 5 the original run went on for."""
    from safetensors.torch import load_file

    def run(name: str, epochs: int) -> Path:
        cfg = tiny_config(data_root, tmp_path / name, steps=8)
        cfg.train.epochs = epochs
        return trainer_module.train(cfg).out_dir

    one, again, two = run("one", 1), run("again", 1), run("two", 2)
    first, repeat = load_file(str(one / "last.safetensors")), load_file(str(again / "last.safetensors"))
    assert all(torch.equal(first[k], repeat[k]) for k in first)
    steps_one, steps_two = read_csv(one / "steps.csv"), read_csv(two / "steps.csv")
    assert len(steps_one) == 4 and len(steps_two) == 8
    for a, b in zip(steps_one, steps_two[:4]):
        assert (a["d_loss"], a["g_total"]) == (b["d_loss"], b["g_total"])
    assert read_csv(one / "metrics.csv")[0]["val_JAC"] == read_csv(two / "metrics.csv")[0]["val_JAC"]


def test_init_generator_starts_from_given_weights(data_root: Path, tmp_path: Path) -> None:
    first = trainer_module.train(tiny_config(data_root, tmp_path / "a", steps=2))
    cfg = tiny_config(data_root, tmp_path / "b", steps=1)
    cfg.train.init_generator = str(first.out_dir / "last.safetensors")
    trainer = trainer_module.Trainer(cfg)
    from mobilegan.models.io import load_model
    source, _ = load_model(first.out_dir / "last.safetensors")
    for name, tensor in source.state_dict().items():
        assert torch.equal(tensor, trainer.generator.state_dict()[name]), name
    cfg.model.discriminator_attention = False  # another judge, the same generator: allowed
    assert trainer_module.Trainer(cfg).discriminator is not None
    # the dropout rates and the head's start do not change what the weights compute
    cfg.model.decoder_dropout, cfg.model.head_init = 0.1, "pytorch"
    changed = trainer_module.Trainer(cfg)
    assert torch.equal(changed.generator.state_dict()["head.weight"], source.state_dict()["head.weight"])
    assert "model.decoder_dropout 0.3 -> 0.1" in (tmp_path / "b" / "train.log").read_text()
    cfg.model.pam_kv_stride = 4
    with pytest.raises(ValueError, match="init_generator"):
        trainer_module.Trainer(cfg)


def test_lr_schedules_hold_then_decay_to_zero() -> None:
    from mobilegan.training.schedule import lr_factor

    assert [lr_factor("constant", p, 10) for p in (0, 5, 10)] == [1.0, 1.0, 1.0]
    assert lr_factor("linear", 2, 10, decay_start=4) == 1.0
    assert lr_factor("linear", 7, 10, decay_start=4) == pytest.approx(0.5)
    assert lr_factor("linear", 5.5, 10, decay_start=4) == pytest.approx(0.75)  # down, not up
    assert lr_factor("linear", 10, 10, decay_start=4) == 0.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 10, 10) == pytest.approx(0.0, abs=1e-12)
    cosine = [lr_factor("cosine", p / 4, 10, 2) for p in range(41)]
    assert all(a >= b for a, b in zip(cosine, cosine[1:]))
    with pytest.raises(ValueError, match="schedule"):
        lr_factor("step", 1, 10)


def test_training_follows_the_lr_schedule(data_root: Path, tmp_path: Path) -> None:
    cfg = apply_overrides(tiny_config(data_root, tmp_path / "run", steps=8),
                          ["train.lr_schedule=linear", "train.lr_decay_start=1", "train.lr=0.001",
                           "augment.rot90=true", "augment.color_p=0.5", "augment.zoom_p=0.5"])
    cfg.out_dir = str(tmp_path / "run")
    trainer_module.train(cfg)
    steps = read_csv(tmp_path / "run" / "steps.csv")
    # 16 images, batch 4: 4 steps an epoch; the first epoch and the first step of the
    # second at full lr, then down a quarter a step towards 0 at the end of epoch 2
    assert [float(row["lr"]) for row in steps] == pytest.approx(
        [0.001] * 5 + [0.00075, 0.0005, 0.00025])


def test_time_budget_stops_with_a_scored_partial_epoch(data_root: Path, tmp_path: Path) -> None:
    """A run under train.time_budget_s stops mid-epoch once the budget is spent, still
    validates and exports, and says in train_result.json how far it got and why."""
    out = tmp_path / "budget"
    cfg = tiny_config(data_root, out, steps=1000)
    cfg.train.max_steps = None
    cfg.train.time_budget_s = 1e-6  # spent after the first step
    result = trainer_module.train(cfg)
    assert result.steps_done == 1 and result.epochs_done == 0
    info = json.loads((out / "train_result.json").read_text())
    assert info["stop_reason"] == "time budget" and info["steps_done"] == 1
    assert info["epochs_trained"] == 0.25 and info["card"] == describe_device("cpu")
    assert (out / "best.safetensors").is_file()
    assert len(read_csv(out / "metrics.csv")) == 1
    assert "time budget" in (out / "train.log").read_text()

    finished = trainer_module.train(tiny_config(data_root, tmp_path / "steps", steps=2))
    info = json.loads((finished.out_dir / "train_result.json").read_text())
    assert info["stop_reason"] == "max_steps" and info["time_budget_s"] is None


def test_schedule_over_budget_decays_with_the_budget(data_root: Path, tmp_path: Path) -> None:
    """With train.schedule_over_budget the decay follows the budget when it binds first: a
    budget spent before the first step gives that step the schedule's end (lr 0), where
    the epoch-driven schedule would still be at its start."""
    from mobilegan.training.schedule import budget_progress

    assert budget_progress(1.0, 10, elapsed_s=50, budget_s=100) == 5.0  # the budget leads
    assert budget_progress(8.0, 10, elapsed_s=50, budget_s=100) == 8.0  # the epochs lead
    lrs = {}
    for over_budget in (False, True):
        out = tmp_path / f"over{over_budget}"
        cfg = apply_overrides(tiny_config(data_root, out, steps=1000),
                              ["train.lr_schedule=cosine", "train.time_budget_s=1e-6",
                               f"train.schedule_over_budget={str(over_budget).lower()}"])
        cfg.train.max_steps = None
        cfg.out_dir = str(out)
        trainer_module.train(cfg)
        lrs[over_budget] = float(read_csv(out / "steps.csv")[0]["lr"])
    assert lrs[False] == pytest.approx(cfg.train.lr) and lrs[True] == 0.0


def test_time_budget_must_be_positive() -> None:
    cfg = apply_overrides(RunConfig(), ["train.time_budget_s=0"])
    with pytest.raises(ConfigError, match="train.time_budget_s"):
        cfg.validate()


def test_validation_scores_do_not_depend_on_its_batch_size(data_root: Path, tmp_path: Path) -> None:
    """Training validates in training-sized batches (memory: the paper's PAM is quadratic in
    positions); the scores must be those of one big batch."""
    from mobilegan.data.cache import CachedSet
    from mobilegan.models.registry import build_model

    cfg = tiny_config(data_root, tmp_path / "unused")
    torch.manual_seed(0)
    generator = build_model(cfg.model)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (7, 3, 64, 64), dtype=torch.uint8, generator=g)
    masks = (torch.rand(7, 1, 64, 64, generator=g) > 0.5).to(torch.uint8)
    data = CachedSet(images, masks, [str(i) for i in range(7)])
    whole = trainer_module.validate(generator, data, batch_size=64)
    chunked = trainer_module.validate(generator, data, batch_size=3)
    assert whole == pytest.approx(chunked, abs=1e-6)
    assert 0 < whole["val_JAC"] < 1


def test_val_every_validates_every_nth_epoch_and_the_last(data_root: Path, tmp_path: Path) -> None:
    """train.val_every was read by nothing: every epoch was validated whatever it said."""
    out = tmp_path / "run"
    cfg = apply_overrides(tiny_config(data_root, out, steps=16),
                          ["train.epochs=4", "train.val_every=2", "train.max_steps=null",
                           "data.limit=8", "data.val_limit=2", "train.overlay_every=10"])
    cfg.out_dir = str(out)
    result = trainer_module.train(cfg)
    assert result.epochs_done == 4
    rows = read_csv(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    scored = [int(r["epoch"]) for r in rows if r["val_JAC"] != ""]
    assert scored == [1, 2, 4]  # the first (CSV columns), every 2nd, the last
    assert result.best_epoch in scored


def test_steps_per_epoch_agree_across_ranks_with_uneven_shards(data_root: Path,
                                                               tmp_path: Path) -> None:
    """Every step all-reduces: ranks whose shards differ in length must still take the same
    number of steps (15 images on 2 ranks at batch 4: shards of 8 and 7, one step each)."""
    from mobilegan.training.distributed import DistInfo

    cfg = apply_overrides(tiny_config(data_root, tmp_path / "run", steps=4), ["data.limit=15"])
    cfg.out_dir = str(tmp_path / "run")
    trainer = trainer_module.Trainer(cfg)
    steps = []
    for rank in (0, 1):
        trainer.dist = DistInfo(rank=rank, world_size=2)
        shard = trainer._epoch_order(0)
        steps.append(trainer._steps_per_epoch())
        assert steps[-1] * cfg.train.batch_size <= len(shard)
    assert steps == [1, 1]
    # the two ranks' shards share nothing and cover the set
    shards = []
    for rank in (0, 1):
        trainer.dist = DistInfo(rank=rank, world_size=2)
        shards.append(set(trainer._epoch_order(0).tolist()))
    assert not shards[0] & shards[1] and shards[0] | shards[1] == set(range(15))
    trainer.dist = DistInfo()
    assert trainer._steps_per_epoch() == 15 // 4
    # each epoch its own order, the same again for the same epoch (a resume repeats it)
    first, second = trainer._epoch_order(0).tolist(), trainer._epoch_order(1).tolist()
    assert first != second and sorted(first) == sorted(second) == list(range(15))
    assert trainer._epoch_order(1).tolist() == second


def test_resume_that_extends_a_run_records_it_in_config_json(data_root: Path, tmp_path: Path) -> None:
    """A run extended on resume (--set train.epochs=3) and interrupted again continues with
    a plain --resume: config.json, which --resume reads, says 3 epochs (it said 1, and the
    second resume stopped at once, reporting the run finished)."""
    out = tmp_path / "run"
    cfg = apply_overrides(tiny_config(data_root, out, steps=4),
                          ["data.limit=8", "data.val_limit=2", "train.overlay_every=10"])
    cfg.out_dir = str(out)
    cfg.train.epochs, cfg.train.max_steps = 1, None
    assert trainer_module.train(cfg).steps_done == 2
    assert cli_main(["train", "--out", str(out), "--resume", "--set", "train.epochs=3",
                     "--set", "train.max_steps=3"]) == 0  # interrupted mid epoch 2
    saved = RunConfig.load(out / "config.json")
    assert (saved.train.epochs, saved.train.max_steps) == (3, 3)
    assert "train.epochs 1 -> 3" in (out / "train.log").read_text()
    assert cli_main(["train", "--out", str(out), "--resume", "--set", "train.max_steps=null"]) == 0
    info = json.loads((out / "train_result.json").read_text())
    assert (info["steps_done"], info["epochs_done"], info["stop_reason"]) == (6, 3, "epochs")


def test_only_rank_zero_reports_the_result(data_root: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Under torchrun every rank runs `mobilegan train`; only rank 0 validates, so only it
    prints the "done:" line (another rank's would read "best validation JAC -1")."""
    out = tmp_path / "run"
    sets = [a for o in tiny_overrides(data_root, out, 1) for a in ("--set", o)]
    monkeypatch.setenv("RANK", "1")  # WORLD_SIZE unset: trains alone, as rank 1 would report
    assert cli_main(["train", *sets, "--set", "train.progress=false", "--out", str(out)]) == 0
    assert "done:" not in capsys.readouterr().out
    monkeypatch.setenv("RANK", "0")
    assert cli_main(["train", *sets, "--set", "train.progress=false",
                     "--out", str(tmp_path / "run0")]) == 0
    assert "done:" in capsys.readouterr().out


def _train_cli(data_root: Path, out: Path, *extra: str, steps: int = 2) -> int:
    sets = [a for o in tiny_overrides(data_root, out, steps) for a in ("--set", o)]
    return cli_main(["train", *sets, "--out", str(out), *extra])


def test_a_missing_evaluation_folder_stops_training(data_root: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Without it the run would call itself leak-free while training on test images."""
    cfg = tiny_config(data_root, tmp_path / "r")
    cfg.data.eval_dir = str(tmp_path / "isic2017_typo")
    with pytest.raises(FileNotFoundError, match="cannot be kept out of training"):
        plan_splits(cfg)
    cfg.data.eval_dir = None  # said on purpose: no evaluation set to keep out
    info = plan_splits(cfg)[2]
    assert info["eval_ids_excluded"] == 0
    # ... and nothing was checked, so the run does not call itself leak-free (scored on
    # ISIC 2017 test later it would have sat in Table 2's class beside a LEAK label).
    assert info["protocol"] == UNCHECKED_PROTOCOL and not info["leak"]
    assert "no evaluation set named" in protocol_line(info)
    assert _train_cli(data_root, tmp_path / "r2", "--set",
                      f"data.eval_dir={tmp_path / 'nope'}") == 2
    assert "data.eval_dir" in capsys.readouterr().err and not (tmp_path / "r2").exists()


def test_an_existing_run_folder_is_not_replaced_without_overwrite(
        data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert _train_cli(data_root, out) == 0
    weights = (out / "best.safetensors").read_bytes()
    assert _train_cli(data_root, out, "--set", "train.seed=5") == 2
    assert "finished run" in capsys.readouterr().err
    assert (out / "best.safetensors").read_bytes() == weights
    assert _train_cli(data_root, out, "--set", "train.seed=5", "--overwrite") == 0
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 5


def test_overwrite_leaves_nothing_of_the_earlier_run(data_root: Path, tmp_path: Path) -> None:
    """--overwrite of a finished paper-protocol run, stopped early, kept the old
    train_result.json: --resume-if-interrupted then called the new run finished, under the
    old run's LEAKY protocol, and scripts/score_run.sh kept the old weights' scores."""
    from mobilegan.cli.train_cmd import run_state

    out = tmp_path / "run"
    assert _train_cli(data_root, out, "--protocol", "paper", steps=2) == 0
    (out / "eval_test").mkdir()
    (out / "eval_test" / "summary.json").write_text("{}")  # the old weights' score
    cfg = tiny_config(data_root, out, steps=2)
    trainer_module.Trainer(cfg)  # a fresh start, as --overwrite makes; stopped before a step
    assert run_state(out) == "new"
    for name in ("train_result.json", "best.safetensors", "last.safetensors", "checkpoints",
                 "metrics.csv", "eval_test"):
        assert not (out / name).exists(), name
    log = (out / "train.log").read_text()
    assert "paper (leaky)" not in log and "removed the earlier run's train_result.json" in log
    assert json.loads((out / "splits.json").read_text())["protocol"] == "leak-free"
    # A folder that holds no run keeps what it has (evaluate's ./eval/ of loose weights).
    other = tmp_path / "here"
    (other / "eval").mkdir(parents=True)
    (other / "eval" / "summary.json").write_text("{}")
    trainer_module.Trainer(tiny_config(data_root, other, steps=2))
    assert (other / "eval" / "summary.json").is_file()
    # A start file inside the run being replaced would be deleted under it: refused.
    (out / "best.safetensors").write_bytes(b"not read")
    (out / "best.json").write_text("{}")
    again = tiny_config(data_root, out, steps=2)
    again.train.init_generator = str(out / "best.safetensors")
    with pytest.raises(ValueError, match="copy it elsewhere first"):
        trainer_module.Trainer(again)


def test_a_damaged_checkpoint_or_a_changed_split_stops_a_resume(
        data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert _train_cli(data_root, out, steps=2) == 0
    (out / "train_result.json").unlink()  # as if interrupted
    splits = json.loads((out / "splits.json").read_text())
    (out / "splits.json").write_text(json.dumps({**splits, "val": splits["val"][:-1]}))
    assert cli_main(["train", "--resume", "--out", str(out), "--set", "train.max_steps=3"]) == 2
    assert "another split than the run started with" in capsys.readouterr().err
    (out / "splits.json").write_text(json.dumps(splits))
    checkpoint = out / "checkpoints" / "last.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(checkpoint)
    assert cli_main(["train", "--resume", "--out", str(out), "--set", "train.max_steps=3"]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_config_files_that_are_not_objects_and_limits_of_zero_are_refused(tmp_path: Path) -> None:
    for text in ("[1, 2]", '{"base": 5}', '{"train": '):
        path = tmp_path / "c.json"
        path.write_text(text)
        with pytest.raises(ConfigError, match="c.json"):
            RunConfig.load(path)
    for override, field in (("data.limit=0", "data.limit"), ("train.max_steps=-1", "train.max_steps"),
                            ("train.betas=[0.5, 1.5]", "train.betas")):
        with pytest.raises(ConfigError, match=field):
            apply_overrides(RunConfig(), [override]).validate()


def test_unusable_pairs_are_said_in_train_log(data_root: Path, tmp_path: Path) -> None:
    """A pair that cannot be read is skipped: train.log (and the terminal) say how many,
    not only splits.json."""
    import shutil

    data = tmp_path / "data"
    images = data / "ISIC2018_Task1-2_Training_Input"
    masks = data / "ISIC2018_Task1_Training_GroundTruth"
    images.mkdir(parents=True)
    masks.mkdir()
    source = data_root / "isic2018"
    for path in sorted((source / images.name).glob("*.jpg"))[:12]:
        shutil.copy(path, images / path.name)
        shutil.copy(source / masks.name / f"{path.stem}_segmentation.png", masks)
    broken = sorted(images.glob("*.jpg"))[0]
    broken.write_bytes(b"not a jpeg")
    cfg = tiny_config(data_root, tmp_path / "run", steps=1)
    cfg.data.train_dir = str(data)
    trainer_module.train(cfg)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "skipped 1 image/mask pair(s)" in log and broken.stem in log


def test_resume_if_interrupted_refuses_a_finished_run_of_other_settings(
        data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert _train_cli(data_root, out, "--resume-if-interrupted") == 0
    assert _train_cli(data_root, out, "--resume-if-interrupted", "--set", "train.lr=0.1") == 2
    assert "finished run" in capsys.readouterr().err
    # A run that stopped at its step limit, asked for more, was "already finished": a rerun
    # of a script with a larger budget skipped every row without a word.
    assert _train_cli(data_root, out, "--resume-if-interrupted", "--set",
                      "train.max_steps=5") == 2
    err = capsys.readouterr().err
    assert "train.max_steps 2 -> 5" in err and "--resume" in err
    assert cli_main(["train", "--resume", "--out", str(out), "--set", "train.max_steps=5"]) == 0
    assert json.loads((out / "train_result.json").read_text())["steps_done"] == 5


def test_a_stale_temporary_checkpoint_is_swept_by_the_next_save(tmp_path: Path) -> None:
    """SIGTERM during a write leaves no exception to clean up after: the next save does."""
    stale = tmp_path / ".last.pt.abc123.tmp"
    stale.write_bytes(b"x" * 100)
    atomic_save({"a": torch.zeros(1)}, tmp_path / "last.pt")
    assert not stale.exists() and load_checkpoint(tmp_path / "last.pt")["a"].shape == (1,)


def test_a_save_that_fails_midway_leaves_the_last_checkpoint_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old checkpoint is replaced only once the new one is fully written."""
    path = atomic_save({"a": torch.ones(3)}, tmp_path / "last.pt")

    def cut_short(state, handle):
        handle.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", cut_short)
    with pytest.raises(OSError, match="No space"):
        atomic_save({"a": torch.zeros(3)}, path)
    assert torch.equal(load_checkpoint(path)["a"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_loading_a_checkpoint_never_runs_pickled_code(tmp_path: Path) -> None:
    """weights_only: an object that would run code when unpickled is refused by name."""
    torch.save({"x": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt is not a readable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not _Payload.ran


class _Payload:
    """Pickles as a call: unpickling it with weights_only=False would set ``ran``."""

    ran = False

    def __reduce__(self):
        return (_Payload._run, ())

    @staticmethod
    def _run() -> None:
        _Payload.ran = True


def test_an_excluded_id_that_is_nowhere_is_reported(data_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_root, tmp_path / "run", steps=1)
    cfg.data.exclude_train_ids = ["ISIC_TYPO"]
    trainer_module.train(cfg)
    assert json.loads((tmp_path / "run" / "splits.json").read_text())[
        "exclude_train_ids_not_found"] == ["ISIC_TYPO"]
    assert "ISIC_TYPO" in (tmp_path / "run" / "train.log").read_text()


def test_a_signal_stops_after_the_step_with_a_checkpoint_and_resume_is_exact(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (a scheduler's pre-emption) or Ctrl+C lost every step since the last
    periodic checkpoint (up to 100): the run now saves the step it was in and stops."""
    straight = tmp_path / "straight"
    trainer_module.train(tiny_config(data_root, straight, steps=4))

    out = tmp_path / "run"
    real_step = trainer_module.Trainer._step

    def step_then_signal(self, *args):
        losses = real_step(self, *args)
        if self.global_step == 1:  # during the second step
            os.kill(os.getpid(), signal.SIGTERM)
        return losses

    monkeypatch.setattr(trainer_module.Trainer, "_step", step_then_signal)
    with pytest.raises(KeyboardInterrupt):
        trainer_module.train(tiny_config(data_root, out, steps=4))
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers given back
    assert load_checkpoint(out / "checkpoints" / "last.pt")["global_step"] == 2
    assert "SIGTERM at step 2" in (out / "train.log").read_text()
    monkeypatch.setattr(trainer_module.Trainer, "_step", real_step)
    trainer_module.train(RunConfig.load(out / "config.json"), resume=True)
    a, b = read_csv(straight / "steps.csv"), read_csv(out / "steps.csv")
    assert [r["step"] for r in b] == ["1", "2", "3", "4"]
    for row_a, row_b in zip(a, b):
        assert abs(float(row_a["g_total"]) - float(row_b["g_total"])) <= 1e-6, row_a["step"]


@pytest.mark.parametrize("signal_after", [2, 4])  # mid-epoch, and at the epoch's last step
def test_an_epoch_resumed_reads_in_metrics_csv_as_if_never_stopped(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        signal_after: int) -> None:
    """The epoch's row averaged only the steps after the resume; resumed at its last step
    it had no losses at all, 0 images/s and the lr before any schedule."""
    cfg = tiny_config(data_root, tmp_path / "straight", steps=6)
    cfg.train.lr_schedule = "cosine"
    trainer_module.train(cfg)

    out = tmp_path / "run"
    real_step = trainer_module.Trainer._step

    def step_then_signal(self, *args):
        losses = real_step(self, *args)
        if self.global_step == signal_after - 1:  # during step number signal_after
            os.kill(os.getpid(), signal.SIGTERM)
        return losses

    monkeypatch.setattr(trainer_module.Trainer, "_step", step_then_signal)
    stopped = dataclasses.replace(cfg, out_dir=str(out))
    with pytest.raises(KeyboardInterrupt):
        trainer_module.train(stopped)
    monkeypatch.setattr(trainer_module.Trainer, "_step", real_step)
    trainer_module.train(RunConfig.load(out / "config.json"), resume=True)
    a, b = read_csv(tmp_path / "straight" / "metrics.csv"), read_csv(out / "metrics.csv")
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b] == ["1", "2"]
    for row_a, row_b in zip(a, b):
        for key in ("g_total", "g_l1", "d_loss", "lr", "step"):
            assert abs(float(row_a[key]) - float(row_b[key])) <= 1e-6, (row_a["epoch"], key)
        assert float(row_b["images_per_s"]) > 0


def test_a_fraction_of_an_epoch_is_never_reported_as_none() -> None:
    assert trainer_module.epochs_trained(1, 260) == 0.0038
    assert trainer_module.epochs_trained(65, 260) == 0.25
    assert trainer_module.epochs_trained(0, 260) == 0.0
    assert trainer_module.epochs_trained(520, 260) == 2.0


def test_an_epoch_whose_every_step_failed_is_not_scored_or_exported(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two steps per epoch, both non-finite (under max_bad_steps): epoch 1 was validated
    and its untrained weights exported as the best epoch, "global_step 0"."""
    real_loss = trainer_module.generator_loss
    calls = {"n": 0}

    def first_two_bad(*args, **kwargs):
        calls["n"] += 1
        parts = real_loss(*args, **kwargs)
        if calls["n"] <= 2:
            parts["total"] = parts["total"] * float("nan")
        return parts

    monkeypatch.setattr(trainer_module, "generator_loss", first_two_bad)
    out = tmp_path / "run"
    cfg = tiny_config(data_root, out, steps=2)
    cfg.data.limit, cfg.train.epochs = 8, 2  # two steps an epoch
    trainer_module.train(cfg)
    assert "epoch 1: no step succeeded; its weights are not exported" in (
        out / "train.log").read_text()
    rows = read_csv(out / "metrics.csv")
    # the row is written and scored all the same: the file takes its columns from it
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[1]["val_JAC"] != ""
    best = json.loads((out / "best.json").read_text())["metadata"]
    assert best["epoch"] == 2 and best["global_step"] == 2


def test_a_restored_snapshot_is_not_changed_by_the_steps_after_it(data_root: Path,
                                                                   tmp_path: Path) -> None:
    """A second non-finite loss must restore the same good state as the first: the
    optimisers once shared their moment tensors with the snapshot, which later steps then
    rewrote."""
    trainer = trainer_module.Trainer(tiny_config(data_root, tmp_path / "run", steps=8))

    def good_step() -> None:
        trainer._step(*trainer._batch(torch.arange(2)))
        trainer.global_step += 1

    good_step()
    trainer._snapshot = trainer._capture()
    before = copy.deepcopy(trainer._snapshot)
    good_step()  # the networks move away from the snapshot...
    trainer._handle_bad_step()  # ...and come back to it exactly
    for name in ("generator", "discriminator"):
        now = trainer_module._unwrap(getattr(trainer, name)).state_dict()
        assert all(torch.equal(now[key], value) for key, value in before[name].items()), name
    good_step()
    good_step()
    for name in ("opt_g", "opt_d"):
        for key, state in before[name]["state"].items():
            for field, value in state.items():
                assert torch.equal(value, trainer._snapshot[name]["state"][key][field]), (name, field)


def test_a_validation_folder_never_shares_images_with_training(data_root: Path,
                                                                tmp_path: Path) -> None:
    """ISIC 2017's validation images as the selection set for ISIC 2018 training: 121 of
    the 150 are ISIC 2018 training images too, and leave training."""
    cfg = tiny_config(data_root, tmp_path / "v")
    cfg.data.limit = cfg.data.val_limit = None
    cfg.data.val_dir, cfg.data.val_split = str(data_root / "isic2017"), "val"
    train, val, info = plan_splits(cfg)
    assert len(val) == 150 and not {s.id for s in train} & {s.id for s in val}
    assert info["train_ids_in_val_removed"] == 121
    assert len(train) == 2594 - 529 - 121


def test_an_id_with_two_image_files_trains_the_first_and_names_the_other(tmp_path: Path) -> None:
    """x.jpg beside x.png with one mask x.png: the second file was trained on the first's
    mask without a word; now the first is the id's image (as evaluate reads it)."""
    from PIL import Image

    from mobilegan.training.data_setup import prepare_data

    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    for i, name in enumerate(["a.jpg", "dup.jpg", "dup.png", "z.jpg"]):
        Image.new("RGB", (16, 16), (40 * i, 80, 120)).save(tmp_path / "data" / "images" / name)
    for stem in ("a", "dup", "z"):
        Image.new("L", (16, 16), 255).save(tmp_path / "data" / "masks" / f"{stem}.png")
    cfg = RunConfig()
    cfg.data.train_dir, cfg.data.eval_dir = str(tmp_path / "data"), None
    cfg.data.train_fraction, cfg.data.image_size = 0.5, 32
    train, val, info = plan_splits(cfg)
    chosen = {s.id: s.image.name for s in [*train, *val]}
    assert chosen == {"a": "a.jpg", "dup": "dup.jpg", "z": "z.jpg"}
    assert len(info["duplicates"]) == 1 and "dup.png" in info["duplicates"][0][1]
    prepared = prepare_data(cfg, progress=False)
    assert any("duplicate_id" in reason for _id, reason in prepared.info["skipped"])


def test_a_validation_folder_holding_every_training_image_is_refused_in_words(
        tmp_path: Path) -> None:
    from PIL import Image

    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    for stem in ("a", "b"):
        Image.new("RGB", (16, 16)).save(tmp_path / "data" / "images" / f"{stem}.jpg")
        Image.new("L", (16, 16), 255).save(tmp_path / "data" / "masks" / f"{stem}.png")
    cfg = RunConfig()
    cfg.data.train_dir = cfg.data.val_dir = str(tmp_path / "data")
    cfg.data.eval_dir = None
    with pytest.raises(ValueError, match="every training image of .* is also in the validation"):
        plan_splits(cfg)
    # ... unless another folder does the training
    for folder in ("images", "masks"):
        (tmp_path / "extra" / folder).mkdir(parents=True)
    Image.new("RGB", (16, 16)).save(tmp_path / "extra" / "images" / "c.jpg")
    Image.new("L", (16, 16), 255).save(tmp_path / "extra" / "masks" / "c.png")
    cfg.data.extra_train_dir, cfg.data.extra_train_splits = str(tmp_path / "extra"), ("all",)
    train, val, _ = plan_splits(cfg)
    assert [s.id for s in train] == ["c"] and sorted(s.id for s in val) == ["a", "b"]


def test_a_new_run_starts_its_logs_afresh_and_a_resume_keeps_the_rows_before_it(
        tmp_path) -> None:
    """A run started again in the same folder must not append to the old run's rows; a
    resume keeps the rows up to its checkpoint and drops the ones after it."""
    from mobilegan.training.run_log import CsvLog

    path = tmp_path / "metrics.csv"
    first = CsvLog(path, "epoch")
    for epoch in (1, 2, 3):
        first.write({"epoch": epoch, "jac": epoch / 10})
    resumed = CsvLog(path, "epoch", resume_after=2)
    resumed.write({"epoch": 3, "jac": 0.9})
    assert path.read_text().splitlines() == ["epoch,jac", "1,0.1", "2,0.2", "3,0.9"]
    CsvLog(path, "epoch").write({"epoch": 1, "jac": 0.5})
    assert path.read_text().splitlines() == ["epoch,jac", "1,0.5"]


def test_overwrite_removes_a_broken_link_left_in_the_earlier_runs_folder(
        data_root: Path, tmp_path: Path) -> None:
    """An earlier run's ``eval`` that links to a folder since deleted does not exist(), yet
    is still there: --overwrite must remove it and say so, not leave a dead link where the
    new run's evaluation makes its folder."""
    out = tmp_path / "run"
    trainer_module.Trainer(tiny_config(data_root, out, steps=2))  # an earlier run's folder
    (out / "eval").symlink_to(tmp_path / "deleted_eval", target_is_directory=True)
    assert (out / "eval").is_symlink() and not (out / "eval").exists()
    assert _train_cli(data_root, out, "--overwrite", steps=1) == 0
    assert not os.path.lexists(out / "eval")
    [line] = [line for line in (out / "train.log").read_text().splitlines()
              if "removed the earlier run's" in line]
    assert "eval" in line.split("removed the earlier run's ", 1)[1].split(", ")


def _trainer_and_batch(data_root: Path, tmp_path: Path, *overrides: str):
    """A tiny Trainer and its first batch, for one step looked at closely."""
    cfg = apply_overrides(RunConfig(), tiny_overrides(data_root, tmp_path / "run") + list(overrides))
    cfg.out_dir = str(tmp_path / "run")
    trainer = trainer_module.Trainer(cfg)
    images, masks = trainer._batch(trainer._epoch_order(0)[:4])
    return trainer, images, masks


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _moved(before: list[torch.Tensor], model: torch.nn.Module) -> bool:
    return any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_both_optimisers_are_the_papers_adam(data_root: Path, tmp_path: Path) -> None:
    """Adam, lr 2e-4, betas (0.5, 0.999) for the generator and the discriminator (pix2pix's
    beta1 0.5; Adam's default 0.9 makes a GAN markedly less stable)."""
    trainer, _, _ = _trainer_and_batch(data_root, tmp_path)
    for optimiser in (trainer.opt_g, trainer.opt_d):
        assert isinstance(optimiser, torch.optim.Adam)
        group = optimiser.param_groups[0]
        assert group["lr"] == pytest.approx(2e-4) and tuple(group["betas"]) == (0.5, 0.999)


def test_one_step_moves_the_discriminator_and_the_generator(data_root: Path,
                                                            tmp_path: Path) -> None:
    trainer, images, masks = _trainer_and_batch(data_root, tmp_path)
    g_before, d_before = _weights(trainer.generator), _weights(trainer.discriminator)
    losses = trainer._step(images, masks)
    assert losses is not None and {"d_loss", "g_adversarial", "g_total"} <= set(losses)
    assert _moved(d_before, trainer.discriminator) and _moved(g_before, trainer.generator)


def test_the_generator_learns_from_the_discriminators_verdict(data_root: Path,
                                                              tmp_path: Path) -> None:
    """L1 and Jaccard weighted 0 leave the adversarial term alone: the generator still
    moves, so the judge's verdict on the generated mask reaches it (the judge is frozen
    for that pass and trainable again after it)."""
    trainer, images, masks = _trainer_and_batch(data_root, tmp_path, "loss.l1=0",
                                                 "loss.jaccard=0")
    g_before = _weights(trainer.generator)
    assert trainer._step(images, masks) is not None
    assert _moved(g_before, trainer.generator)
    assert all(p.requires_grad for p in trainer.discriminator.parameters())


def test_the_discriminator_step_gives_the_generator_no_gradient(data_root: Path,
                                                                tmp_path: Path) -> None:
    """Every generator term weighted 0: only the D step could move the generator, and it
    judges the generated mask detached."""
    trainer, images, masks = _trainer_and_batch(data_root, tmp_path, "loss.l1=0",
                                                 "loss.jaccard=0", "loss.adversarial=0")
    g_before = _weights(trainer.generator)
    assert trainer._step(images, masks) is not None
    assert not _moved(g_before, trainer.generator)


def test_without_the_adversary_there_is_no_judge_and_no_adversarial_term(
        data_root: Path, tmp_path: Path) -> None:
    """``train.adversarial=false`` (the no-GAN ablation, the baselines): no discriminator,
    no D step, and the generator's loss lacks the adversarial term only."""
    trainer, images, masks = _trainer_and_batch(data_root, tmp_path, "train.adversarial=false")
    assert trainer.discriminator is None and trainer.opt_d is None
    losses = trainer._step(images, masks)
    assert losses is not None
    assert not {"d_loss", "d_real", "d_fake", "g_adversarial"} & set(losses)
    assert {"g_l1", "g_jaccard", "g_total"} <= set(losses)
