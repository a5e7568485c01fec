"""Supervised terms of the generator loss, on probabilities in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_jaccard_loss(probabilities: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft IoU per image, averaged: optimises the metric the challenge ranks by.
    ``eps`` smooths images whose mask and prediction are both (nearly) empty."""
    dims = tuple(range(1, probabilities.ndim))
    intersection = (probabilities * target).sum(dims)
    union = probabilities.sum(dims) + target.sum(dims) - intersection
    return (1 - (intersection + eps) / (union + eps)).mean()


def l1_loss(probabilities: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (probabilities - target).abs().mean()


def pixel_bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy per pixel, from logits (numerically stable, and its gradient
    does not vanish where the sigmoid saturates on the wrong side)."""
    return F.binary_cross_entropy_with_logits(logits, target)
