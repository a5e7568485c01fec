"""Losses of MobileGAN: G = adversarial BCE + L1 + soft Jaccard; D = BCE real vs fake."""

from __future__ import annotations

import torch

from mobilegan.config import LossConfig
from mobilegan.losses.gan import discriminator_loss, generator_adversarial_loss
from mobilegan.losses.segmentation import l1_loss, pixel_bce_loss, soft_jaccard_loss

__all__ = ["discriminator_loss", "generator_adversarial_loss", "l1_loss", "pixel_bce_loss",
           "soft_jaccard_loss", "generator_loss"]


def generator_loss(logits: torch.Tensor, target: torch.Tensor, cfg: LossConfig,
                   fake_logits: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Weighted parts and their sum under "total". Without ``fake_logits`` (no adversary:
    the baselines and the "no GAN" ablation) the adversarial term is simply absent, so the
    ablation differs from MobileGAN in that one term."""
    logits = logits.float()
    probabilities = torch.sigmoid(logits)
    parts = {
        "l1": cfg.l1 * l1_loss(probabilities, target),
        "jaccard": cfg.jaccard * soft_jaccard_loss(probabilities, target),
    }
    if cfg.bce:
        parts["bce"] = cfg.bce * pixel_bce_loss(logits, target)
    if fake_logits is not None:
        parts["adversarial"] = cfg.adversarial * generator_adversarial_loss(fake_logits.float())
    parts["total"] = sum(parts.values())
    return parts
