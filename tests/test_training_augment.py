"""Batched augmentation: geometry moves image and mask together, masks stay binary,
photometric changes leave masks alone, and neutral settings change nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mobilegan.config import AugmentConfig
from mobilegan.data.synthetic import draw_lesion
from mobilegan.training.augment import augment_batch, clahe, jitter_color, rotate90, zoom

OFF = AugmentConfig(hflip=False, vflip=False, gamma_p=0.0, clahe_p=0.0)


def lesion_batch(n: int = 6, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic lesions whose red channel encodes the mask, to check alignment."""
    images, masks = [], []
    for seed in range(n):
        image, mask = draw_lesion((size, size), seed=seed, label=False)
        image = torch.from_numpy(image).permute(2, 0, 1).clone()
        mask = torch.from_numpy(mask).to(torch.uint8)[None]
        image[0] = mask[0] * 255
        images.append(image)
        masks.append(mask)
    return torch.stack(images), torch.stack(masks)


def aligned(images: torch.Tensor, masks: torch.Tensor) -> float:
    """Fraction of pixels where the red channel still agrees with the mask."""
    return ((images[:, 0] > 127) == masks[:, 0].bool()).float().mean().item()


def test_geometry_moves_image_and_mask_together() -> None:
    images, masks = lesion_batch()
    cfg = dataclasses.replace(OFF, hflip=True, vflip=True, rot90=True, zoom_p=1.0, zoom=(0.7, 1.4))
    out_images, out_masks = augment_batch(images, masks, cfg, torch.Generator().manual_seed(3))
    assert out_images.shape == images.shape and out_masks.shape == masks.shape
    assert out_images.dtype == torch.uint8 and set(out_masks.unique().tolist()) <= {0, 1}
    assert not torch.equal(out_masks, masks)
    # Nearest vs bilinear sampling may disagree on a one-pixel rim of the boundary only.
    assert aligned(out_images, out_masks) > 0.97


def test_rotate90_turns_each_image_its_own_amount() -> None:
    batch = torch.arange(4 * 9, dtype=torch.uint8).view(4, 1, 3, 3)
    turns = torch.tensor([0, 1, 2, 3])
    out = rotate90(batch, turns)
    for i in range(4):
        assert torch.equal(out[i], batch[i].rot90(i, (-2, -1)))
    with pytest.raises(ValueError, match="square"):
        rotate90(torch.zeros(1, 1, 4, 6, dtype=torch.uint8), torch.tensor([1]))


def test_quarter_turns_then_clahe_without_colour_jitter() -> None:
    """rot90 left the batch non-contiguous and CLAHE's view() failed on it ("view size is
    not compatible"): training crashed at step 1 with rot90 on and the colour jitter off
    (27 of 40 random batches). CLAHE now takes any layout, with the same result."""
    images, masks = lesion_batch()
    cfg = dataclasses.replace(OFF, rot90=True, clahe_p=1.0)
    for seed in range(6):
        augment_batch(images, masks, cfg, torch.Generator().manual_seed(seed))
    turned = images.transpose(-2, -1)  # a non-contiguous batch, as the rotation left one
    assert not turned.is_contiguous()
    assert torch.equal(clahe(turned), clahe(turned.contiguous()))


def test_zoom_by_one_is_identity_and_zoom_in_magnifies() -> None:
    images, masks = lesion_batch(2)
    same_images, same_masks = zoom(images, masks, torch.ones(2), torch.zeros(2, 2))
    assert torch.equal(same_images, images) and torch.equal(same_masks, masks)
    _, bigger = zoom(images, masks, torch.full((2,), 1.5), torch.zeros(2, 2))
    assert (bigger.float().mean() > masks.float().mean())  # a centred lesion grows


def test_color_jitter_neutral_is_identity_and_hue_keeps_brightness() -> None:
    images, masks = lesion_batch(3)
    zeros = torch.zeros(3)
    assert (jitter_color(images, zeros, zeros, zeros).int() - images.int()).abs().max() <= 1
    shifted = jitter_color(images, zeros, zeros, torch.full((3,), 20.0))
    assert not torch.equal(shifted, images)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    # Clipping at 0/255 can move luma a little; on average it stays put.
    assert ((shifted.float() * luma).sum(1) - (images.float() * luma).sum(1)).abs().mean() < 3
    brighter = jitter_color(images, torch.full((3,), 0.2), zeros, zeros)
    assert brighter.float().mean() > images.float().mean()


def test_photometric_augmentation_never_touches_masks() -> None:
    images, masks = lesion_batch()
    cfg = dataclasses.replace(OFF, gamma_p=1.0, clahe_p=1.0, color_p=1.0)
    out_images, out_masks = augment_batch(images, masks, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(out_masks, masks) and not torch.equal(out_images, images)


def test_augmentation_is_reproducible_for_a_seed() -> None:
    images, masks = lesion_batch()
    cfg = dataclasses.replace(AugmentConfig(), rot90=True, color_p=0.5, zoom_p=0.5)
    first = augment_batch(images, masks, cfg, torch.Generator().manual_seed(11))
    second = augment_batch(images, masks, cfg, torch.Generator().manual_seed(11))
    other = augment_batch(images, masks, cfg, torch.Generator().manual_seed(12))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


# OpenCV 5.0's createCLAHE(...).apply on the same grey images, computed once with cv2
# (which is not a dependency): the first row of a ramp, and the row and column sums of a
# pattern whose size does not divide into the tiles (OpenCV's padding quirk).
OPENCV_RAMP_ROW = [105, 105, 110, 110, 115, 115, 120, 120, 125, 124, 126, 125, 127, 126, 127, 125,
                   126, 125, 127, 125, 128, 127, 125, 129, 128, 131, 130, 133, 131, 134, 132, 135,
                   134, 135, 134, 135, 134, 137, 136, 140, 139, 143, 141, 140, 142, 141, 142, 140,
                   142, 140, 141, 140, 142, 141, 144, 143, 147, 147, 152, 152, 157, 157, 162, 162]
OPENCV_PATTERN_ROW_SUMS = [6318, 6266, 6367, 6426, 6490, 6275, 6386, 6477, 6391, 6497, 6308, 6398,
                           6298, 6381, 6358, 6302, 6384, 6468, 6561, 6370, 6449, 6384, 6499, 6456,
                           6449, 6391, 6487, 6585, 6539, 6481]
OPENCV_PATTERN_COLUMN_SUMS = [3788, 3697, 3769, 3848, 3757, 3832, 3912, 3736, 3745, 4189, 4187,
                              4199, 4018, 4188, 4023, 4023, 3857, 3684, 4508, 4349, 4373, 4389,
                              4231, 4401, 4247, 4100, 4111, 4573, 4744, 4603, 4611, 4634, 4482,
                              4488, 4345, 4197, 4951, 4808, 4812, 4827, 4670, 4845, 4541, 4612,
                              4537]


def grey(values: torch.Tensor) -> torch.Tensor:
    return values.to(torch.uint8)[None, None].expand(1, 3, *values.shape).contiguous()


def test_clahe_matches_opencv_on_grey_images() -> None:
    ramp = torch.linspace(100, 130, 64).round().view(1, 64).expand(64, 64)
    assert clahe(grey(ramp), clip_limit=4.0, tiles=4)[0, 0, 0].tolist() == OPENCV_RAMP_ROW
    y, x = torch.meshgrid(torch.arange(30), torch.arange(45), indexing="ij")
    pattern = (x * 7 + y * 13) % 61 + 90 + (x // 9) * 10
    out = clahe(grey(pattern), clip_limit=2.0, tiles=4)[0, 0].long()
    # Float rounding may move a rare pixel by one grey level.
    rows = (out.sum(1) - torch.tensor(OPENCV_PATTERN_ROW_SUMS)).abs()
    columns = (out.sum(0) - torch.tensor(OPENCV_PATTERN_COLUMN_SUMS)).abs()
    assert rows.max() <= 2 and columns.max() <= 2 and rows.sum() <= 4
    # A grey image comes out the same whatever else is in its batch.
    colour, _ = lesion_batch(1, size=64)
    mixed = clahe(torch.cat([grey(ramp), colour]), clip_limit=4.0, tiles=4)
    assert mixed[0, 0, 0].tolist() == OPENCV_RAMP_ROW
    assert torch.equal(mixed[0, 0], mixed[0, 1]) and torch.equal(mixed[0, 0], mixed[0, 2])


def test_clahe_keeps_hue_of_colour_images() -> None:
    images, _ = lesion_batch(2)
    enhanced = clahe(images, 2.0, 8)
    assert enhanced.shape == images.shape and enhanced.dtype == torch.uint8
    assert not torch.equal(enhanced, images)
    # Scaling R, G, B by one ratio keeps their order wherever nothing clipped.
    keep = (enhanced.amax(1) < 255) & (images.amin(1) > 0)
    order = (images[:, 0] > images[:, 1]) == (enhanced[:, 0] > enhanced[:, 1])
    assert order[keep].float().mean() > 0.98


def _changed(before: torch.Tensor, after: torch.Tensor) -> int:
    return int((before != after).flatten(1).any(1).sum())


def test_each_photometric_change_touches_about_its_share_of_images() -> None:
    """gamma_p and clahe_p are probabilities per image: of 200 varied images, about that
    share is changed (binomial: 95% of draws within the bounds), and gamma is drawn in its
    range."""
    images = torch.randint(30, 220, (200, 3, 16, 16), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    masks = torch.zeros(200, 1, 16, 16, dtype=torch.uint8)
    for field, p in (("gamma_p", 0.2), ("clahe_p", 0.25)):
        cfg = dataclasses.replace(OFF, **{field: p})
        out, _ = augment_batch(images, masks, cfg, torch.Generator().manual_seed(5))
        assert 0.6 * 200 * p < _changed(images, out) < 1.4 * 200 * p, field
    # one gamma everywhere: grey 128 becomes exactly 255 * (128 / 255) ** 0.9
    grey = torch.full((4, 3, 8, 8), 128, dtype=torch.uint8)
    cfg = dataclasses.replace(OFF, gamma=(0.9, 0.9), gamma_p=1.0)
    out, _ = augment_batch(grey, masks[:4, :, :8, :8], cfg, torch.Generator().manual_seed(1))
    assert out.unique().tolist() == [round(255 * (128 / 255) ** 0.9)]


def _marked(n: int = 8, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose red channel is their mask x 255, the mask an asymmetric corner mark:
    any flip that moves one and not the other, or along another axis, shows exactly."""
    images = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    masks = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    masks[:, :, 0, :3] = 1
    masks[:, :, 1, 0] = 1
    images[:, 0] = masks[:, 0] * 255
    return images, masks


@pytest.mark.parametrize("flip", ["hflip", "vflip"])
def test_each_flip_moves_image_and_mask_exactly_together_along_its_axis(flip: str) -> None:
    images, masks = _marked()
    cfg = AugmentConfig(hflip=flip == "hflip", vflip=flip == "vflip", gamma_p=0.0, clahe_p=0.0)
    out_images, out_masks = augment_batch(images, masks, cfg, torch.Generator().manual_seed(0))
    assert not torch.equal(out_masks, masks)
    assert torch.equal(out_images[:, 0], out_masks[:, 0] * 255)  # flips are exact
    axis = -1 if flip == "hflip" else -2
    for before, after in zip(masks, out_masks):
        assert torch.equal(after, before) or torch.equal(after, before.flip(axis))


def test_each_flip_turns_about_half_the_images() -> None:
    images, masks = _marked(200)
    for flip in ("hflip", "vflip"):
        cfg = AugmentConfig(hflip=flip == "hflip", vflip=flip == "vflip", gamma_p=0.0, clahe_p=0.0)
        _, out = augment_batch(images, masks, cfg, torch.Generator().manual_seed(5))
        changed = int((out != masks).flatten(1).any(1).sum())
        assert 70 < changed < 130, flip


def test_clahe_scales_the_colour_with_the_luminance() -> None:
    """CLAHE equalises luminance; each pixel's colour difference follows its luminance's
    gain, so a red tint stays a red tint of the new brightness (not greyed, not kept flat)."""
    grey = torch.arange(64, dtype=torch.float32).repeat(64, 1) + 60  # a dim ramp it brightens
    rgb = torch.stack([grey + 30, grey, grey]).clamp(0, 255).round().to(torch.uint8)[None]
    out = clahe(rgb).float()[0]
    weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    y_in, y_out = (rgb[0].float() * weights).sum(0), (out * weights).sum(0)
    expected = (rgb[0, 0].float() - rgb[0, 1].float()) * (y_out + 1) / (y_in + 1)
    assert (out[0] - out[1] - expected).abs().max() <= 2.0
    assert (y_out - y_in).abs().max() > 10  # the luminance did change


def test_the_default_augmentation_is_the_shipped_weights_recipe() -> None:
    """The defaults a new run takes are what the shipped v6 weights trained with (its
    config.json), so `mobilegan train` reproduces them without options."""
    import json
    from pathlib import Path

    shipped = json.loads((Path(__file__).parents[1] / "results" / "v6" / "config.json").read_text())
    defaults = {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(AugmentConfig()).items()}
    assert defaults == shipped["augment"]
