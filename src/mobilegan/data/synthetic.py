"""A procedural, lesion-like dermoscopy picture with its exact mask. SYNTHETIC: drawn from
noise, not a photograph of anyone's skin.

Why: a demo and tests need an image that looks enough like dermoscopy to exercise the
whole pipeline, with a known ground truth, and nothing from the ISIC archive may ship
inside the repository. Skin-toned textured background, a dermoscope's dark vignette,
hair-like strokes, and a brown irregular blob with a darker pigment network.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

#: Burnt into the corner by default so the picture is never mistaken for a real case.
LABEL = "SYNTHETIC"


def draw_lesion(size: tuple[int, int] = (192, 256), seed: int = 0,
                label: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic dermoscopy image (uint8 H x W x 3) and its lesion mask (bool H x W).

    ``size`` is (height, width). The same seed always draws the same picture.
    """
    height, width = size
    if min(height, width) < 32:
        raise ValueError(f"size must be at least 32x32, got {size}")
    rng = np.random.default_rng(seed)
    scale = min(height, width)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)

    skin = _skin(rng, height, width, scale)
    mask, depth = _blob(rng, yy, xx, height, width, scale)
    lesion = _lesion_colour(rng, depth, height, width, scale)
    # A soft edge (about 1.5% of the image) as real lesion borders have; the mask is the
    # half-way line of that blend.
    alpha = np.clip(ndimage.gaussian_filter(mask.astype(np.float32), 0.015 * scale), 0, 1)
    image = skin * (1 - alpha[..., None]) + lesion * alpha[..., None]
    image = _vignette(image, yy, xx, height, width)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    _hairs(rng, picture, scale)
    if label:
        ImageDraw.Draw(picture).text((4, height - 14), LABEL, fill=(235, 235, 235))
    return np.asarray(picture).copy(), mask


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-smoothed white noise, rescaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field / (field.std() + 1e-6)


def _skin(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    base = np.array([rng.uniform(205, 235), rng.uniform(155, 185), rng.uniform(135, 165)],
                    dtype=np.float32)
    blotches = _noise(rng, (height, width), scale / 10) * 9
    grain = _noise(rng, (height, width), 1.0) * 4
    return base + (blotches + grain)[..., None] * np.array([1.0, 0.9, 0.85], dtype=np.float32)


def _blob(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, height: int, width: int,
          scale: int) -> tuple[np.ndarray, np.ndarray]:
    """An irregular lesion: a radius that wobbles with angle, and a rough border."""
    cy = height / 2 + rng.normal(0, 0.06 * height)
    cx = width / 2 + rng.normal(0, 0.06 * width)
    r0 = scale * rng.uniform(0.22, 0.32)
    dy, dx = yy - cy, (xx - cx) / rng.uniform(1.0, 1.35)  # wider than tall, often
    theta, r = np.arctan2(dy, dx), np.hypot(dy, dx)
    wobble = sum(rng.uniform(0, 0.16) / k ** 0.6 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
                 for k in range(2, 8))
    radius = r0 * (1 + wobble) + _noise(rng, (height, width), scale / 40) * 0.03 * scale
    mask = r < radius
    mask = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(mask)
    if count > 1:
        mask = labels == np.bincount(labels.ravel())[1:].argmax() + 1
    depth = np.clip(1 - r / np.maximum(radius, 1e-3), 0, 1)  # 0 at the border, 1 at the centre
    return mask, depth


def _lesion_colour(rng: np.random.Generator, depth: np.ndarray, height: int, width: int,
                   scale: int) -> np.ndarray:
    """Brown, darker toward the centre, with a darker reticular pigment network."""
    light = np.array([150, 100, 70], dtype=np.float32) * rng.uniform(0.9, 1.1)
    dark = np.array([75, 45, 35], dtype=np.float32) * rng.uniform(0.85, 1.1)
    shade = np.clip(depth * 1.6 + _noise(rng, (height, width), scale / 12) * 0.2, 0, 1)
    colour = light * (1 - shade[..., None]) + dark * shade[..., None]
    network = _mesh(rng, height, width, scale) * np.clip(depth * 3, 0, 1)  # fades at the rim
    return colour * (1 - 0.45 * network[..., None])


def _mesh(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """A pigment network: the edges of a Voronoi diagram (a honeycomb of irregular cells),
    jittered with smooth noise so the lines wander a little. 1 on a line, 0 between."""
    from scipy.spatial import cKDTree

    cell = max(4.0, scale / 22)
    count = int(height * width / cell ** 2) + 1
    seeds = rng.uniform((0, 0), (height, width), size=(count, 2))
    jitter = np.stack([_noise(rng, (height, width), cell) for _ in range(2)], -1) * cell * 0.25
    points = np.stack(np.mgrid[0:height, 0:width], -1).astype(np.float32) + jitter
    distance, _ = cKDTree(seeds).query(points.reshape(-1, 2), k=2)
    gap = (distance[:, 1] - distance[:, 0]).reshape(height, width)
    return np.exp(-(gap / (0.12 * cell)) ** 2)


def _vignette(image: np.ndarray, yy: np.ndarray, xx: np.ndarray, height: int,
              width: int) -> np.ndarray:
    """Dark corners of a round dermoscope field."""
    d = np.hypot((yy - height / 2) / (height / 2), (xx - width / 2) / (width / 2)) / np.sqrt(2)
    return image * np.clip(1 - 1.4 * d ** 4, 0.15, 1)[..., None]


def _hairs(rng: np.random.Generator, picture: Image.Image, scale: int) -> None:
    """A few thin dark curved strokes (quadratic Bezier curves) across the picture."""
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    t = np.linspace(0, 1, 40)[:, None]
    for _ in range(int(rng.integers(2, 7))):
        p0, p1, p2 = (rng.uniform((0, 0), (width, height)) for _ in range(3))
        curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
        shade = int(rng.uniform(25, 60))
        draw.line([tuple(p) for p in curve], fill=(shade, shade - 10, shade - 15),
                  width=max(1, round(scale / 150)))
