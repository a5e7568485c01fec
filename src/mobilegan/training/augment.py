"""Augmentation on whole batches of uint8 tensors, on whatever device they live on
(the GPU in training): flips, gamma and CLAHE, as the paper lists. No per-image Python."""

from __future__ import annotations

import torch

from mobilegan.config import AugmentConfig


def augment_batch(images: torch.Tensor, masks: torch.Tensor, cfg: AugmentConfig,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) uint8, masks (B, 1, H, W) uint8; returns augmented copies.
    ``generator`` (on the CPU) makes every draw reproducible for a given step."""
    b = images.shape[0]

    def draw(p: float) -> torch.Tensor:
        return (torch.rand(b, generator=generator) < p).to(images.device)

    if cfg.hflip:
        flip = draw(0.5).view(b, 1, 1, 1)
        images = torch.where(flip, images.flip(-1), images)
        masks = torch.where(flip, masks.flip(-1), masks)
    if cfg.vflip:
        flip = draw(0.5).view(b, 1, 1, 1)
        images = torch.where(flip, images.flip(-2), images)
        masks = torch.where(flip, masks.flip(-2), masks)
    if cfg.gamma_p > 0:
        low, high = cfg.gamma
        gamma = torch.empty(b).uniform_(low, high, generator=generator).to(images.device)
        gamma = torch.where(draw(cfg.gamma_p), gamma, torch.ones_like(gamma))
        images = adjust_gamma(images, gamma)
    if cfg.clahe_p > 0:
        chosen = draw(cfg.clahe_p)
        if bool(chosen.any()):
            enhanced = clahe(images[chosen], cfg.clahe_clip, cfg.clahe_tiles)
            images = images.clone()
            images[chosen] = enhanced
    return images, masks


def adjust_gamma(images: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    scaled = (images.float() / 255).pow(gamma.view(-1, 1, 1, 1))
    return (scaled * 255).round().clamp(0, 255).to(torch.uint8)


def clahe(images: torch.Tensor, clip_limit: float = 2.0, tiles: int = 8) -> torch.Tensor:
    """Contrast-limited adaptive histogram equalisation of the luma (BT.601 Y), batched.

    As OpenCV: a clipped histogram per tile (excess spread evenly), its CDF as a look-up
    table, and each pixel mapped through the four nearest tiles' tables, bilinearly.
    Chroma is kept by scaling R, G and B by the ratio new Y / old Y.
    """
    b, _, h, w = images.shape
    rgb = images.float()
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).round().clamp(0, 255)
    th, tw = -(-h // tiles), -(-w // tiles)  # tile size, rounded up; the edge is padded
    padded = torch.nn.functional.pad(luma[:, None], (0, tw * tiles - w, 0, th * tiles - h),
                                     mode="replicate")[:, 0].long()
    # (B, tiles, tiles, th*tw) pixel values per tile, then their histograms.
    blocks = padded.view(b, tiles, th, tiles, tw).permute(0, 1, 3, 2, 4).reshape(b, tiles * tiles, -1)
    hist = torch.zeros(b, tiles * tiles, 256, device=images.device)
    hist.scatter_add_(2, blocks, torch.ones_like(blocks, dtype=hist.dtype))
    limit = max(clip_limit * th * tw / 256, 1.0)
    excess = (hist - limit).clamp(min=0).sum(-1, keepdim=True)
    hist = hist.clamp(max=limit) + excess / 256
    lut = (hist.cumsum(-1) / (th * tw) * 255).clamp(0, 255)  # (B, T*T, 256)

    # Bilinear weights between tile centres for every row and column.
    def axis(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = (torch.arange(n, device=images.device, dtype=torch.float32) + 0.5) / size - 0.5
        lo = pos.floor().clamp(0, tiles - 1)
        weight = (pos - lo).clamp(0, 1)
        hi = (lo + 1).clamp(max=tiles - 1)
        return lo.long(), hi.long(), weight

    y0, y1, wy = axis(h, th)
    x0, x1, wx = axis(w, tw)
    value = luma.long().view(b, 1, h * w)

    def sample(ty: torch.Tensor, tx: torch.Tensor) -> torch.Tensor:
        tile = (ty[:, None] * tiles + tx[None, :]).view(1, h * w).expand(b, -1)
        flat = lut.view(b, -1)
        return flat.gather(1, tile * 256 + value[:, 0]).view(b, h, w)

    wy, wx = wy[:, None], wx[None, :]
    new = ((1 - wy) * ((1 - wx) * sample(y0, x0) + wx * sample(y0, x1))
           + wy * ((1 - wx) * sample(y1, x0) + wx * sample(y1, x1)))
    ratio = (new + 1) / (luma + 1)
    return (rgb * ratio[:, None]).round().clamp(0, 255).to(torch.uint8)
