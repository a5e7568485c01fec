"""What the figures show, not just that they are PNGs: outline colours, legend counts at the
0.65 JAC boundary, where a smoothed loss curve sits, and how far a huge original shrinks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mobilegan.evaluation import figures
from mobilegan.evaluation.figures import (Case, plot_cases, plot_confidence, plot_jac_histogram,
                                          plot_training_curves)


def _disc(height: int, width: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The matplotlib figures the module saves, kept for inspection."""
    kept: list[Any] = []
    real_save = figures._save

    def keep(figure, path, *args, **kwargs):
        kept.append(figure)
        return real_save(figure, path, *args, **kwargs)

    monkeypatch.setattr(figures, "_save", keep)
    return kept


def _legend(figure: Any, axis: int = 0) -> list[str]:
    return [t.get_text() for t in figure.axes[axis].get_legend().get_texts()]


def test_truth_is_outlined_green_and_the_prediction_red(tmp_path: Path) -> None:
    """Truth a disc on the left of a black image, prediction one on the right: green pixels
    lie left of red ones."""
    h, w = 120, 240
    truth = _disc(h, w, 60, 60, 35)
    prediction = _disc(h, w, 60, 180, 35)
    image = np.zeros((h, w, 3), dtype=np.uint8)
    path = plot_cases([Case("c", 0.0, "worst", image, truth, prediction)], tmp_path / "c.png")
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    green = (g > 150) & (r < 100) & (b < 100)
    red = (r > 150) & (g < 100) & (b < 100)
    assert green.sum() > 50 and red.sum() > 50
    green_x, red_x = np.nonzero(green)[1].mean(), np.nonzero(red)[1].mean()
    assert green_x < red_x - 50


def test_histogram_counts_an_image_at_0_65_as_passing(tmp_path: Path, drawn: list[Any]) -> None:
    """JAC_th zeroes scores *below* 0.65: an image at exactly 0.65 is not below it."""
    plot_jac_histogram([0.65, 0.65, 0.9, 0.3], tmp_path / "h.png")
    labels = _legend(drawn[-1])
    assert "mean 0.625" in labels
    assert "JAC_th threshold 0.65 (25% of images below)" in labels


def test_confidence_legend_counts_failures_caught_by_the_flag(tmp_path: Path,
                                                              drawn: list[Any]) -> None:
    """Flagged: three images, two of them failures (JAC < 0.65; 0.65 itself passes);
    kept: three, one a failure. Two of the three failures were caught."""
    confidence = [0.5, 0.6, 0.7, 0.97, 0.98, 0.99]
    jacs = [0.2, 0.3, 0.65, 0.5, 0.9, 0.95]
    plot_confidence(confidence, jacs, tmp_path / "c.png", flag_below=0.9)
    labels = _legend(drawn[-1])
    assert "kept (3, mean JAC 0.783)" in labels
    assert "flagged (3, mean JAC 0.383)" in labels
    assert "JAC 0.65: 2 of 3 below it flagged" in labels


def test_a_smoothed_loss_curve_ends_where_the_log_ends(tmp_path: Path, drawn: list[Any]) -> None:
    """300 steps (11 to 310, as after a resume): the moving average of 5 is drawn at the
    last step of each window, so it spans steps 15 to 310 and follows a straight line
    two steps behind."""
    run = tmp_path / "run"
    run.mkdir()
    steps = range(11, 311)
    (run / "steps.csv").write_text("step,epoch,d_loss,g_total\n" + "".join(
        f"{s},1,{1.0 - s / 1000:.6f},{s / 100:.6f}\n" for s in steps))
    plot_training_curves(run, tmp_path / "curves.png")
    left = drawn[-1].axes[0]
    [smooth] = [line for line in left.get_lines()
                if line.get_label() == "G loss (total) (mean of 5 steps)"]
    x, y = np.asarray(smooth.get_xdata()), np.asarray(smooth.get_ydata())
    assert x[0] == 15 and x[-1] == 310 and len(x) == 296
    np.testing.assert_allclose(y, (x - 2) / 100, atol=1e-9)
    [raw] = [line for line in left.get_lines()
             if line.get_color() == smooth.get_color() and line is not smooth]
    assert raw.get_xdata()[-1] == smooth.get_xdata()[-1]  # both end on the last step


@pytest.mark.parametrize("height, width, shown", [(1000, 6000, (64, 384)),
                                                  (6000, 1000, (384, 64)),
                                                  (300, 200, (300, 200))])
def test_a_case_is_shown_with_its_long_side_at_most_384(tmp_path: Path, drawn: list[Any],
                                                       height: int, width: int,
                                                       shown: tuple[int, int]) -> None:
    truth = _disc(height, width, height / 2, width / 2, min(height, width) / 3)
    image = np.full((height, width, 3), 90, dtype=np.uint8)
    plot_cases([Case("big", 0.5, "median", image, truth, truth)], tmp_path / "c.png")
    axes = drawn[-1].axes
    assert axes[0].images[0].get_array().shape[:2] == shown  # the input
    truth_shown = np.asarray(axes[1].images[0].get_array())
    assert truth_shown.shape == shown
    assert set(np.unique(truth_shown)) == {0, 1}  # still a mask, edges not blurred
