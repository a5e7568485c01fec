"""torchrun with 2 CPU processes (gloo): each trains on its shard, and DDP keeps the
weights identical on both ranks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

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


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_hold_identical_weights(data_root: Path, tmp_path: Path) -> None:
    cfg = tiny_config(data_root, tmp_path / "run", steps=3)
    cfg.save(tmp_path / "config.json")
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(tmp_path / "config.json"), str(tmp_path)],
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
