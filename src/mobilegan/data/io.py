"""Read any image or mask file safely: every failure becomes one ``ImageReadError`` that
names the file, so a bad upload or a bad file in a data set never crashes a caller with a
PIL internals traceback, and never decodes a decompression bomb.

Images come back as RGB uint8 (H, W, 3) whatever their mode (grayscale, palette, RGBA,
CMYK, 16-bit), with their EXIF orientation applied. Masks come back binarised exactly as
the ISIC challenge scorer does (isic-challenge-scoring 5.6.0: foreground is ``> 128``).
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest image accepted, in pixels (callers may raise it). The biggest ISIC originals
#: are about 30 M pixels. Pillow's own guard (a warning over 89 M, an error over 179 M)
#: never speaks first: its warning is silenced where this check follows, and a larger
#: limit lifts Pillow's to match (see :func:`_open_decoded`).
DEFAULT_MAX_PIXELS = 50_000_000
#: How to raise the limit, named in the refusal.
RAISE_LIMIT_HINT = ("if the image is genuine, raise the limit (--max-pixels of mobilegan "
                    "segment, serve or data; Segmenter(max_pixels=...); mobilegan evaluate "
                    "keeps it)")

#: Mask foreground is ``value > MASK_THRESHOLD`` on the 8-bit grey level, as in
#: isic-challenge-scoring 5.6.0 (``truth_image > 128``).
MASK_THRESHOLD = 128

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA = {"RGBA", "RGBa", "LA", "La", "PA"}

Source = str | Path | BinaryIO


class ImageReadError(ValueError):
    """A file that is not a usable image; ``kind`` says why in one word.

    kinds: "missing", "unreadable" (not an image, corrupt), "truncated",
    "too_large" (over the pixel limit: a possible decompression bomb), "unsupported_mode".
    """

    def __init__(self, path: str, kind: str, reason: str) -> None:
        self.path = path
        self.kind = kind
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def source_name(source: Source) -> str:
    """A printable name for a path or an open file (uploads may have none)."""
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", None) or "<uploaded file>")


def _open_decoded(source: Source, max_pixels: int | None,
                  draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode the first frame, upright, after checking its size from the header alone."""
    name = source_name(source)
    if isinstance(source, (str, Path)) and Path(source).is_file() and Path(source).stat().st_size == 0:
        raise ImageReadError(name, "unreadable", "empty file (0 bytes)")
    try:
        with _pillow_guard(max_pixels):
            image = Image.open(source)  # the header only
        with image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageReadError(
                    name, "too_large",
                    f"{width}x{height} = {width * height:,} pixels is over the limit of "
                    f"{max_pixels:,} (a possible decompression bomb); {RAISE_LIMIT_HINT}")
            if draft_size is not None:
                image.draft(None, draft_size)  # JPEG only: decode at a reduced scale
            with _pillow_guard(max_pixels) if _past_pillows_limit(max_pixels) else \
                    contextlib.nullcontext():
                image.load()
            return _upright(image, name)
    except ImageReadError:
        raise
    except FileNotFoundError as error:
        raise ImageReadError(name, "missing", "no such file") from error
    except IsADirectoryError as error:
        raise ImageReadError(name, "missing", "is a folder, not an image file") from error
    except Image.DecompressionBombError as error:  # over Pillow's error limit (179 M)
        count = re.search(r"\((\d+) pixels\)", str(error))
        if count is None or max_pixels is None:
            raise ImageReadError(name, "too_large", f"a possible decompression bomb ({error}); "
                                 f"{RAISE_LIMIT_HINT}") from error
        raise ImageReadError(name, "too_large",
                             f"{int(count[1]):,} pixels is over the limit of {max_pixels:,} "
                             f"(a possible decompression bomb); {RAISE_LIMIT_HINT}") from error
    except UnidentifiedImageError as error:
        raise ImageReadError(name, "unreadable",
                             "not a recognised image format (corrupt or not an image)") from error
    except Exception as error:  # noqa: BLE001 - PIL raises OSError, SyntaxError, struct.error...
        text = str(error)
        if "truncated" in text.lower() or isinstance(error, EOFError):
            raise ImageReadError(name, "truncated", f"incomplete file: {text}") from error
        if "Decompressed" in text:  # PNG text-chunk bombs
            raise ImageReadError(name, "too_large", text) from error
        raise ImageReadError(name, "unreadable",
                             f"cannot decode ({type(error).__name__}: {text})") from error


#: Pillow's size guard and the warnings filters are process-wide: our readers change
#: them only while they open (or, past Pillow's own limit, decode) a file, one thread at a
#: time (the web app decodes uploads in threads), and restore them after.
_PILLOW_STATE = threading.RLock()


@contextlib.contextmanager
def _pillow_guard(max_pixels: int | None) -> Iterator[None]:
    """Our limit speaking instead of Pillow's guard: a limit above Pillow's lifts it (the
    caller vouches for images that large; TIFFs check it again as they decode), Pillow's
    warning is silenced since our check refuses anyway, and so is its "Corrupt EXIF"
    (the pixels stand)."""
    with _PILLOW_STATE, warnings.catch_warnings():
        previous = Image.MAX_IMAGE_PIXELS
        warnings.filterwarnings("ignore", message="Corrupt EXIF", category=UserWarning)
        if max_pixels is not None:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if previous is not None and previous < max_pixels:
                Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _past_pillows_limit(max_pixels: int | None) -> bool:
    return max_pixels is not None and (Image.MAX_IMAGE_PIXELS or max_pixels) < max_pixels


#: EXIF orientations that turn or mirror the pixels (1 leaves them as stored).
_TURNING = range(2, 9)


def _upright(image: Image.Image, name: str) -> Image.Image:
    """Apply the EXIF orientation, as every viewer (and the ISIC annotators) did."""
    try:
        with _pillow_guard(None):  # its tags are read again from the turned copy
            if image.getexif().get(0x0112, 1) not in _TURNING:
                return image.copy()
            upright = ImageOps.exif_transpose(image)
    except Exception as error:  # noqa: BLE001 - broken EXIF must not lose the pixels
        warnings.warn(f"{name}: ignoring unreadable EXIF orientation ({error})", stacklevel=3)
        return image.copy()
    return upright if upright is not None else image.copy()


def sixteen_bit_levels(values: np.ndarray) -> np.ndarray:
    """Integer levels of a 16-bit picture as 8-bit ones, rounded to the nearest; when every
    value is <= 255 they are 8-bit values already (see :func:`_grey_levels`). One rule for
    files and for arrays given to ``Segmenter.predict``, which once floored instead."""
    levels = np.asarray(values).astype(np.int64).clip(0, 65535)
    if levels.max(initial=0) > 255:
        return ((levels * 255 + 32767) // 65535).astype(np.uint8)
    return levels.astype(np.uint8)


def _grey_levels(image: Image.Image) -> np.ndarray:
    """8-bit grey levels of a single-channel image of any depth.

    Integer files (16-bit, or 32-bit as some decoders give them) are 16-bit data unless
    every value is <= 255: then they hold 8-bit values (converters write them so), which
    scaled by 1/257 would all read as black. Float files are [0, 1], [0, 255] or
    [0, 65535] by their largest value; negative, non-finite or larger values are a
    ValueError, never clipped into a wrong picture.
    """
    if image.mode in _SIXTEEN_BIT or image.mode == "I":
        return sixteen_bit_levels(np.asarray(image))
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all() or values.min(initial=0.0) < 0:
            raise ValueError("a float image with negative or non-finite values (NaN, inf): "
                             "its grey levels are unknown")
        top = values.max(initial=0.0)
        if top > 65535:
            raise ValueError(f"a float image with values up to {top:g}: expected [0, 1], "
                             f"[0, 255] or [0, 65535]")
        scale = 255.0 if top <= 1.0 else 1.0 if top <= 255.0 else 255.0 / 65535.0
        return np.rint(values * scale).clip(0, 255).astype(np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Use the embedded ICC profile when there is one (print-workflow JPEGs), else PIL's
    formula."""
    profile = image.info.get("icc_profile")
    if profile:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                                  outputMode="RGB")
            if converted is not None:
                return converted
        except Exception:  # noqa: BLE001 - a bad profile falls back to the plain formula
            pass
    return image.convert("RGB")


def _straight_alpha(image: Image.Image) -> Image.Image:
    """Premultiplied alpha ("La", "RGBa", from some TIFFs) as LA / RGBA: Pillow converts
    "La" to nothing else and cannot take its alpha channel apart."""
    return image.convert(image.mode[:-1] + "A") if image.mode in ("La", "RGBa") else image


def _to_rgb(image: Image.Image, name: str) -> np.ndarray:
    mode = image.mode
    if mode in _SIXTEEN_BIT or mode in {"I", "F"}:
        try:
            grey = _grey_levels(image)
        except ValueError as error:
            raise ImageReadError(name, "unsupported_mode", str(error)) from error
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "CMYK":
        image = _cmyk_to_rgb(image)
    elif mode != "RGB":
        image = _straight_alpha(image)
        try:
            # Alpha is dropped, not composited: the colour channels are what was photographed.
            image = image.convert("RGB")
        except (ValueError, OSError) as error:
            raise ImageReadError(name, "unsupported_mode",
                                 f"cannot convert image mode {mode!r} to RGB") from error
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def read_image(source: Source, max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
               draft_size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3), EXIF-upright, from a path or an open binary file.

    ``draft_size`` lets JPEGs decode at a reduced scale (at least that size) when only a
    thumbnail is needed. Raises ``ImageReadError`` (a ``ValueError``) naming the file.
    """
    image = _open_decoded(source, max_pixels, draft_size)
    return _to_rgb(image, source_name(source))


def pil_to_rgb(image: Image.Image, name: str = "<PIL image>") -> np.ndarray:
    """An already-open Pillow image as RGB uint8 (H, W, 3), upright, converted exactly as
    files are (16-bit rescaled, alpha dropped, CMYK through its profile).

    "Upright" follows the image's EXIF orientation tag, as a viewer shows it, and Pillow
    carries that tag over to images made from it (``convert``, ``crop``, also ``rotate``
    and ``transpose``): an image the caller turned by hand is turned again unless the tag
    goes too, as ``PIL.ImageOps.exif_transpose`` does."""
    return _to_rgb(_upright(image, name), name)


def read_mask_levels(source: Source, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A mask's 8-bit grey levels (H, W) uint8, from mode 1, L, P, RGB(A) or 16-bit files.

    RGB masks use their brightest channel: one channel where they agree (a grey mask saved
    as RGB), and a coloured lesion (red on black) is as bright as its colour, where its
    luminance (76 for pure red) would fall below the threshold and read as no lesion.
    """
    image = _straight_alpha(_open_decoded(source, max_pixels))
    if image.mode in _ALPHA:
        alpha = np.asarray(image.getchannel("A"))
        colour = image.convert("RGB" if image.mode.startswith("R") else "L")
        levels = np.asarray(colour)
        if levels.min() == levels.max() and alpha.min() != alpha.max():
            # One colour everywhere, the lesion drawn in transparency (some editors export
            # a selection so): the alpha channel is the mask.
            return np.ascontiguousarray(alpha, dtype=np.uint8)
        image = colour
    if image.mode == "RGB":
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).max(axis=2))
    if image.mode in _SIXTEEN_BIT or image.mode == "I":  # 0/1 labels would scale to 0/0
        labelled = _two_level_foreground(np.asarray(image).clip(0, 65535))
        if labelled is not None:
            return labelled.astype(np.uint8) * 255
    try:
        return _grey_levels(image)
    except (ValueError, OSError) as error:
        raise ImageReadError(source_name(source), "unsupported_mode",
                             f"cannot read mask of mode {image.mode!r}") from error


def binarize(levels: np.ndarray) -> tuple[np.ndarray, int]:
    """(foreground, number of grey pixels: neither 0 nor 255), as the ISIC scorer reads a
    ground truth: a mask of two levels, 0 and another (0/1 labels, 0/128), has that other
    level as its lesion; any other mask is lesion where ``> MASK_THRESHOLD``. Two-level
    masks count no grey pixels: nothing about them is uncertain."""
    labelled = _two_level_foreground(levels)
    if labelled is not None:
        return labelled, 0
    grey = int(np.count_nonzero((levels != 0) & (levels != 255)))
    return levels > MASK_THRESHOLD, grey


def _two_level_foreground(values: np.ndarray) -> np.ndarray | None:
    """Where a mask of levels {0, v} (or {v} alone, v > 0) is v; None for any other mask."""
    present = np.flatnonzero(np.bincount(values.ravel(), minlength=2))
    if len(present) <= 2 and present[-1] != 0 and (len(present) == 1 or present[0] == 0):
        return values == present[-1]
    return None


def read_mask(source: Source,
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, int]:
    """(bool mask (H, W), grey pixel count), binarised as the ISIC scorer does."""
    return binarize(read_mask_levels(source, max_pixels))
