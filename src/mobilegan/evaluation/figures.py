"""Figures of an evaluation: the paper's Fig. 2 (good and failure cases chosen by per-image
JAC, never by hand), the training curves, and the per-image JAC histogram.

Matplotlib's object API with the Agg canvas only: no pyplot, so no global backend or
figure state is touched (safe in servers, tests and threads).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from mobilegan.metrics.isic import JACCARD_THRESHOLD

#: Largest side drawn for a case; full-resolution ISIC originals (6000 px) are shrunk.
MAX_DISPLAY_SIDE = 384
TRUTH_COLOUR = "#00d000"
PREDICTION_COLOUR = "#ff2020"
#: Loss curves longer than this many points also get a moving average.
SMOOTH_ABOVE = 200


@dataclass
class Case:
    """One image to show: the input, the truth and the scored prediction, with its JAC."""

    id: str
    jac: float
    tag: str  # "best", "median" or "worst"
    image: np.ndarray  # uint8 (H, W, 3)
    truth: np.ndarray  # bool (H, W)
    prediction: np.ndarray  # bool (H, W), at the truth's resolution


def choose_cases(rows: Sequence[Mapping[str, Any]], best: int = 3, median: int = 2,
                 worst: int = 3) -> list[dict[str, Any]]:
    """The ``best`` highest, ``median`` middle and ``worst`` lowest per-image JAC rows,
    each tagged, ordered by JAC from highest to lowest (ties by id). Fewer rows than asked:
    each row appears once."""
    ordered = sorted(rows, key=lambda r: (-float(r["JAC"]), str(r["id"])))
    n = len(ordered)
    chosen: dict[int, str] = {}
    for i in range(min(best, n)):
        chosen.setdefault(i, "best")
    for i in range(max(n - worst, 0), n):
        chosen.setdefault(i, "worst")
    start = max((n - median) // 2, 0)
    for i in range(start, min(start + median, n)):
        chosen.setdefault(i, "median")
    return [{"id": str(ordered[i]["id"]), "JAC": float(ordered[i]["JAC"]), "tag": tag}
            for i, tag in sorted(chosen.items())]


def _display(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The case shrunk for drawing (masks by nearest neighbour, so edges stay exact)."""
    height, width = case.truth.shape
    scale = min(1.0, MAX_DISPLAY_SIDE / max(height, width))
    if scale >= 1.0:
        return case.image, case.truth, case.prediction
    size = (max(int(round(width * scale)), 1), max(int(round(height * scale)), 1))
    image = np.asarray(Image.fromarray(case.image).resize(size, Image.Resampling.BILINEAR))

    def shrink(mask: np.ndarray) -> np.ndarray:
        pil = Image.fromarray(mask.astype(np.uint8) * 255)
        return np.asarray(pil.resize(size, Image.Resampling.NEAREST)) > 127

    return image, shrink(case.truth), shrink(case.prediction)


def _contour(ax: Any, mask: np.ndarray, colour: str) -> None:
    if mask.any() and not mask.all():
        ax.contour(mask.astype(np.float32), levels=[0.5], colors=[colour], linewidths=1.5)


def _save(figure: Figure, path: str | Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=dpi)
    return path


def _finish(figure: Figure, ax: Any, path: str | Path, xlabel: str, ylabel: str, title: str,
            legend: str) -> Path:
    """Axis labels, legend and title in the house style, then the PNG."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc=legend)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def plot_cases(cases: Sequence[Case], path: str | Path, title: str = "") -> Path:
    """Fig. 2 of the paper: per case the input, the ground truth, and both outlines over the
    image (truth green, prediction red), titled with the id, the tag and the JAC."""
    if not cases:
        raise ValueError("no cases to draw")
    figure = Figure(figsize=(9.0, 2.6 * len(cases) + (0.5 if title else 0.0)))
    axes = figure.subplots(len(cases), 3, squeeze=False)
    for row, case in zip(axes, cases):
        image, truth, prediction = _display(case)
        row[0].imshow(image)
        row[0].set_title(f"{case.id} ({case.tag})", fontsize=9)
        row[1].imshow(truth, cmap="gray", vmin=0, vmax=1)
        row[1].set_title("ground truth", fontsize=9)
        row[2].imshow(image)
        _contour(row[2], truth, TRUTH_COLOUR)
        _contour(row[2], prediction, PREDICTION_COLOUR)
        row[2].set_title(f"truth green, prediction red: JAC {case.jac:.3f}", fontsize=9)
        for ax in row:
            ax.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def plot_jac_histogram(jacs: Sequence[float], path: str | Path, title: str = "",
                       threshold: float = JACCARD_THRESHOLD) -> Path:
    """Per-image JAC histogram with the mean and the ISIC 2018 0.65 threshold marked."""
    values = np.asarray(jacs, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no JAC values to plot")
    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.subplots()
    ax.hist(values, bins=np.linspace(0.0, 1.0, 41), color="#4878a8", edgecolor="white")
    ax.axvline(values.mean(), color="black", linestyle="-", label=f"mean {values.mean():.3f}")
    ax.axvline(threshold, color="#c03030", linestyle="--",
               label=f"JAC_th threshold {threshold:.2f} "
                     f"({np.mean(values < threshold):.0%} of images below)")
    ax.set_xlim(0.0, 1.0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of images: no 1.25
    return _finish(figure, ax, path, "per-image Jaccard index", "images",
                   title or f"per-image JAC (n = {values.size})", legend="upper left")


def plot_confidence(confidence: Sequence[float], jacs: Sequence[float], path: str | Path,
                    flag_below: float, title: str = "", failure: float = JACCARD_THRESHOLD) -> Path:
    """Per-image JAC against confidence, with the flag threshold and the failure line: the
    picture of whether flagged images are the bad ones (lower left quadrant)."""
    x, y = np.asarray(confidence, dtype=np.float64), np.asarray(jacs, dtype=np.float64)
    if x.size == 0 or x.shape != y.shape:
        raise ValueError(f"need one JAC per confidence, got {x.size} and {y.size}")
    flagged = x < flag_below
    figure = Figure(figsize=(6.0, 4.5))
    ax = figure.subplots()
    for group, colour, name in ((~flagged, "#4878a8", "kept"), (flagged, "#c03030", "flagged")):
        if group.any():
            ax.scatter(x[group], y[group], s=10, color=colour,
                       label=f"{name} ({group.sum()}, mean JAC {y[group].mean():.3f})")
    ax.axvline(flag_below, color="#c03030", linestyle="--", linewidth=1)
    caught = int((flagged & (y < failure)).sum())
    ax.axhline(failure, color="black", linestyle=":", linewidth=1,
               label=f"JAC {failure:.2f}: {caught} of {int((y < failure).sum())} below it flagged")
    ax.set_ylim(0.0, 1.0)
    return _finish(figure, ax, path, "confidence", "per-image Jaccard index",
                   title or f"confidence against JAC (n = {x.size})", legend="lower right")


def plot_threshold_sweep(thresholds: Sequence[float], mean_jac: Mapping[str, Sequence[float]],
                         path: str | Path, marked: float, mark_label: str = "",
                         default: float = 0.5, title: str = "") -> Path:
    """Mean JAC of each set against the mask threshold, as points gained over the default:
    sets at different levels (held-out 84, test 74) share one axis and show their shapes."""
    t = np.asarray(thresholds, dtype=np.float64)
    if default not in thresholds:
        raise ValueError(f"the default threshold {default} is not among {list(thresholds)}")
    k = list(thresholds).index(default)
    figure = Figure(figsize=(6.0, 4.5))
    ax = figure.subplots()
    for name, means in mean_jac.items():
        y = 100 * np.asarray(means, dtype=np.float64)
        if y.shape != t.shape:
            raise ValueError(f"{name}: {y.size} means for {t.size} thresholds")
        ax.plot(t, y - y[k], marker="o", markersize=3, label=f"{name} ({y[k]:.2f} at {default:g})")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.axvline(marked, color="#c03030", linestyle="--", linewidth=1, label=mark_label or f"{marked:g}")
    return _finish(figure, ax, path, "mask threshold", f"mean JAC minus JAC at {default:g} (points)",
                   title or "mean JAC against the mask threshold", legend="lower center")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _column(rows: list[dict[str, str]], key: str, x_key: str
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y) of one logged column, skipping empty cells (e.g. no D loss without a GAN)."""
    xs, ys = [], []
    for i, row in enumerate(rows):
        value = row.get(key)
        if value in (None, ""):
            continue
        xs.append(float(row.get(x_key) or i + 1))
        ys.append(float(value))
    return (np.asarray(xs), np.asarray(ys)) if ys else None


def plot_training_curves(run_dir: str | Path, path: str | Path, title: str = "") -> Path | None:
    """D and G losses per step (``steps.csv``, else per epoch) and validation JAC per
    epoch (``metrics.csv``). None when the run folder has neither log."""
    run_dir = Path(run_dir)
    steps_path, epochs_path = run_dir / "steps.csv", run_dir / "metrics.csv"
    steps = _read_csv(steps_path) if steps_path.is_file() else []
    epochs = _read_csv(epochs_path) if epochs_path.is_file() else []
    if not steps and not epochs:
        return None
    losses = steps or epochs
    figure = Figure(figsize=(10.0, 4.0))
    left, right = figure.subplots(1, 2)
    for key, label, colour in (("d_loss", "D loss", "#c03030"), ("g_total", "G loss (total)", "#3060c0"),
                               ("g_adversarial", "G adversarial", "#80a0e0")):
        series = _column(losses, key, "step" if steps else "epoch")
        if series is None:
            continue
        x, y = series
        if len(y) > SMOOTH_ABOVE:  # thousands of noisy steps: faint raw, bold moving average
            window = max(len(y) // 100, 5)
            left.plot(x, y, color=colour, linewidth=0.5, alpha=0.25)
            smooth = np.convolve(y, np.ones(window) / window, mode="valid")
            left.plot(x[window - 1:], smooth, label=f"{label} (mean of {window} steps)",
                      color=colour, linewidth=1.2)
        else:
            left.plot(x, y, label=label, color=colour, linewidth=1.0)
    left.set_xlabel("step" if steps else "epoch")
    left.set_ylabel("loss")
    left.set_title("training losses", fontsize=10)
    if left.lines:
        left.legend(fontsize=8)
    for key, label, colour in (("val_JAC", "validation JAC", "#208040"),
                               ("val_DIC", "validation DIC", "#a0c060")):
        series = _column(epochs, key, "epoch")
        if series is not None:
            right.plot(*series, label=label, color=colour, marker="o", markersize=3)
    right.set_xlabel("epoch")
    right.set_ylim(0.0, 1.0)
    right.set_title("validation (training resolution, model selection)", fontsize=10)
    if right.lines:
        right.legend(fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def write_evaluation_figures(out_dir: str | Path, rows: Sequence[Mapping[str, Any]],
                             samples: Sequence[Any], probabilities: Mapping[str, np.ndarray],
                             threshold: float, run_dir: Path | None = None,
                             label: str = "", postprocess: bool = False,
                             shown: Callable[[Any, np.ndarray], np.ndarray] | None = None
                             ) -> dict[str, Path]:
    """The evaluation's figures beside its summary: ``cases.png`` (best 3, median 2,
    worst 3 by JAC), ``jac_histogram.png`` and, for a run folder, ``training_curves.png``.
    ``probabilities`` holds the network-size maps of (at least) the chosen ids;
    ``postprocess`` draws the cleaned masks that were scored (as ``evaluate`` does);
    ``shown(sample, image)`` gives the picture to draw under them (the perturbed image the
    masks came from, under ``--perturb``). ``samples`` holds one file per id: the scored one."""
    from mobilegan.data.validate import check_pair
    from mobilegan.metrics.isic import resize_to

    out = Path(out_dir)
    title = label
    by_id = {s.id: s for s in samples}
    cases = []
    for chosen in choose_cases(rows):
        checked = check_pair(by_id[chosen["id"]])
        if not checked.ok or chosen["id"] not in probabilities:
            continue
        assert checked.image is not None and checked.mask is not None
        prediction = resize_to(probabilities[chosen["id"]].astype(np.float32), checked.mask.shape,
                               method="bilinear", threshold=threshold)
        if postprocess:
            from mobilegan.inference.postprocess import clean_mask

            prediction = clean_mask(prediction.astype(bool)).astype(bool)
        image = shown(checked.sample, checked.image) if shown else checked.image
        cases.append(Case(chosen["id"], chosen["JAC"], chosen["tag"], image, checked.mask,
                          prediction))
    files = {"cases": plot_cases(cases, out / "cases.png", title),
             "jac_histogram": plot_jac_histogram([float(r["JAC"]) for r in rows],
                                                 out / "jac_histogram.png", title)}
    if run_dir is not None:
        curves = plot_training_curves(run_dir, out / "training_curves.png", title)
        if curves is not None:
            files["training_curves"] = curves
    return files
