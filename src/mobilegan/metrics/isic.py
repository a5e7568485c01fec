"""Segmentation metrics exactly as the ISIC challenges score them.

Per image, at the ground truth's own resolution, then averaged over images (the challenge
"macro average"); empty-mask conventions follow isic-challenge-scoring 5.6.0: SEN is 1 when
the truth has no lesion, SPE is 1 when it has no background, JAC and DIC are 1 when truth and
prediction are both empty. ``pooled_*`` variants sum TP/FP/FN/TN over the whole set first
(what a "global" Jaccard in some papers means); they are labelled so, never mixed up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

#: Jaccard below this scores 0 in the ISIC 2018 ranking metric (thresholded Jaccard).
JACCARD_THRESHOLD = 0.65
METRIC_KEYS = ("ACC", "DIC", "JAC", "JAC_th", "SEN", "SPE")
POOLED_KEYS = ("ACC", "DIC", "JAC", "SEN", "SPE")

Confusion = tuple[int, int, int, int]  # (tp, fp, fn, tn)


def _as_bool(mask: np.ndarray, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    if np.issubdtype(mask.dtype, np.integer) and mask.size and \
            (mask.min() < 0 or mask.max() > 1):
        raise ValueError(f"{name} must be a bool (or 0/1) mask; threshold it first "
                         f"(values {mask.min()}..{mask.max()})")
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"{name} must be a bool mask, not {mask.dtype}; threshold it first")
    return mask.astype(bool)


def confusion(prediction: np.ndarray, truth: np.ndarray) -> Confusion:
    """(tp, fp, fn, tn) pixel counts; both masks must have the same (H, W)."""
    p, t = _as_bool(prediction, "prediction"), _as_bool(truth, "truth")
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} differs from truth shape {t.shape}; "
                         f"score at the truth's resolution (see resize_to)")
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    return tp, fp, fn, int(t.size) - tp - fp - fn


def metrics_from_confusion(tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    """The ISIC formulas and empty-mask conventions, from counts."""
    acc = (tp + tn) / (tp + tn + fp + fn)
    sen = 1.0 if tp + fn == 0 else tp / (tp + fn)
    spe = 1.0 if tn + fp == 0 else tn / (tn + fp)
    jac = 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn)
    dic = 1.0 if tp + fp + fn == 0 else (2 * tp) / ((2 * tp) + fp + fn)
    jac_th = jac if jac >= JACCARD_THRESHOLD else 0.0
    return {"ACC": float(acc), "DIC": float(dic), "JAC": float(jac), "JAC_th": float(jac_th),
            "SEN": float(sen), "SPE": float(spe)}


def image_metrics(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """ACC, DIC, JAC, JAC_th, SEN, SPE of one image (fractions in [0, 1])."""
    return metrics_from_confusion(*confusion(prediction, truth))


def summarize(per_image: Sequence[Mapping[str, float]],
              confusions: Iterable[Confusion] | None = None) -> dict[str, float]:
    """Mean of each per-image metric (the ISIC score), ``n_images``, and, given the
    per-image confusions, ``pooled_*`` metrics from the summed counts."""
    if not per_image:
        raise ValueError("no images to summarise")
    keys = list(per_image[0])
    for i, row in enumerate(per_image):
        if set(row) != set(keys):
            raise ValueError(f"image {i} has metrics {sorted(row)}, expected {sorted(keys)}")
    result: dict[str, float] = {k: float(np.mean([row[k] for row in per_image])) for k in keys}
    result["n_images"] = len(per_image)
    if confusions is not None:
        counts = [tuple(int(v) for v in c) for c in confusions]
        if len(counts) != len(per_image):
            raise ValueError(f"{len(counts)} confusions for {len(per_image)} images")
        tp, fp, fn, tn = (sum(c[i] for c in counts) for i in range(4))
        pooled = metrics_from_confusion(tp, fp, fn, tn)
        result.update({f"pooled_{k}": pooled[k] for k in POOLED_KEYS})
    return result


def resize_to(prediction: np.ndarray, shape: tuple[int, int], method: str = "nearest",
              threshold: float = 0.5) -> np.ndarray:
    """A prediction made at network size, back at the truth's (H, W), as bool.

    ``prediction`` is a bool mask or a probability map in [0, 1]. "nearest" thresholds first
    (``> threshold``) and copies pixels; "bilinear" interpolates the values, then thresholds,
    which gives smoother edges when upsampling.
    """
    height, width = int(shape[0]), int(shape[1])
    values = np.asarray(prediction)
    if values.ndim != 2:
        raise ValueError(f"prediction must be (H, W), not {values.shape}")
    if method not in ("nearest", "bilinear"):
        raise ValueError(f"method must be 'nearest' or 'bilinear', not {method!r}")
    values = values.astype(np.float32)
    if values.shape == (height, width):
        return values > threshold
    if method == "nearest":
        binary = Image.fromarray(((values > threshold) * 255).astype(np.uint8))
        return np.asarray(binary.resize((width, height), Image.Resampling.NEAREST)) > 127
    return resize_probability(values, (height, width)) > threshold


def resize_probability(probability: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A probability map (H, W) resized bilinearly to ``shape`` (H, W), float32, unthresholded:
    what :func:`resize_to` thresholds, for scoring one map at many thresholds."""
    values = np.asarray(probability, dtype=np.float32)
    height, width = int(shape[0]), int(shape[1])
    if values.shape == (height, width):
        return values
    return np.asarray(Image.fromarray(values).resize((width, height), Image.Resampling.BILINEAR))
