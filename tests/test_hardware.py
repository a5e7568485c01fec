"""One wording for the device in every record: training, evaluation and benchmarks."""

from __future__ import annotations

import re

import pytest
import torch

from mobilegan.hardware import cpu_name, describe_device, resolve_device


def test_auto_is_the_gpu_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for present, expected in ((True, "cuda"), (False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: present)
        assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):  # is_available is False here
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu0': use auto, cpu, cuda") as caught:
        resolve_device("gpu0")
    assert "opengl" not in str(caught.value)  # not torch's list of every device type


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
