"""From a probability map to the final mask and its summary numbers (numpy + scipy only).

A dermoscopy image holds one lesion, so the mask keeps its largest connected component
and fills its holes: stray specks (hair, bubbles, ruler marks) and pale islands inside
the lesion are the errors this removes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

#: 8-connectivity: a lesion's diagonal-touching pixels are one lesion.
_CONNECTIVITY = np.ones((3, 3), dtype=bool)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep only the largest 8-connected component (all False stays all False)."""
    labels, count = ndimage.label(mask, structure=_CONNECTIVITY)
    if count <= 1:
        return mask.astype(bool, copy=True)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions enclosed by the mask."""
    return ndimage.binary_fill_holes(mask)


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Largest component, then hole filling: one solid lesion."""
    return fill_holes(largest_component(mask))


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """A float map (h, w) to (height, width), bilinear, as float32."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape == (height, width):
        return values.copy()
    image = Image.fromarray(values)  # float32 -> mode "F"
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) with x1, y1 exclusive, so ``image.crop(bbox)`` is the lesion."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy of a Bernoulli(p) in bits: 0 when certain, 1 at p = 0.5."""
    p = np.clip(np.asarray(p, dtype=np.float32), 1e-6, 1 - 1e-6)
    q = 1 - p
    return -(p * np.log2(p) + q * np.log2(q))


def neighbourhood(mask: np.ndarray, margin: float = 0.25) -> tuple[slice, slice]:
    """The lesion's bounding box grown by ``margin`` of its size on each side (the whole
    image when there is no lesion): where segmentation decisions are actually made."""
    box = bbox(mask)
    height, width = mask.shape
    if box is None:
        return slice(0, height), slice(0, width)
    x0, y0, x1, y1 = box
    dx = int(np.ceil((x1 - x0) * margin)) + 1
    dy = int(np.ceil((y1 - y0) * margin)) + 1
    return slice(max(0, y0 - dy), min(height, y1 + dy)), slice(max(0, x0 - dx), min(width, x1 + dx))


def confidence(probability: np.ndarray, mask: np.ndarray, margin: float = 0.25) -> float:
    """1 - mean predictive entropy (bits) of the probability map around the lesion.

    With noise sampling ``probability`` is the mean over samples, so samples that
    disagree pull it toward 0.5 and lower the score: one definition for both modes.
    Background far from the lesion is certain in every image and would only inflate
    the score, so the mean is taken over :func:`neighbourhood`. 1 = every pixel there
    decided, 0 = every pixel at p = 0.5.
    """
    rows, cols = neighbourhood(mask, margin)
    window = probability[rows, cols]
    if window.size == 0:
        return 0.0
    return float(np.clip(1.0 - binary_entropy(window).mean(), 0.0, 1.0))
