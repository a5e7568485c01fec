"""Augmentation on whole batches of uint8 tensors, on whatever device they live on
(the GPU in training): flips, gamma and CLAHE, as the paper lists; optionally 90-degree
rotations, colour jitter and zoom (beyond the paper, off by default). No per-image Python."""

from __future__ import annotations

import math

import torch

from mobilegan.config import AugmentConfig


def augment_batch(images: torch.Tensor, masks: torch.Tensor, cfg: AugmentConfig,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) uint8, masks (B, 1, H, W) uint8; returns augmented copies.
    ``generator`` (on the CPU) makes every draw reproducible for a given step."""
    b = images.shape[0]
    device = images.device

    def draw(p: float) -> torch.Tensor:
        """Which images get an augmentation: on the CPU, so checking "any?" never waits
        for the GPU; moved to the device where a kernel needs it."""
        return torch.rand(b, generator=generator) < p

    if cfg.hflip:
        flip = draw(0.5).to(device).view(b, 1, 1, 1)
        images = torch.where(flip, images.flip(-1), images)
        masks = torch.where(flip, masks.flip(-1), masks)
    if cfg.vflip:
        flip = draw(0.5).to(device).view(b, 1, 1, 1)
        images = torch.where(flip, images.flip(-2), images)
        masks = torch.where(flip, masks.flip(-2), masks)
    if cfg.rot90:
        turns = torch.randint(0, 4, (b,), generator=generator).to(device)
        images, masks = rotate90(images, turns), rotate90(masks, turns)
    if cfg.zoom_p > 0:
        low, high = cfg.zoom
        scale = torch.empty(b).uniform_(math.log(low), math.log(high), generator=generator).exp()
        shift = torch.empty(b, 2).uniform_(-1, 1, generator=generator)
        chosen = draw(cfg.zoom_p)
        if bool(chosen.any()):
            scale = torch.where(chosen, scale, torch.ones_like(scale))
            images, masks = zoom(images, masks, scale.to(device), shift.to(device))
    if cfg.gamma_p > 0:
        low, high = cfg.gamma
        gamma = torch.empty(b).uniform_(low, high, generator=generator)
        gamma = torch.where(draw(cfg.gamma_p), gamma, torch.ones_like(gamma))
        images = adjust_gamma(images, gamma.to(device))
    if cfg.color_p > 0:
        factors = torch.empty(b, 3).uniform_(-1, 1, generator=generator)
        factors = factors * torch.tensor([cfg.brightness, cfg.saturation, cfg.hue_degrees])
        factors = torch.where(draw(cfg.color_p)[:, None], factors, torch.zeros_like(factors))
        images = jitter_color(images, *factors.to(device).unbind(1))
    if cfg.clahe_p > 0:
        chosen = draw(cfg.clahe_p)
        if bool(chosen.any()):
            chosen = chosen.to(device)
            enhanced = clahe(images[chosen], cfg.clahe_clip, cfg.clahe_tiles)
            images = images.clone()
            images[chosen] = enhanced
    return images, masks


def _to_uint8(values: torch.Tensor) -> torch.Tensor:
    return values.round().clamp(0, 255).to(torch.uint8)


def rotate90(batch: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate each square (H == W) image by ``turns[i]`` x 90 degrees counter-clockwise."""
    if batch.shape[-1] != batch.shape[-2]:
        raise ValueError(f"augment.rot90 needs square images, got {tuple(batch.shape[-2:])}")
    out = batch
    for k in (1, 2, 3):
        out = torch.where((turns == k).view(-1, 1, 1, 1), batch.rot90(k, (-2, -1)), out)
    return out.contiguous()  # torch.where over rot90 views keeps their strides


def zoom(images: torch.Tensor, masks: torch.Tensor, scale: torch.Tensor,
         shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Magnify each image by ``scale[i]`` (> 1 zooms in, < 1 out with mirrored borders).
    ``shift`` in [-1, 1] moves a zoomed-in view within the image. Masks stay binary."""
    b = images.shape[0]
    inverse = 1 / scale
    room = (1 - inverse).clamp(min=0)
    theta = torch.zeros(b, 2, 3, device=images.device)
    theta[:, 0, 0] = inverse
    theta[:, 1, 1] = inverse
    theta[:, :, 2] = shift * room[:, None]
    grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    sample = torch.nn.functional.grid_sample
    new_images = _to_uint8(sample(images.float(), grid, mode="bilinear",
                                  padding_mode="reflection", align_corners=False))
    new_masks = sample(masks.float(), grid, mode="nearest", padding_mode="reflection",
                       align_corners=False).to(masks.dtype)
    return new_images, new_masks


#: RGB <-> YIQ: a hue shift is a rotation of the (I, Q) chroma plane.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                            [0.596, -0.274, -0.322],
                            [0.211, -0.523, 0.312]])


def jitter_color(images: torch.Tensor, brightness: torch.Tensor, saturation: torch.Tensor,
                 hue_degrees: torch.Tensor) -> torch.Tensor:
    """Per image: scale brightness by (1 + brightness), chroma by (1 + saturation), and
    rotate hue by ``hue_degrees``. Zeros leave an image unchanged (up to rounding)."""
    to_yiq = _RGB_TO_YIQ.to(images.device)
    angle = torch.deg2rad(hue_degrees)
    cos, sin = angle.cos(), angle.sin()
    chroma = 1 + saturation
    adjust = torch.zeros(images.shape[0], 3, 3, device=images.device)
    adjust[:, 0, 0] = 1
    adjust[:, 1, 1], adjust[:, 1, 2] = cos * chroma, -sin * chroma
    adjust[:, 2, 1], adjust[:, 2, 2] = sin * chroma, cos * chroma
    matrix = torch.linalg.inv(to_yiq) @ adjust @ to_yiq * (1 + brightness).view(-1, 1, 1)
    mixed = torch.einsum("bij,bjhw->bihw", matrix, images.float())
    return _to_uint8(mixed)


def adjust_gamma(images: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    scaled = (images.float() / 255).pow(gamma.view(-1, 1, 1, 1))
    return _to_uint8(scaled * 255)


def clahe(images: torch.Tensor, clip_limit: float = 2.0, tiles: int = 8) -> torch.Tensor:
    """Contrast-limited adaptive histogram equalisation of the luma (BT.601 Y), batched.

    Matches OpenCV's ``createCLAHE(clip_limit, (tiles, tiles)).apply`` on a grey image
    (tested against it): an integer clip limit, the clipped excess spread as OpenCV does
    (an even share, the remainder one by one from the darkest bin), each tile's CDF as a
    look-up table, and each pixel mapped through its four nearest tiles' tables, bilinearly.
    For colour, each pixel's luma becomes the equalised one and its chroma (R, G and B minus
    the luma) is scaled by (new Y + 1) / (old Y + 1); grey pixels stay grey.
    """
    b, _, h, w = images.shape
    rgb = images.float()
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).round().clamp(0, 255)
    # As OpenCV: if either side does not divide, both are padded (mirrored) by tiles - n % tiles.
    pad = (0, 0, 0, 0) if h % tiles == 0 and w % tiles == 0 else (0, tiles - w % tiles, 0, tiles - h % tiles)
    th, tw = (h + pad[3]) // tiles, (w + pad[1]) // tiles
    padded = luma[:, None]
    if any(pad):
        padded = torch.nn.functional.pad(padded, pad, mode="reflect")
    padded = padded[:, 0].long()
    # (B, tiles, tiles, th*tw) pixel values per tile, then their histograms.
    blocks = padded.reshape(b, tiles, th, tiles, tw).permute(0, 1, 3, 2, 4).reshape(b, tiles * tiles, -1)
    hist = torch.zeros(b, tiles * tiles, 256, dtype=torch.long, device=images.device)
    hist.scatter_add_(2, blocks, torch.ones_like(blocks))
    limit = max(int(clip_limit * th * tw / 256), 1)
    excess = (hist - limit).clamp(min=0).sum(-1, keepdim=True)
    share, residual = excess // 256, excess % 256
    step = (256 // residual.clamp(min=1)).clamp(min=1)
    bins = torch.arange(256, device=images.device)
    extra = ((bins % step == 0) & (bins // step < residual)).long()
    hist = hist.clamp(max=limit) + share + extra
    lut = (hist.cumsum(-1).float() * (255 / (th * tw))).round().clamp(0, 255)  # (B, T*T, 256)

    # Bilinear weights between tile centres for every row and column.
    def axis(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = torch.arange(n, device=images.device, dtype=torch.float32) / size - 0.5
        lo = pos.floor().clamp(0, tiles - 1)
        weight = (pos - lo).clamp(0, 1)
        hi = (lo + 1).clamp(max=tiles - 1)
        return lo.long(), hi.long(), weight

    y0, y1, wy = axis(h, th)
    x0, x1, wx = axis(w, tw)
    value = luma.long().reshape(b, 1, h * w)  # any layout: a rotated batch is not contiguous

    def sample(ty: torch.Tensor, tx: torch.Tensor) -> torch.Tensor:
        tile = (ty[:, None] * tiles + tx[None, :]).view(1, h * w).expand(b, -1)
        flat = lut.view(b, -1)
        return flat.gather(1, tile * 256 + value[:, 0]).view(b, h, w)

    wy, wx = wy[:, None], wx[None, :]
    new = ((1 - wy) * ((1 - wx) * sample(y0, x0) + wx * sample(y0, x1))
           + wy * ((1 - wx) * sample(y1, x0) + wx * sample(y1, x1)))
    new = new.round()
    # Each pixel's luma becomes ``new`` and its chroma (the channels' offsets from the luma)
    # is scaled alike: a grey pixel maps exactly as OpenCV maps it.
    ratio = (new + 1) / (luma + 1)
    return _to_uint8(new[:, None] + (rgb - luma[:, None]) * ratio[:, None])
