"""DistributedDataParallel under torchrun: NCCL on GPUs, gloo on CPUs. Each process trains
on its own shard of every epoch's shuffled order; rank 0 alone writes files."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's batch-norm statistics. DDP does this before each forward;
    after the last step each rank holds its own shard's update, so we finish with it."""
    if info.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, 0)


def broadcast_float(value: float, info: DistInfo, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (itself when not distributed): decisions that must
    agree across ranks, such as whether a time budget is spent, are taken from one clock."""
    if not info.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64,
                          device=device if device.type == "cuda" else "cpu")
    dist.broadcast(tensor, 0)
    return float(tensor.item())


def finite_everywhere(value: torch.Tensor, info: DistInfo) -> bool:
    """Whether ``value`` is finite on every rank. A rank that skipped its backward alone
    left the others waiting in DDP's gradient all-reduce for ever: the NaN guard must take
    one decision for all of them."""
    ok = torch.isfinite(value).all()
    if not info.enabled:
        return bool(ok)
    flag = ok.to(device=value.device if value.device.type == "cuda" else "cpu",
                 dtype=torch.int32).reshape(1)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())
