"""The procedural lesion picture used by the demo."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mobilegan.data.synthetic import draw_lesion


def test_shapes_types_and_determinism() -> None:
    image, mask = draw_lesion()
    assert image.shape == (192, 256, 3) and image.dtype == np.uint8
    assert mask.shape == (192, 256) and mask.dtype == bool
    again, _ = draw_lesion()
    assert np.array_equal(image, again)
    assert not np.array_equal(image, draw_lesion(seed=1)[0])


@pytest.mark.parametrize("seed", range(4))
def test_one_solid_lesion_darker_than_skin(seed: int) -> None:
    image, mask = draw_lesion((150, 200), seed=seed, label=False)
    assert 0.05 < mask.mean() < 0.5
    assert ndimage.label(mask)[1] == 1
    assert np.array_equal(ndimage.binary_fill_holes(mask), mask)
    assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    grey = image.mean(axis=2)
    ring = ndimage.binary_dilation(mask, iterations=15) & ~ndimage.binary_dilation(mask, iterations=5)
    assert grey[mask].mean() < grey[ring].mean() - 30


def test_label_marks_the_picture_synthetic() -> None:
    labelled, _ = draw_lesion(seed=2)
    clean, _ = draw_lesion(seed=2, label=False)
    differs = np.any(labelled != clean, axis=2)
    assert differs.any() and differs[-20:, :80].sum() == differs.sum()  # bottom-left corner only
