"""The networks learn: a few Adam steps on real ISIC 2018 images lower the loss on that batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mobilegan.config import ModelConfig
from mobilegan.data.cache import load_cached
from mobilegan.data.layouts import load_samples
from mobilegan.data.tensors import normalize_images
from mobilegan.models.registry import build_model

STEPS = 5


@pytest.fixture(scope="module")
def batch(isic2018: Path) -> tuple[torch.Tensor, torch.Tensor]:
    cached = load_cached(load_samples(isic2018, "train")[:4], 64, progress=False, strict=True)
    return normalize_images(cached.images), cached.masks.float()


def _loss(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(1)  # the same dropout masks (noise z) at every measurement
    return F.binary_cross_entropy_with_logits(model(images), masks)


@pytest.mark.parametrize("cfg", [ModelConfig(), ModelConfig(name="unet", unet_base=16)],
                         ids=["mobilegan", "unet"])
def test_a_few_steps_lower_the_loss_on_real_images(
        cfg: ModelConfig, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, masks = batch
    assert images.shape == (4, 3, 64, 64) and masks.unique().tolist() == [0.0, 1.0]
    torch.manual_seed(0)
    model = build_model(cfg).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        before = _loss(model, images, masks).item()
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = _loss(model, images, masks)
        loss.backward()
        optimizer.step()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    with torch.no_grad():
        after = _loss(model, images, masks).item()
    assert after < before, (before, after)
