"""Input preparation shared by both backends, in numpy and Pillow only.

One code path for torch and ONNX means both backends see the very same pixels (parity
is a property of the model, not of two preprocessing copies), and the ONNX path never
imports torch. The steps mirror training (:mod:`mobilegan.data.cache`): RGB, Pillow
bilinear resize to a square, then :func:`mobilegan.data.tensors.normalize_images`'s
uint8 -> [-1, 1] mapping.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

#: What ``Segmenter.predict`` accepts: a file path, a Pillow image, or a numpy array.
ImageInput = Union[str, os.PathLike, Image.Image, np.ndarray]


def read_input_file(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """A file handed to the Segmenter, as uint8 (H, W, 3), EXIF-upright; unreadable files
    raise :class:`mobilegan.data.io.ImageReadError` (a ValueError) naming the file. Images
    over ``max_pixels`` are refused as possible bombs; None here means the default 50 M
    (where :func:`mobilegan.data.io.read_image`'s None means no limit: inputs always
    have one)."""
    from mobilegan.data.io import DEFAULT_MAX_PIXELS, read_image as project_reader

    return project_reader(Path(path), max_pixels or DEFAULT_MAX_PIXELS)


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode as uint8 (H, W, 3), converted exactly as files are."""
    from mobilegan.data.io import pil_to_rgb as convert

    return convert(image)


def array_to_rgb(array: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as uint8 (H, W, 3).

    uint8 is taken as is; uint16 is scaled by 255/65535, rounded, as a 16-bit grey file is
    read (a grey array whose values are all <= 255 holds 8-bit values, as such a file does;
    a colour one is refused as ambiguous, where Pillow would read its file as black); bool
    to 0/255; floats must lie in [0, 1]; alpha is dropped. Anything else is a ValueError
    that says what was given.
    """
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image array, got shape {a.shape}")
    if min(a.shape[:2]) < 1:
        raise ValueError(f"empty image array of shape {a.shape}")
    if a.dtype == np.uint8:
        pass
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "u" and a.dtype.itemsize == 2:  # either byte order
        from mobilegan.data.io import sixteen_bit_levels

        if a.ndim == 3 and a.max() <= 255:  # 8-bit colour in a 16-bit array, or near black?
            raise ValueError("a uint16 colour array whose values are all <= 255 may hold "
                             "8-bit values: pass array.astype(np.uint8) if so (uint16 is read "
                             "as 0-65535)")
        a = sixteen_bit_levels(a)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ValueError("a float image array must hold finite values in [0, 1]")
        a = np.round(a * 255).astype(np.uint8)
    else:
        raise ValueError(f"unsupported image array dtype {a.dtype}; use uint8 (0-255)")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a)


def to_rgb(image: ImageInput, max_pixels: int | None = None) -> np.ndarray:
    """Whatever the caller handed us, as uint8 (H, W, 3) at its original resolution; a
    file over ``max_pixels`` (None: 50 M) is refused as a possible decompression bomb."""
    if isinstance(image, (str, os.PathLike)):
        return read_input_file(Path(image), max_pixels)
    if isinstance(image, Image.Image):
        return pil_to_rgb(image)
    if isinstance(image, np.ndarray):
        return array_to_rgb(image)
    raise TypeError(f"expected a path, PIL image or numpy array, got {type(image).__name__}")


#: Mean luminance (Rec. 601, 0-255) of the ISIC 2018 training images the shipped weights
#: learned from (the first 300 of the leak-free training split; their std is 22). A test
#: checks it against ../shared/data.
TRAINING_MEAN_LUMINANCE = 158.8
_LUMA = np.array([0.299, 0.587, 0.114])


def mean_luminance(rgb: np.ndarray) -> float:
    """Mean Rec. 601 luminance of a uint8 (H, W, 3) image, 0-255.

    Exact, from Pillow's per-channel histograms (integer counts): a float32 running mean
    drifted by 0.05% on a 6-megapixel photo and took 8x longer.
    """
    counts = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).histogram(), dtype=np.float64)
    channel_means = counts.reshape(3, 256) @ np.arange(256) / (rgb.shape[0] * rgb.shape[1])
    return float(channel_means @ _LUMA)


def normalize_exposure(rgb: np.ndarray, target: float = TRAINING_MEAN_LUMINANCE) -> np.ndarray:
    """The image scaled by one gain (colours kept) so that its mean luminance is the
    training images': an under- or over-exposed camera then looks like the archive's.

    Chosen on held-out ISIC 2018 images with v3's weights: JAC +0.4 clean and +2.8 on
    images darkened to 60% (`mobilegan evaluate --perturb dark`); under the other
    perturbations better or within 0.1 (low contrast -0.05). With v5 it lifted darkened
    test images from 70.7 to 73.6; with the shipped v6 it moves clean ones by +0.27 +- 0.46
    (README).
    A black image stays black.
    """
    current = mean_luminance(rgb)
    if current < 1.0:
        return rgb
    # One gain for every pixel: a 256-entry table (applied by Pillow, the same lookup as
    # numpy's table[rgb] at a fraction of its time), so a 24-megapixel photo costs no float copy.
    table = np.arange(256, dtype=np.float32) * np.float32(target / current)
    table = np.clip(np.round(table), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).point(table.tolist() * 3))


def resize_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) to (size, size, 3), Pillow bilinear, exactly as training resized."""
    if rgb.shape[:2] == (size, size):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR))


def normalize(batch: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) to float32 (B, 3, H, W) in [-1, 1] (as ``normalize_images``)."""
    x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2)).astype(np.float32)
    return x / np.float32(127.5) - np.float32(1.0)


def prepare_batch(images: Iterable[np.ndarray], size: int) -> np.ndarray:
    """RGB images of any sizes to one network-ready float32 (B, 3, size, size) batch; each
    is shrunk as it comes, so a generator of full-size images holds one at a time."""
    return normalize(np.stack([resize_rgb(im, size) for im in images]))
