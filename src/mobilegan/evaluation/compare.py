"""Is model A better than model B on the same images? The mean per-image difference of a
metric with a 95% interval (normal approximation over images), which is far tighter than
comparing two means whose per-image spread is 15-20 points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PairedDifference:
    metric: str
    n: int
    mean: float  # mean of A - B over the shared images, in the CSV's units x scale
    half_width: float  # 95% interval: mean +- half_width

    def markdown(self) -> str:
        return f"{self.mean:+.2f} +- {self.half_width:.2f}"


def per_image(path: str | Path, metric: str) -> dict[str, float]:
    """``metric`` per image id from an evaluation's ``per_image.csv`` (or its folder)."""
    from mobilegan.evaluation.evaluate import read_per_image

    path = Path(path)
    if path.is_dir():
        path = path / "per_image.csv"
    rows = read_per_image(path)
    if rows and metric not in rows[0]:
        raise KeyError(f"{path} has no column {metric!r}")
    return {row["id"]: row[metric] for row in rows}


def paired_difference(a: dict[str, float], b: dict[str, float], metric: str = "JAC",
                      scale: float = 100.0) -> PairedDifference:
    """A - B over the ids both scored; refuses when they share fewer than two images."""
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        raise ValueError(f"the two evaluations share {len(shared)} images; need at least 2")
    diffs = [scale * (a[i] - b[i]) for i in shared]
    mean = sum(diffs) / len(diffs)
    variance = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return PairedDifference(metric, len(diffs), mean, 1.96 * math.sqrt(variance / len(diffs)))
