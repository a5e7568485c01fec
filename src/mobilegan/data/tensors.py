"""How pixels become network inputs, decided in one place."""

from __future__ import annotations

import torch


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) in [0, 255] to float in [-1, 1] (pix2pix convention)."""
    return images.float().div(127.5).sub(1.0)
