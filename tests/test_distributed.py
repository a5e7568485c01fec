"""torchrun with 2 CPU processes (gloo): each trains on its shard, and DDP keeps the
weights identical on both ranks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mobilegan.config import RunConfig
from tests.test_training import tiny_config

SCRIPT = """
import sys, torch
from mobilegan.config import RunConfig
from mobilegan.training.trainer import Trainer, _unwrap
trainer = Trainer(RunConfig.load(sys.argv[1]))
result = trainer.fit()
state = {"generator": _unwrap(trainer.generator).state_dict(),
         "discriminator": _unwrap(trainer.discriminator).state_dict(),
         "steps": result.steps_done, "rank": trainer.dist.rank, "world": trainer.dist.world_size}
torch.save(state, f"{sys.argv[2]}/rank{trainer.dist.rank}.pt")
"""


def torchrun_two_ranks(script: str, cfg: RunConfig, tmp_path: Path) -> list[str]:
    """The command that runs ``script`` on 2 CPU ranks with ``cfg`` (both saved in tmp_path);
    the script gets the config's path and the folder to write ``rank<N>.pt`` into."""
    cfg.save(tmp_path / "config.json")
    (tmp_path / "ddp_train.py").write_text(script)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
            "2", str(tmp_path / "ddp_train.py"), str(tmp_path / "config.json"), str(tmp_path)]


def run_or_fail_on_deadlock(command: list[str], deadlock: str, timeout: float = 240) -> None:
    """Run ``command``; a run still going after ``timeout`` seconds is a deadlock of the
    ranks, killed with its whole process group and reported as ``deadlock``."""
    import os
    import signal

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(deadlock)
    assert proc.returncode == 0, stderr[-3000:]


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_hold_identical_weights(data_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_root, tmp_path / "run", steps=3)
    done = subprocess.run(torchrun_two_ranks(SCRIPT, cfg, tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert (rank0["world"], rank1["world"], rank0["steps"]) == (2, 2, 3)
    for part in ("generator", "discriminator"):
        for name, tensor in rank0[part].items():
            assert torch.equal(tensor, rank1[part][name]), f"{part}.{name} differs between ranks"
    fresh = tiny_config(data_root, tmp_path / "unused")
    from mobilegan.models.registry import build_model
    untrained = build_model(fresh.model).state_dict()
    assert any(not torch.equal(untrained[k], rank0["generator"][k]) for k in untrained
               if untrained[k].is_floating_point()), "the weights must have trained"
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()  # written by rank 0


SKEWED_SCRIPT = """
import sys, torch
from mobilegan.config import RunConfig
from mobilegan.training import trainer as trainer_module
from mobilegan.training.trainer import Trainer, _unwrap
trainer = Trainer(RunConfig.load(sys.argv[1]))
if trainer.dist.rank == 1:  # this rank's clock reads far ahead of rank 0's
    own = trainer._elapsed
    trainer._elapsed = lambda: own() + 1e6
result = trainer.fit()
state = {"generator": _unwrap(trainer.generator).state_dict(), "steps": result.steps_done}
torch.save(state, f"{sys.argv[2]}/rank{trainer.dist.rank}.pt")
"""


@pytest.mark.slow
def test_ranks_agree_on_steps_and_budget_with_uneven_shards_and_clocks(
        data_root: Path, tmp_path: Path) -> None:
    """15 images on 2 ranks are shards of 8 and 7: at batch 4 each rank must take one step
    per epoch (not 2 and 1, which left rank 0 waiting in an all-reduce forever), and a time
    budget is judged by rank 0's clock alone (a rank whose clock ran ahead stopped alone)."""
    cfg = tiny_config(data_root, tmp_path / "run", steps=3)
    cfg.data.limit, cfg.train.epochs, cfg.train.max_steps = 15, 3, None
    cfg.train.time_budget_s = 1e5
    run_or_fail_on_deadlock(torchrun_two_ranks(SKEWED_SCRIPT, cfg, tmp_path),
                            "the ranks deadlocked (they disagreed on how many steps to take)")
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["steps"] == rank1["steps"] == 3
    for name, tensor in rank0["generator"].items():
        assert torch.equal(tensor, rank1["generator"][name]), name


NAN_ON_ONE_RANK_SCRIPT = """
import sys, torch
from mobilegan.config import RunConfig
from mobilegan.training import trainer as trainer_module
from mobilegan.training.trainer import Trainer, _unwrap
trainer = Trainer(RunConfig.load(sys.argv[1]))
real_loss = trainer_module.generator_loss
calls = {"n": 0}
def loss_nan_at_the_second_step_on_rank_1(*args, **kwargs):
    calls["n"] += 1
    parts = real_loss(*args, **kwargs)
    if trainer.dist.rank == 1 and calls["n"] == 2:
        parts["total"] = parts["total"] * float("nan")
    return parts
trainer_module.generator_loss = loss_nan_at_the_second_step_on_rank_1
result = trainer.fit()
state = {"generator": _unwrap(trainer.generator).state_dict(), "steps": result.steps_done,
         "lr": trainer.lr}
torch.save(state, f"{sys.argv[2]}/rank{trainer.dist.rank}.pt")
"""


@pytest.mark.slow
def test_a_non_finite_loss_on_one_rank_is_skipped_by_every_rank(data_root: Path,
                                                                tmp_path: Path) -> None:
    """Rank 1 alone got a NaN: it skipped its backward while rank 0 waited in the gradient
    all-reduce, for ever. The ranks now agree: both skip the step, restore and halve the lr."""
    cfg = tiny_config(data_root, tmp_path / "run", steps=4)
    run_or_fail_on_deadlock(torchrun_two_ranks(NAN_ON_ONE_RANK_SCRIPT, cfg, tmp_path),
                            "the ranks deadlocked over a NaN on one of them")
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["steps"] == rank1["steps"] == 3  # of 4 batches: the bad one is skipped
    assert rank0["lr"] == rank1["lr"] == cfg.train.lr / 2
    for name, tensor in rank0["generator"].items():
        assert torch.equal(tensor, rank1["generator"][name]), name

