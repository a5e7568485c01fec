"""Our per-image metrics equal the official ISIC scorer's (isic-challenge-scoring 5.6.0) on
real ISIC 2017 test masks with perturbed predictions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from mobilegan.data.io import read_mask
from mobilegan.data.layouts import load_samples
from mobilegan.metrics import confusion, image_metrics, summarize
# The official scorer is a dev dependency (pyproject [dev]): a missing one fails loudly.
from isic_challenge_scoring import metrics as isic_metrics
from isic_challenge_scoring.confusion import create_binary_confusion_matrix
from isic_challenge_scoring.load_image import load_segmentation_image
from isic_challenge_scoring.segmentation import SegmentationScore

OURS_TO_THEIRS = {"ACC": "binary_accuracy", "SEN": "binary_sensitivity",
                  "SPE": "binary_specificity", "JAC": "binary_jaccard",
                  "JAC_th": "binary_threshold_jaccard", "DIC": "binary_dice"}


def scorer_metrics(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    cm = create_binary_confusion_matrix(truth_binary_values=truth,
                                        prediction_binary_values=prediction)
    out = {k: float(getattr(isic_metrics, name)(cm)) for k, name in OURS_TO_THEIRS.items()}
    out["JAC_th"] = float(isic_metrics.binary_threshold_jaccard(cm, threshold=0.65))
    return out


def shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def perturbations(truth: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    noisy = truth ^ (rng.random(truth.shape) < 0.05)
    far = np.zeros_like(truth)
    far[:5, :5] = True
    return {
        "same": truth.copy(),
        "eroded": ndimage.binary_erosion(truth, iterations=4),
        "dilated": ndimage.binary_dilation(truth, iterations=6),
        "shifted": shifted(truth, 9, -13),
        "empty": np.zeros_like(truth),
        "full": np.ones_like(truth),
        "inverted": ~truth,
        "noisy": noisy,
        "corner": far,
    }


@pytest.fixture(scope="module")
def truths(isic2017: Path) -> list[tuple[Path, np.ndarray]]:
    samples = load_samples(isic2017, "test")[:: 30][:20]
    assert len(samples) == 20
    return [(s.mask, read_mask(s.mask)[0]) for s in samples]


def test_truth_is_read_as_the_scorer_reads_it(truths: list[tuple[Path, np.ndarray]]) -> None:
    for path, ours in truths:
        assert np.array_equal(ours, load_segmentation_image(path) > 128)


def test_per_image_metrics_match_the_scorer(truths: list[tuple[Path, np.ndarray]]) -> None:
    rng = np.random.default_rng(0)
    compared = 0
    cases = [truth for _, truth in truths]
    empty, full = np.zeros_like(cases[0]), np.ones_like(cases[0])
    cases += [empty, full]  # the conventions for a truth with no lesion / no background
    for truth in cases:
        for name, prediction in perturbations(truth, rng).items():
            ours, theirs = image_metrics(prediction, truth), scorer_metrics(prediction, truth)
            for key, value in theirs.items():
                assert ours[key] == pytest.approx(value, abs=1e-9, rel=0), (name, key)
            compared += 1
    assert compared == 22 * 9


@pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")
def test_macro_average_matches_the_scorer(truths: list[tuple[Path, np.ndarray]]) -> None:
    rng = np.random.default_rng(1)
    pairs, rows, confusions = [], [], []
    for i, (_, truth) in enumerate(truths):
        prediction = list(perturbations(truth, rng).values())[i % 9]
        pairs.append(SimpleNamespace(image_id=f"ISIC_{i:07d}", truth_image=truth * np.uint8(255),
                                     prediction_image=prediction * np.uint8(255)))
        rows.append(image_metrics(prediction, truth))
        confusions.append(confusion(prediction, truth))
    theirs = SegmentationScore(pairs).macro_average
    ours = summarize(rows, confusions)
    names = {"ACC": "accuracy", "SEN": "sensitivity", "SPE": "specificity", "JAC": "jaccard",
             "JAC_th": "threshold_jaccard", "DIC": "dice"}
    for key, name in names.items():
        assert ours[key] == pytest.approx(float(theirs[name]), abs=1e-12), key
