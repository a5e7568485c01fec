"""The figure writer: cases chosen by JAC (never by hand), valid PNGs of sensible size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.evaluation.figures import (Case, choose_cases, plot_cases, plot_confidence,
                                          plot_jac_histogram, plot_threshold_sweep,
                                          plot_training_curves)


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        image.load()
        return image.size


def _disc(height: int, width: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_cases_are_best_median_worst_ordered_by_jac() -> None:
    rng = np.random.default_rng(1)
    rows = [{"id": f"ISIC_{i:07d}", "JAC": float(j)} for i, j in enumerate(rng.random(21))]
    ordered = sorted((r["JAC"] for r in rows), reverse=True)

    cases = choose_cases(rows)

    assert [c["tag"] for c in cases] == ["best"] * 3 + ["median"] * 2 + ["worst"] * 3
    jacs = [c["JAC"] for c in cases]
    assert jacs == sorted(jacs, reverse=True)
    assert jacs[:3] == ordered[:3] and jacs[-3:] == ordered[-3:]
    assert ordered[9] in jacs[3:5] and ordered[10] in jacs[3:5]


def test_few_images_each_appear_once() -> None:
    rows = [{"id": str(i), "JAC": j} for i, j in enumerate([0.2, 0.9, 0.5, 0.7])]
    cases = choose_cases(rows)
    assert [c["id"] for c in cases] == ["1", "3", "2", "0"]
    assert cases[0]["tag"] == "best" and cases[-1]["tag"] == "worst"


def test_cases_figure_is_a_valid_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cases = []
    for i, (h, w) in enumerate([(217, 301), (900, 1200), (64, 64)]):
        truth = _disc(h, w, h / 2, w / 2, min(h, w) / 3)
        prediction = _disc(h, w, h / 2 + 5, w / 2, min(h, w) / 3.5)
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cases.append(Case(f"case{i}", 0.9 - 0.3 * i, "best", image, truth, prediction))
    cases.append(Case("empty", 0.0, "worst", cases[2].image, cases[2].truth,
                      np.zeros_like(cases[2].truth)))

    path = plot_cases(cases, tmp_path / "cases.png", title="LEAK: test")

    width, height = _png_size(path)
    assert 600 <= width <= 1500 and 800 <= height <= 1.5 * 300 * len(cases)


def test_histogram_and_training_curves(tmp_path: Path) -> None:
    width, height = _png_size(plot_jac_histogram([0.1, 0.7, 0.8, 0.95], tmp_path / "h.png"))
    assert (width, height) == (600, 400)

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,step,d_loss,g_total,val_JAC,val_DIC\n"
                                     "1,10,0.7,1.2,0.50,0.60\n2,20,0.6,1.0,0.62,0.71\n")
    steps = ["step,epoch,d_loss,g_total"] + [f"{s},{1 + s // 150},{0.7 - s / 1e3},{1.2 - s / 900}"
                                             for s in range(1, 301)]
    (run / "steps.csv").write_text("\n".join(steps) + "\n")
    assert _png_size(plot_training_curves(run, tmp_path / "curves.png"))[0] == 1000

    # A generator trained alone logs no D loss; and a folder without logs draws nothing.
    (run / "steps.csv").unlink()
    (run / "metrics.csv").write_text("epoch,step,d_loss,g_total,val_JAC,val_DIC\n1,10,,1.2,0.5,0.6\n")
    assert plot_training_curves(run, tmp_path / "curves2.png") is not None
    assert plot_training_curves(tmp_path / "nothing", tmp_path / "curves3.png") is None


def test_no_cases_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_cases([], tmp_path / "x.png")


def _red_pixels(path: Path) -> int:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 150) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)).sum())


def test_confidence_scatter_marks_the_flagged_images(tmp_path: Path) -> None:
    confidence, jacs = [0.80, 0.90, 0.97, 0.98, 0.99], [0.30, 0.70, 0.85, 0.90, 0.92]
    flagged = plot_confidence(confidence, jacs, tmp_path / "c.png", flag_below=0.95)
    assert _png_size(flagged) == (600, 450)
    # No image under the threshold: nothing drawn in the flagged colour but the line itself.
    none_flagged = plot_confidence(confidence, jacs, tmp_path / "c0.png", flag_below=0.5)
    assert _red_pixels(flagged) > _red_pixels(none_flagged) + 20
    with pytest.raises(ValueError, match="one JAC per confidence"):
        plot_confidence([0.9, 0.8], [0.5], tmp_path / "bad.png", flag_below=0.9)


def test_threshold_sweep_plot_checks_its_columns(tmp_path: Path) -> None:
    thresholds = [0.3, 0.5, 0.7]
    means = {"held-out": [0.83, 0.84, 0.835], "test": [0.745, 0.736, 0.72]}
    path = plot_threshold_sweep(thresholds, means, tmp_path / "s.png", marked=0.5)
    assert _png_size(path) == (600, 450) and _red_pixels(path) > 20  # the chosen line
    with pytest.raises(ValueError, match="2 means for 3 thresholds"):
        plot_threshold_sweep(thresholds, {"test": [0.7, 0.8]}, tmp_path / "bad.png", marked=0.5)
    with pytest.raises(ValueError, match="default threshold 0.5 is not among"):
        plot_threshold_sweep([0.3, 0.7], {"test": [0.7, 0.8]}, tmp_path / "bad.png", marked=0.3)


def test_histogram_counts_images_in_whole_numbers(tmp_path, monkeypatch) -> None:
    """Three images: the y axis counts 0, 1, 2..., never 1.25 images."""
    from mobilegan.evaluation import figures

    seen = {}
    real_finish = figures._finish

    def capture(figure, ax, *args, **kwargs):
        seen["ax"] = ax
        return real_finish(figure, ax, *args, **kwargs)

    monkeypatch.setattr(figures, "_finish", capture)
    figures.plot_jac_histogram([0.5, 0.81, 0.82], tmp_path / "h.png")
    ticks = seen["ax"].get_yticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
