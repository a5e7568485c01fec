"""Pictures of a run: validation overlays (ground truth green, prediction red)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mobilegan.inference.result import contour


def overlay_grid(images: torch.Tensor, truths: torch.Tensor, predictions: torch.Tensor,
                 path: str | Path, columns: int = 4) -> Path:
    """images uint8 (B,3,H,W); truths, predictions (B,1,H,W) in {0,1}. Writes a PNG grid."""
    tiles = []
    for image, truth, pred in zip(images.cpu().numpy(), truths.cpu().numpy(), predictions.cpu().numpy()):
        tile = image.transpose(1, 2, 0).copy()
        tile[contour(truth[0] > 0)] = (0, 220, 0)
        tile[contour(pred[0] > 0)] = (255, 40, 40)
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path
