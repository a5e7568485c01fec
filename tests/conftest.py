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
