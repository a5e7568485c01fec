"""One wording for the device in every record: training, evaluation and benchmarks."""

from __future__ import annotations

import re

import torch

from mobilegan.hardware import cpu_name, describe_device, resolve_device


def test_auto_is_the_gpu_when_there_is_one() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cpu_description_names_the_processor_and_its_threads() -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = describe_device("cpu")
        torch.set_num_threads(2)
        two = describe_device(torch.device("cpu"))
    finally:
        torch.set_num_threads(before)
    assert one == f"cpu: {cpu_name()} (1 thread)" and two == f"cpu: {cpu_name()} (2 threads)"
    assert re.fullmatch(r"cpu: .+ \(\d+ threads?\)", two) and cpu_name()
