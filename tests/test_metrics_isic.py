"""The ISIC metrics on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mobilegan.metrics import (JACCARD_THRESHOLD, METRIC_KEYS, confusion, image_metrics,
                               resize_to, summarize)


def masks(rows_truth: list[str], rows_pred: list[str]) -> tuple[np.ndarray, np.ndarray]:
    def parse(rows: list[str]) -> np.ndarray:
        return np.array([[c == "#" for c in row] for row in rows])

    return parse(rows_pred), parse(rows_truth)


def test_counts_and_values_by_hand() -> None:
    prediction, truth = masks(["##..", "##..", "...."], ["###.", "#...", "...."])
    assert confusion(prediction, truth) == (3, 1, 1, 7)  # tp, fp, fn, tn
    m = image_metrics(prediction, truth)
    assert list(m) == list(METRIC_KEYS)
    assert m["ACC"] == pytest.approx(10 / 12)
    assert m["SEN"] == pytest.approx(3 / 4)
    assert m["SPE"] == pytest.approx(7 / 8)
    assert m["JAC"] == pytest.approx(3 / 5)
    assert m["DIC"] == pytest.approx(6 / 8)
    assert m["JAC_th"] == 0.0  # 0.6 is under the 0.65 threshold


def test_thresholded_jaccard_keeps_065() -> None:
    assert JACCARD_THRESHOLD == 0.65
    truth = np.zeros(100, bool)
    truth[:65] = True
    prediction = np.ones(100, bool)  # JAC = 65 / 100 exactly
    assert image_metrics(prediction, truth)["JAC_th"] == image_metrics(prediction, truth)["JAC"]
    truth[64] = False
    assert image_metrics(prediction, truth)["JAC_th"] == 0.0


def test_empty_mask_conventions_of_the_isic_scorer() -> None:
    empty, full = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    both_empty = image_metrics(empty, empty)
    assert both_empty == {"ACC": 1.0, "DIC": 1.0, "JAC": 1.0, "JAC_th": 1.0, "SEN": 1.0,
                          "SPE": 1.0}
    false_alarm = image_metrics(full, empty)
    assert (false_alarm["SEN"], false_alarm["JAC"], false_alarm["DIC"], false_alarm["SPE"]) == \
        (1.0, 0.0, 0.0, 0.0)
    both_full = image_metrics(full, full)
    assert both_full["SPE"] == 1.0 and both_full["JAC"] == 1.0
    missed = image_metrics(empty, full)
    assert (missed["SEN"], missed["SPE"], missed["JAC"]) == (0.0, 1.0, 0.0)


def test_input_checks() -> None:
    a = np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match="resize_to"):
        confusion(a, np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="threshold"):
        confusion(a.astype(np.float32), a)
    with pytest.raises(ValueError, match="threshold"):
        confusion(np.eye(4, dtype=np.uint8) * 255, a)
    assert confusion(np.eye(4, dtype=np.uint8), np.eye(4, dtype=bool)) == (4, 0, 0, 12)


def test_summarize_means_and_pooled_variants() -> None:
    t1, p1 = np.zeros(10, bool), np.zeros(10, bool)
    t1[:5], p1[:4] = True, True  # JAC 0.8
    t2, p2 = np.zeros(10, bool), np.zeros(10, bool)
    t2[:1], p2[:3] = True, True  # JAC 1/3
    rows = [image_metrics(p1, t1), image_metrics(p2, t2)]
    result = summarize(rows, [confusion(p1, t1), confusion(p2, t2)])
    assert result["n_images"] == 2
    assert result["JAC"] == pytest.approx((0.8 + 1 / 3) / 2)
    assert result["JAC_th"] == pytest.approx(0.8 / 2)
    assert result["pooled_JAC"] == pytest.approx((4 + 1) / (5 + 3))  # summed TP / (TP+FP+FN)
    # image 1: TP 4, FN 1, TN 5; image 2: TP 1, FP 2, TN 7 (FP and FN differ, so a swap shows)
    assert result["pooled_SEN"] == pytest.approx((4 + 1) / (4 + 1 + 1 + 0))
    assert result["pooled_SPE"] == pytest.approx((5 + 7) / (5 + 7 + 0 + 2))
    assert "pooled_JAC_th" not in result
    assert "pooled_JAC" not in summarize(rows)
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError, match="confusions"):
        summarize(rows, [confusion(p1, t1)])


def test_resize_to_nearest_and_bilinear() -> None:
    small = np.array([[True, False], [False, True]])
    big = resize_to(small, (4, 6))
    assert big.dtype == bool and big.shape == (4, 6)
    assert big[:2, :3].all() and not big[:2, 3:].any() and big[2:, 3:].all()
    probability = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)
    smooth = resize_to(probability, (2, 8), method="bilinear")
    assert smooth.shape == (2, 8) and not smooth[:, 0].any() and smooth[:, -1].all()
    assert smooth[0].sum() == 4  # the edge stays in the middle
    # unthresholded, the values between are interpolated (nearest would give only 0 and 1)
    from mobilegan.metrics.isic import resize_probability

    ramp = resize_probability(probability, (2, 8))[0]
    assert np.all(np.diff(ramp) >= 0) and 0.3 < ramp[3] < 0.5 and 0.5 < ramp[4] < 0.7
    assert np.array_equal(resize_to(probability, (2, 2)), probability > 0.5)
    with pytest.raises(ValueError):
        resize_to(small, (4, 4), method="cubic")
    with pytest.raises(ValueError):
        resize_to(np.zeros((2, 2, 1)), (4, 4))


def test_a_probability_of_exactly_the_threshold_is_background() -> None:
    from mobilegan.metrics import resize_to

    half = np.full((2, 2), 0.5, np.float32)
    assert not resize_to(half, (2, 2)).any()
    assert not resize_to(half, (4, 4)).any()
    assert not resize_to(half, (4, 4), method="bilinear").any()


def test_nearest_resizing_copies_pixels_as_pillow_does() -> None:
    """A checkerboard shrunk: pixels copied (Pillow's NEAREST), not averaged into grey."""
    from PIL import Image

    from mobilegan.metrics import resize_to

    checker = np.indices((4, 4)).sum(0) % 2 == 0
    expected = np.asarray(Image.fromarray(checker.astype(np.uint8) * 255).resize(
        (2, 2), Image.Resampling.NEAREST)) > 127
    assert np.array_equal(resize_to(checker, (2, 2)), expected)


def test_negative_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        confusion(np.array([[-1, 0]]), np.array([[1, 0]]))
