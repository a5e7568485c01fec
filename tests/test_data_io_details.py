"""Edge rules of the safe readers: coloured and semi-transparent masks, masks of two
grey levels without black, the pixel limit at its boundary, and an end-of-file error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.data.io import ImageReadError, read_image, read_mask, read_mask_levels

LESION = np.zeros((12, 16), bool)
LESION[3:9, 4:12] = True


def _save(image: Image.Image | np.ndarray, path: Path) -> Path:
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(path)
    return path


@pytest.mark.parametrize("colour", [(0, 255, 0), (0, 0, 255), (255, 0, 255)],
                         ids=["green", "blue", "magenta"])
def test_a_mask_drawn_in_any_colour_on_black_reads_as_lesion_where_coloured(
        tmp_path: Path, colour: tuple[int, int, int]) -> None:
    """Not only red: a lesion painted green or blue is as bright as its brightest channel."""
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[LESION] = colour
    path = _save(rgb, tmp_path / "coloured_segmentation.png")
    levels = read_mask_levels(path)
    assert levels.dtype == np.uint8 and levels.shape == (12, 16)
    assert np.all(levels[LESION] == 255) and np.all(levels[~LESION] == 0)
    mask, grey = read_mask(path)
    assert np.array_equal(mask, LESION) and grey == 0


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_that_is_not_the_mask_is_ignored_when_the_colours_vary(
        tmp_path: Path, mode: str) -> None:
    """The alpha channel is the mask only when the colour is one value everywhere. A white
    lesion on black with a half-transparent background (alpha 128) and an alpha pattern
    unrelated to the lesion (left half opaque) reads by its colours."""
    colour = LESION.astype(np.uint8) * 255
    alpha = np.full((12, 16), 128, np.uint8)
    alpha[:, :8] = 255  # opaque left half: does not follow the lesion
    channels = [colour] * (3 if mode == "RGBA" else 1) + [alpha]
    path = _save(Image.fromarray(np.dstack(channels), mode), tmp_path / "semi_segmentation.png")
    assert Image.open(path).mode == mode
    levels = read_mask_levels(path)
    assert np.array_equal(levels, colour)  # 0/255 from the colours, never the alpha's 128
    mask, grey = read_mask(path)
    assert np.array_equal(mask, LESION) and grey == 0


def test_alpha_is_the_mask_when_the_colour_is_uniform(tmp_path: Path) -> None:
    """The other side of the rule: one colour everywhere and a varying alpha is the mask."""
    alpha = np.where(LESION, 200, 0).astype(np.uint8)
    rgba = np.dstack([np.full((12, 16), 255, np.uint8)] * 3 + [alpha])
    levels = read_mask_levels(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    assert np.array_equal(levels, alpha)


def test_a_mask_of_two_grey_levels_without_black_is_thresholded(tmp_path: Path) -> None:
    """The two-level rule is for {0, v} (or {v} alone). Levels {50, 100} are neither: they
    are thresholded at > 128, so nothing is lesion and every pixel is counted grey."""
    levels = np.where(LESION, 100, 50).astype(np.uint8)
    mask, grey = read_mask(_save(levels, tmp_path / "dim_segmentation.png"))
    assert not mask.any()
    assert grey == LESION.size
    # Bright levels {150, 200} (no black either) are all lesion by the threshold...
    bright = np.where(LESION, 200, 150).astype(np.uint8)
    mask, grey = read_mask(_save(bright, tmp_path / "bright_segmentation.png"))
    assert mask.all() and grey == LESION.size
    # ...while {0, 100} has 100 as its lesion, with no grey pixel counted.
    labelled = np.where(LESION, 100, 0).astype(np.uint8)
    mask, grey = read_mask(_save(labelled, tmp_path / "labelled_segmentation.png"))
    assert np.array_equal(mask, LESION) and grey == 0


def test_a_single_level_mask_is_all_lesion_unless_black(tmp_path: Path) -> None:
    mask, grey = read_mask(_save(np.full((4, 5), 60, np.uint8), tmp_path / "one.png"))
    assert mask.all() and grey == 0
    mask, grey = read_mask(_save(np.zeros((4, 5), np.uint8), tmp_path / "black.png"))
    assert not mask.any() and grey == 0


def test_the_pixel_limit_accepts_exactly_its_size_and_refuses_one_more(tmp_path: Path) -> None:
    path = _save(np.full((10, 12, 3), 90, np.uint8), tmp_path / "p.png")  # 120 pixels
    assert read_image(path, max_pixels=120).shape == (10, 12, 3)
    assert read_mask(path, max_pixels=120)[0].shape == (10, 12)
    with pytest.raises(ImageReadError) as caught:
        read_image(path, max_pixels=119)
    assert caught.value.kind == "too_large"
    assert "120 pixels is over the limit of 119" in str(caught.value)
    with pytest.raises(ImageReadError) as caught:
        read_mask(path, max_pixels=119)
    assert caught.value.kind == "too_large"


def test_an_end_of_file_error_while_decoding_is_a_truncated_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's decoders can stop with EOFError (whose text need not say "truncated"):
    it is an incomplete file, not an unreadable one."""
    path = _save(np.full((8, 8, 3), 90, np.uint8), tmp_path / "short.png")
    real_open = Image.open

    def open_ending_early(source: object, *args: object, **kwargs: object) -> Image.Image:
        image = real_open(source, *args, **kwargs)

        def load() -> None:
            raise EOFError("no more data")

        image.load = load  # type: ignore[method-assign]
        return image

    monkeypatch.setattr(Image, "open", open_ending_early)
    with pytest.raises(ImageReadError, match="short.png") as caught:
        read_image(path)
    assert caught.value.kind == "truncated"
    assert "incomplete file" in caught.value.reason and "no more data" in caught.value.reason
    with pytest.raises(ImageReadError) as caught:
        read_mask(path)
    assert caught.value.kind == "truncated"
