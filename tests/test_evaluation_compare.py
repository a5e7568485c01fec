"""Paired per-image differences between two evaluations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mobilegan.evaluation.compare import paired_difference, per_image
from mobilegan.evaluation.evaluate import write_per_image
from mobilegan.metrics.isic import METRIC_KEYS


def _write(path: Path, rows: dict[str, float]) -> Path:
    """A per_image.csv as ``mobilegan evaluate`` writes it, every metric set to the value."""
    return write_per_image([{"id": k, **dict.fromkeys(METRIC_KEYS, v), "width": 4, "height": 3,
                             "seen_in": ""} for k, v in rows.items()], path)


def test_difference_and_interval_over_shared_images(tmp_path: Path) -> None:
    a = per_image(_write(tmp_path / "a.csv", {"x": 0.9, "y": 0.8, "z": 0.7, "only_a": 0.1}), "JAC")
    b = per_image(_write(tmp_path / "b.csv", {"x": 0.8, "y": 0.8, "z": 0.4}), "JAC")
    diff = paired_difference(a, b)
    assert diff.n == 3
    assert diff.mean == pytest.approx(100 * (0.1 + 0.0 + 0.3) / 3)
    deltas = [10.0, 0.0, 30.0]
    sd = math.sqrt(sum((d - diff.mean) ** 2 for d in deltas) / 2)
    assert diff.half_width == pytest.approx(1.96 * sd / math.sqrt(3))
    assert diff.markdown().startswith("+13.33 +- ")
    assert paired_difference(b, a).mean == pytest.approx(-diff.mean)


def test_refuses_disjoint_evaluations_and_unknown_metric(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv", {"x": 0.9})
    b = _write(tmp_path / "b.csv", {"y": 0.9})
    with pytest.raises(ValueError, match="share 0 images"):
        paired_difference(per_image(a, "JAC"), per_image(b, "JAC"))
    with pytest.raises(KeyError, match="HD95"):
        per_image(a, "HD95")
