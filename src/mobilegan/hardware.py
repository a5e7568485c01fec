"""Which device runs the work, and how every record names it: one wording for training
records, evaluation summaries and benchmarks, so that the report compares like with like."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` is the GPU when there is one, else the CPU; any other name as torch reads it.
    A device this machine lacks (``cuda`` on a CPU-only torch) is a ValueError saying so,
    before any work starts, rather than torch's assertion deep inside the first step."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:  # torch's own message lists twenty device types we do not run on
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda (or cuda:N) or "
                         f"mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: no CUDA GPU is usable here (torch "
                         f"{torch.__version__}); use --device cpu or auto")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r}: no Apple GPU (MPS) is usable here; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r}: only cpu, cuda and mps are supported")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), or what Python can tell."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_device(device: torch.device | str) -> str:
    """The card (``cuda: NVIDIA H100 80GB HBM3``) or CPU (``cpu: AMD EPYC (2 threads)``)
    that produced a number."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    threads = torch.get_num_threads()
    return f"cpu: {cpu_name()} ({threads} thread{'' if threads == 1 else 's'})"
