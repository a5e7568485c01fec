"""The score runs are selected on during training: fast, on the cached validation tensors."""

from __future__ import annotations

import torch
from torch import nn

from mobilegan.data.cache import CachedSet
from mobilegan.data.tensors import normalize_images


@torch.no_grad()
def validate(generator: nn.Module, data: CachedSet, batch_size: int = 64,
             autocast: bool = False) -> dict[str, float]:
    """Mean per-image JAC and DIC at the training resolution, noise z off. For model
    selection only: the reported numbers come from ``mobilegan evaluate`` at the ground
    truth's own resolution."""
    was_training = generator.training
    generator.eval()
    jac, dic = [], []
    for start in range(0, len(data), batch_size):
        images = normalize_images(data.images[start:start + batch_size])
        truth = data.masks[start:start + batch_size].bool()
        with torch.autocast(images.device.type, torch.bfloat16, enabled=autocast):
            pred = generator(images) > 0
        tp = (pred & truth).flatten(1).sum(1).double()
        fp = (pred & ~truth).flatten(1).sum(1).double()
        fn = (~pred & truth).flatten(1).sum(1).double()
        union = tp + fp + fn
        jac.append(torch.where(union > 0, tp / union.clamp(min=1), torch.ones_like(tp)))
        dic.append(torch.where(union > 0, 2 * tp / (2 * tp + fp + fn).clamp(min=1), torch.ones_like(tp)))
    generator.train(was_training)
    return {"val_JAC": torch.cat(jac).mean().item(), "val_DIC": torch.cat(dic).mean().item()}
