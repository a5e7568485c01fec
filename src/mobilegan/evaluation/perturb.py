"""Image-quality changes that images from other devices and clinics show: a stress test of
how far the model's scores fall outside the ISIC archive's look.

Each perturbation changes the image only (the lesion, and so the ground truth, stays put) and
is deterministic for a given image id. ``mobilegan evaluate --perturb NAME`` scores a model
on perturbed images; ``benchmarks/robustness.py`` runs them all and prints the drop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


@dataclass(frozen=True)
class Perturbation:
    name: str
    description: str
    apply: Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return values.round().clip(0, 255).astype(np.uint8)


def _low_resolution(image: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    small = Image.fromarray(image).resize((max(width // 4, 1), max(height // 4, 1)), Image.BOX)
    return np.asarray(small.resize((width, height), Image.BILINEAR))


def _jpeg(image: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=20)
    return np.asarray(Image.open(BytesIO(buffer.getvalue())).convert("RGB"))


def _blur(image: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    radius = max(min(image.shape[:2]) / 100, 0.5)
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def _noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float32) + rng.normal(0, 12, image.shape).astype(np.float32)
    return _to_uint8(noisy)


def _scale_channels(factors: tuple[float, float, float]) -> Callable[..., np.ndarray]:
    def apply(image: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        scaled = image.astype(np.float32) * np.asarray(factors, dtype=np.float32)
        return _to_uint8(scaled)
    return apply


def _low_contrast(image: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    pixels = image.astype(np.float32)
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    return _to_uint8(mean + 0.6 * (pixels - mean))


def _vignette(image: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    """A dermatoscope's round field of view: black outside a centred circle whose diameter
    is the long side (so the corners go dark), with a soft rim a tenth of the radius wide."""
    height, width = image.shape[:2]
    radius = max(height, width) / 2
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(rows - (height - 1) / 2, cols - (width - 1) / 2)
    light = np.clip((radius - distance) / (0.1 * radius), 0.0, 1.0)[..., None]
    return _to_uint8(image.astype(np.float32) * light)


def _hair(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Twenty dark hairs, each a random quadratic Bezier curve across part of the image,
    about 0.5% of the short side thick: what an unshaved skin looks like through a lens."""
    height, width = image.shape[:2]
    short = min(height, width)
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    steps = np.linspace(0.0, 1.0, 40)[:, None]
    for _ in range(20):
        start = rng.uniform((0, 0), (width, height))
        end = start + rng.normal(0, 0.4 * short, 2)
        bend = (start + end) / 2 + rng.normal(0, 0.1 * short, 2)
        curve = (1 - steps) ** 2 * start + 2 * (1 - steps) * steps * bend + steps ** 2 * end
        colour = tuple(int(c) for c in rng.integers(20, 60) * np.array([1.0, 0.8, 0.7]))
        draw.line([tuple(point) for point in curve], fill=colour,
                  width=max(1, round(0.005 * short)), joint="curve")
    return np.asarray(canvas)


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in [
    Perturbation("low_res", "a quarter of the resolution (box down, bilinear up): a phone "
                 "camera or a crop", _low_resolution),
    Perturbation("jpeg", "JPEG quality 20: a messaging app's compression", _jpeg),
    Perturbation("blur", "Gaussian blur, radius 1% of the short side: out of focus", _blur),
    Perturbation("noise", "Gaussian sensor noise, sigma 12 grey levels: a dim room", _noise),
    Perturbation("warm", "white balance off: red x1.12, blue x0.85", _scale_channels((1.12, 1.0, 0.85))),
    Perturbation("cool", "white balance off: red x0.88, blue x1.12", _scale_channels((0.88, 1.0, 1.12))),
    Perturbation("dark", "under-exposed: every channel x0.6", _scale_channels((0.6, 0.6, 0.6))),
    Perturbation("low_contrast", "contrast x0.6 about the mean colour: a hazy lens",
                 _low_contrast),
    Perturbation("vignette", "dark corners outside a round field of view, as many "
                 "dermatoscopes show", _vignette),
    Perturbation("hair", "twenty thin dark hairs drawn across the image: unshaved skin", _hair),
]}


def perturb(name: str, image: np.ndarray, image_id: str) -> np.ndarray:
    """``image`` (H, W, 3) uint8 changed by the perturbation ``name``; the same id always
    gets the same random draw."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; choose one of {sorted(PERTURBATIONS)}")
    seed = int.from_bytes(hashlib.sha256(f"{name}:{image_id}".encode()).digest()[:8], "little")
    out = PERTURBATIONS[name].apply(np.ascontiguousarray(image), np.random.default_rng(seed))
    assert out.shape == image.shape and out.dtype == np.uint8
    return out
