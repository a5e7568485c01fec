"""Shared fixtures. Real data comes from ../shared/data beside the checkout (CI has it);
nothing from it is ever copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("MOBILEGAN_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA_ROOT / "isic2018").is_dir():
        pytest.fail(f"real data expected at {DATA_ROOT} (set MOBILEGAN_DATA)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def isic2018(data_root: Path) -> Path:
    return data_root / "isic2018"


@pytest.fixture(scope="session")
def isic2017(data_root: Path) -> Path:
    return data_root / "isic2017"


def untrained_weights(folder: Path, seed: int = 0) -> Path:
    """An untrained MobileGAN saved as the shipped weights are (safetensors + JSON): tests
    of the pipeline around the network, whose results do not depend on training."""
    from mobilegan.config import ModelConfig
    from mobilegan.models.io import save_model
    from mobilegan.models.registry import build_model

    # PyTorch's default head start, not the tied one: its untrained masks are speckled,
    # which gives post-processing something to remove.
    config = ModelConfig(head_init="pytorch")
    torch.manual_seed(seed)
    return save_model(build_model(config), config, Path(folder) / "w.safetensors")
