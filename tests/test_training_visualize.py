"""The run's validation overlay grid: ground truth green, prediction red, tiles in rows."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from mobilegan.inference.result import contour
from mobilegan.training.visualize import overlay_grid

GREEN, RED = (0, 220, 0), (255, 40, 40)


def _square(size: int, lo: int, hi: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[lo:hi, lo:hi] = 1
    return mask


def test_grid_places_tiles_and_draws_truth_green_prediction_red(tmp_path):
    size, count = 16, 5
    rng = np.random.default_rng(0)
    images = rng.integers(60, 200, size=(count, 3, size, size), dtype=np.uint8)
    truth = _square(size, 2, 8)
    pred = _square(size, 6, 14)  # overlaps the truth's corner
    truths = torch.from_numpy(np.stack([truth[None]] * count))
    preds = torch.from_numpy(np.stack([pred[None]] * count))

    path = overlay_grid(torch.from_numpy(images), truths, preds, tmp_path / "sub" / "grid.png",
                        columns=4)
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 * size, 4 * size, 3)  # 5 tiles -> 2 rows of 4

    truth_edge, pred_edge = contour(truth > 0), contour(pred > 0)
    for index in range(count):
        row, col = divmod(index, 4)
        tile = grid[row * size:(row + 1) * size, col * size:(col + 1) * size]
        image = images[index].transpose(1, 2, 0)
        assert (tile[pred_edge] == RED).all()  # drawn last, so it wins where they cross
        assert (tile[truth_edge & ~pred_edge] == GREEN).all()
        untouched = ~(truth_edge | pred_edge)
        assert np.array_equal(tile[untouched], image[untouched])
    # The three padding tiles of the second row are black.
    assert not grid[size:, size:].any()


def test_grid_leaves_the_callers_images_alone(tmp_path):
    images = torch.full((1, 3, 8, 8), 100, dtype=torch.uint8)
    before = images.clone()
    mask = torch.from_numpy(_square(8, 2, 6)[None, None])
    overlay_grid(images, mask, mask, tmp_path / "grid.png", columns=1)
    assert torch.equal(images, before)
