"""The safe readers on every awkward file a user or a data set can hold, each built here."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.data.io import (MASK_THRESHOLD, ImageReadError, pil_to_rgb, read_image, read_mask,
                               read_mask_levels)

RNG = np.random.default_rng(0)
PICTURE = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def save(array_or_image: np.ndarray | Image.Image, path: Path, **kwargs: object) -> Path:
    image = (array_or_image if isinstance(array_or_image, Image.Image)
             else Image.fromarray(array_or_image))
    image.save(path, **kwargs)
    return path


def png_rgb16(path: Path, rgb16: np.ndarray) -> Path:
    """A 48-bit RGB PNG, which Pillow cannot write: chunks assembled by hand."""
    height, width, _ = rgb16.shape
    rows = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


# --- images -----------------------------------------------------------------------------

def test_rgb_png_round_trips(tmp_path: Path) -> None:
    image = read_image(save(PICTURE, tmp_path / "a.png"))
    assert image.dtype == np.uint8 and image.shape == (24, 32, 3)
    assert np.array_equal(image, PICTURE)


def test_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = PICTURE[..., 0]
    image = read_image(save(grey, tmp_path / "g.png"))
    assert image.shape == (24, 32, 3)
    assert all(np.array_equal(image[..., c], grey) for c in range(3))


def test_rgba_drops_alpha_and_keeps_colour(tmp_path: Path) -> None:
    rgba = np.dstack([PICTURE, np.full((24, 32), 7, np.uint8)])
    image = read_image(save(rgba, tmp_path / "a.png"))
    assert np.array_equal(image, PICTURE)


def test_palette_image(tmp_path: Path) -> None:
    path = save(Image.fromarray(PICTURE).quantize(16), tmp_path / "p.png")
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(read_image(path), expected)


def test_cmyk_jpeg_converts_to_rgb(tmp_path: Path) -> None:
    colour = (200, 30, 60)
    path = save(Image.new("RGB", (16, 16), colour).convert("CMYK"), tmp_path / "c.jpg",
                quality=100)
    assert Image.open(path).mode == "CMYK"
    image = read_image(path)
    assert image.shape == (16, 16, 3)
    assert np.abs(image.astype(int) - colour).max() <= 3


def test_sixteen_bit_grey_png_is_rescaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = save(Image.fromarray(values), tmp_path / "i16.png")
    assert Image.open(path).mode == "I;16"
    image = read_image(path)
    assert image.shape == (1, 4, 3)
    assert image[0, :, 0].tolist() == [0, 1, 128, 255]


def test_eight_bit_values_in_a_sixteen_bit_file_are_read_as_eight_bit(tmp_path: Path) -> None:
    """Scaled by 1/257 they would all be black (the network then sees nothing)."""
    values = np.array([[0, 1, 128, 255]], dtype=np.uint16)
    path = save(Image.fromarray(values), tmp_path / "i16_small.png")
    assert Image.open(path).mode == "I;16"
    assert read_image(path)[0, :, 0].tolist() == [0, 1, 128, 255]


@pytest.mark.parametrize("values, levels", [
    ([0.0, 0.5, 1.0], [0, 128, 255]),              # normalised
    ([0.0, 128.0, 255.0], [0, 128, 255]),          # 8-bit range
    ([0.0, 32896.0, 65535.0], [0, 128, 255]),      # 16-bit range: was clipped to white
])
def test_float_tiffs_are_read_by_their_range(tmp_path: Path, values: list[float],
                                             levels: list[int]) -> None:
    path = save(Image.fromarray(np.array([values], np.float32)), tmp_path / "f.tif")
    assert Image.open(path).mode == "F"
    assert read_image(path)[0, :, 0].tolist() == levels


@pytest.mark.parametrize("values", [[-1.0, 0.0, 1.0], [0.0, float("nan"), 1.0], [0.0, 1e6]])
def test_float_tiffs_outside_any_range_are_refused_not_clipped(tmp_path: Path,
                                                               values: list[float]) -> None:
    path = save(Image.fromarray(np.array([values], np.float32)), tmp_path / "f.tif")
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    assert caught.value.kind == "unsupported_mode" and "float image" in str(caught.value)


def test_sixteen_bit_rgb_png(tmp_path: Path) -> None:
    rgb16 = PICTURE.astype(np.uint16) * 257  # exact 16-bit copies of the 8-bit values
    image = read_image(png_rgb16(tmp_path / "rgb48.png", rgb16))
    assert np.array_equal(image, PICTURE)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)  # left half red
    stored[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    path = save(stored, tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    image = read_image(path)
    assert image.shape == (40, 20, 3)  # portrait once upright
    assert image[5, 10, 0] > 200 and image[5, 10, 2] < 60  # top is the red (left) half
    assert image[35, 10, 2] > 200 and image[35, 10, 0] < 60


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_shown_as_viewers_show_it(tmp_path: Path,
                                                             orientation: int) -> None:
    """Mirrors (2, 4, 5, 7) and turns (3, 6, 8) alike, as Pillow's exif_transpose shows them."""
    from PIL import ImageOps

    stored = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3) * 3  # no two pixels alike
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(stored, tmp_path / "o.png", exif=exif.tobytes())
    with Image.open(path) as opened:
        expected = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
    assert expected.shape == ((6, 4, 3) if orientation < 5 else (4, 6, 3))
    assert np.array_equal(read_image(path), expected)


def test_an_image_made_from_an_opened_one_is_upright_as_its_file(tmp_path: Path) -> None:
    """``Image.open(p).convert("RGB")`` (the common way in) is turned upright as the file
    is; an image already turned by ``exif_transpose`` (the tag gone) is not turned twice."""
    from PIL import ImageOps

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(stored, tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    with Image.open(path) as opened:
        assert pil_to_rgb(opened).shape == (40, 20, 3)  # as the file reads
        assert np.array_equal(pil_to_rgb(opened.convert("RGB")), read_image(path))
        assert pil_to_rgb(ImageOps.exif_transpose(opened)).shape == (40, 20, 3)


def test_premultiplied_grey_alpha_is_read() -> None:
    image = Image.fromarray(np.full((4, 6), 90, np.uint8)).convert("LA").convert("La")
    assert image.mode == "La"
    assert pil_to_rgb(image).shape == (4, 6, 3)


def test_open_file_objects_are_read_like_paths() -> None:
    buffer = io.BytesIO()
    Image.fromarray(PICTURE).save(buffer, "PNG")
    buffer.seek(0)
    assert np.array_equal(read_image(buffer), PICTURE)


def test_pil_to_rgb_matches_files(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (8, 8), (10, 20, 30)).convert("CMYK"), tmp_path / "c.jpg")
    with Image.open(path) as opened:
        assert np.array_equal(pil_to_rgb(opened), read_image(path))


@pytest.mark.parametrize("name, payload", [
    ("note.jpg", b"this is not an image"),
    ("empty.png", b""),
])
def test_not_an_image_names_the_file(tmp_path: Path, name: str, payload: bytes) -> None:
    (tmp_path / name).write_bytes(payload)
    with pytest.raises(ImageReadError, match=name) as caught:
        read_image(tmp_path / name)
    assert caught.value.kind == "unreadable"
    assert isinstance(caught.value, ValueError)
    if not payload:
        assert "empty file (0 bytes)" in str(caught.value)  # as the web app says it


def test_corrupt_jpeg(tmp_path: Path) -> None:
    data = bytearray(save(PICTURE, tmp_path / "ok.jpg").read_bytes())
    data[20:200] = RNG.integers(0, 256, 180, dtype=np.uint8).tobytes()
    (tmp_path / "corrupt.jpg").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="corrupt.jpg") as caught:
        read_image(tmp_path / "corrupt.jpg")
    assert caught.value.kind in {"unreadable", "truncated"}


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    data = save(PICTURE, tmp_path / f"full.{suffix}").read_bytes()
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=f"cut.{suffix}") as caught:
        read_image(path)
    assert caught.value.kind == "truncated"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="nowhere.jpg") as caught:
        read_image(tmp_path / "nowhere.jpg")
    assert caught.value.kind == "missing"


def test_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    path = save(np.zeros((1000, 1200), np.uint8), tmp_path / "bomb.png")  # tiny file, 1.2 MP
    assert path.stat().st_size < 20_000
    with pytest.raises(ImageReadError, match="bomb.png") as caught:
        read_image(path, max_pixels=1_000_000)
    assert caught.value.kind == "too_large" and "decompression bomb" in str(caught.value)
    with pytest.raises(ImageReadError, match="too_large|bomb"):
        read_mask(path, max_pixels=1_000_000)
    assert read_image(path, max_pixels=2_000_000).shape == (1000, 1200, 3)


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header claims ``width`` x ``height`` (a bomb's shape; its pixel
    data would run out when decoded)."""
    save(np.zeros((8, 8), np.uint8), path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [10_000, 15_000])  # over Pillow's warning, over its error
def test_our_limit_speaks_before_pillows_own(tmp_path: Path, side: int) -> None:
    import warnings

    path = _png_claiming(tmp_path / "big.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning would raise here
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
    assert caught.value.kind == "too_large"
    assert f"{side * side:,} pixels is over the limit of 50,000,000" in str(caught.value)
    assert "Segmenter(max_pixels=...)" in str(caught.value)


def test_a_limit_above_pillows_own_is_honoured_for_that_read_only(tmp_path: Path) -> None:
    """Pillow's guard is process-wide: a host application's own setting stays as it was."""
    pillows = Image.MAX_IMAGE_PIXELS
    path = _png_claiming(tmp_path / "big.png", 15_000, 15_000)  # 225 M: over Pillow's 179 M
    with pytest.raises(ImageReadError) as caught:
        read_image(path, max_pixels=300_000_000)
    assert caught.value.kind == "truncated"  # decoding was tried: the size was allowed
    assert Image.MAX_IMAGE_PIXELS == pillows


def test_reading_in_threads_leaves_the_warning_filters_as_they_were(tmp_path: Path) -> None:
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    path = save(PICTURE, tmp_path / "p.png")
    before = list(warnings.filters)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: read_image(path), range(400)))
    assert warnings.filters == before


def test_pils_own_bomb_error_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(np.zeros((100, 100), np.uint8), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL refuses over 2x this
    with pytest.raises(ImageReadError, match="big.png") as caught:
        read_image(path, max_pixels=None)
    assert caught.value.kind == "too_large"


# --- masks ------------------------------------------------------------------------------

LESION = np.zeros((12, 16), bool)
LESION[3:9, 4:12] = True


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "RGBA", "P", "I;16"])
def test_mask_modes(tmp_path: Path, mode: str) -> None:
    levels = LESION.astype(np.uint8) * 255
    if mode == "I;16":
        image = Image.fromarray(LESION.astype(np.uint16) * 65535)
    else:
        image = Image.fromarray(levels).convert(mode)
    path = save(image, tmp_path / f"m_{mode.replace(';', '')}_segmentation.png")
    assert Image.open(path).mode == mode
    mask, grey = read_mask(path)
    assert mask.dtype == bool and mask.shape == (12, 16)
    assert np.array_equal(mask, LESION) and grey == 0


def test_grey_mask_pixels_are_counted_and_binarised_like_the_scorer(tmp_path: Path) -> None:
    levels = np.zeros((4, 4), np.uint8)
    levels[0] = [255, 255, 128, 129]  # 128 is background, 129 foreground: "> 128"
    levels[1, 0] = 1
    mask, grey = read_mask(save(levels, tmp_path / "grey.png"))
    assert MASK_THRESHOLD == 128
    assert grey == 3
    assert mask[0].tolist() == [True, True, False, True]
    assert mask.sum() == 3


def test_rgb_mask_with_unequal_channels_uses_its_brightest_channel(tmp_path: Path) -> None:
    """A red-on-black mask is a lesion (its luminance, 76, would read as background)."""
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = (255, 255, 255)
    rgb[2:, :2] = (255, 0, 0)
    levels = read_mask_levels(save(rgb, tmp_path / "rgb.png"))
    assert levels[:2].min() == 255 and levels[2, 0] == 255 and levels[3, 3] == 0
    mask, _ = read_mask(tmp_path / "rgb.png")
    assert mask.sum() == 12


def test_two_level_masks_have_their_other_level_as_lesion(tmp_path: Path) -> None:
    """As the ISIC scorer reads a ground truth: 0/1 labels or 0/128 are a lesion where the
    level is not 0, with no grey pixels counted; three levels are thresholded."""
    for high in (1, 128):
        mask, grey = read_mask(save((LESION > 0).astype(np.uint8) * high, tmp_path / f"{high}.png"))
        assert np.array_equal(mask, LESION > 0) and grey == 0
    levels = np.zeros((2, 3), np.uint8)
    levels[0] = [1, 128, 255]
    mask, grey = read_mask(save(levels, tmp_path / "three.png"))
    assert mask[0].tolist() == [False, False, True] and grey == 2


def test_sixteen_bit_mask_with_label_values_reads_as_its_lesion(tmp_path: Path) -> None:
    """16-bit 0/1 labels would scale to 0/0: the two-level rule comes first."""
    mask, grey = read_mask(save(Image.fromarray(LESION.astype(np.uint16)), tmp_path / "l.png"))
    assert np.array_equal(mask, LESION > 0) and grey == 0

def test_a_mask_drawn_in_transparency_reads_its_alpha(tmp_path: Path) -> None:
    """One colour everywhere and the lesion in the alpha channel (an editor's exported
    selection): read as empty before, with no hint."""
    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[..., 3] = LESION.astype(np.uint8) * 255
    path = save(Image.fromarray(rgba, "RGBA"), tmp_path / "alpha_segmentation.png")
    mask, grey = read_mask(path)
    assert np.array_equal(mask, LESION) and grey == 0
    rgba[..., :3] = 255  # a white lesion on a transparent background keeps its colours
    rgba[..., 3] = 255
    rgba[~LESION, :3] = 0
    assert np.array_equal(read_mask(save(Image.fromarray(rgba, "RGBA"), tmp_path / "w.png"))[0],
                          LESION)


def test_a_mask_with_premultiplied_alpha_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Some TIFFs open as "La" (Pillow writes none): its alpha channel could not be read."""
    from mobilegan.data import io as image_io

    levels = LESION.astype(np.uint8) * 255
    la = Image.merge("LA", [Image.fromarray(levels), Image.fromarray(np.full_like(levels, 255))])
    monkeypatch.setattr(image_io, "_open_decoded", lambda source, max_pixels: la.convert("La"))
    mask, _ = read_mask("premultiplied.tif")
    assert np.array_equal(mask, LESION)


def test_a_raised_limit_holds_while_a_tiff_decodes(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """TIFFs check Pillow's limit again as they decode: a limit lifted for the open alone
    refused them there."""
    path = save(np.zeros((60, 60), np.uint8), tmp_path / "big.tif", compression="tiff_lzw")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses over 2,000 pixels
    assert read_image(path, max_pixels=10_000).shape == (60, 60, 3)
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_sixteen_bit_levels_round_to_the_nearest_eight_bit_level() -> None:
    """386 * 255 / 65535 = 1.50...: 2, where flooring gives 1 (257 and 32896 divide exactly,
    so they cannot tell rounding from flooring)."""
    from mobilegan.data.io import sixteen_bit_levels

    assert sixteen_bit_levels(np.array([0, 386, 65534, 65535])).tolist() == [0, 2, 255, 255]
