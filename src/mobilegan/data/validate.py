"""Check every (image, mask) pair and report each problem per file, never silently.

A *fatal* problem (unreadable file, missing mask, size mismatch...) means the pair cannot be
used; the others (grey mask pixels, an empty mask) are warnings: the pair still loads, with
the mask binarised exactly as the ISIC scorer does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mobilegan.data.io import (DEFAULT_MAX_PIXELS, MASK_THRESHOLD, ImageReadError, binarize,
                               read_image, read_mask_levels)
from mobilegan.data.layouts import Sample, folder_pairs, mask_id, unpaired_masks

#: Problem kinds that leave a pair unusable.
FATAL_KINDS = frozenset({"missing", "unreadable", "truncated", "too_large", "unsupported_mode",
                         "missing_mask", "mask_unreadable", "size_mismatch", "duplicate_id",
                         "empty_set", "no_masks"})
#: Problem kinds that are reported but do not stop a pair from loading.
WARNING_KINDS = frozenset({"grey_mask", "empty_mask", "orphan_mask"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file. ``str(problem)`` names the file."""

    id: str
    path: Path | None
    kind: str
    message: str

    @property
    def fatal(self) -> bool:
        return self.kind in FATAL_KINDS

    def __str__(self) -> str:
        where = f"{self.path}" if self.path is not None else self.id
        return f"{where}: {self.message}"


@dataclass
class CheckedPair:
    """What reading one pair gave: the arrays (None when unusable) and the problems."""

    sample: Sample
    image: np.ndarray | None = None  # (H, W, 3) uint8
    mask: np.ndarray | None = None  # (H, W) bool
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)


def _image_problem(sample: Sample, error: ImageReadError) -> Problem:
    return Problem(sample.id, Path(error.path), error.kind, error.reason)


def _mask_problem(sample: Sample, error: ImageReadError) -> Problem:
    return Problem(sample.id, Path(error.path), "mask_unreadable",
                   f"cannot use mask ({error.kind}): {error.reason}")


def check_pair(sample: Sample, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               require_mask: bool = True) -> CheckedPair:
    """Read one pair with the safe readers and list everything wrong with it."""
    result = CheckedPair(sample)
    try:
        result.image = read_image(sample.image, max_pixels)
    except ImageReadError as error:
        result.problems.append(_image_problem(sample, error))
    if sample.mask is None:
        if require_mask:
            result.problems.append(Problem(sample.id, sample.image, "missing_mask",
                                           "no ground-truth mask found for this image"))
        return result
    try:
        levels = read_mask_levels(sample.mask, max_pixels)
    except ImageReadError as error:
        result.problems.append(_mask_problem(sample, error))
        return result
    result.mask, grey = binarize(levels)
    if grey:
        result.problems.append(Problem(
            sample.id, sample.mask, "grey_mask",
            f"mask is not binary: {grey:,} of {levels.size:,} pixels are neither 0 nor 255 "
            f"(binarised at > {MASK_THRESHOLD}, as the ISIC scorer does)"))
    if not result.mask.any():
        hint = (f" (its levels run up to {int(levels.max())}; the lesion is read as "
                f"> {MASK_THRESHOLD})" if levels.any() else "")
        result.problems.append(Problem(sample.id, sample.mask, "empty_mask",
                                       f"mask has no lesion pixels{hint}"))
    if result.image is not None and result.image.shape[:2] != levels.shape:
        (ih, iw), (mh, mw) = result.image.shape[:2], levels.shape
        result.problems.append(Problem(sample.id, sample.mask, "size_mismatch",
                                       f"mask is {mw}x{mh} but its image {sample.image.name} "
                                       f"is {iw}x{ih}"))
    return result


def iter_checked(samples: Sequence[Sample], max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 require_masks: bool = True, progress: bool | None = False,
                 desc: str = "checking") -> Iterator[CheckedPair]:
    """Check pairs one by one (with a progress bar); a repeated id is flagged, not re-read."""
    seen: dict[str, Path] = {}
    for sample in tqdm(samples, desc=desc, unit="img", disable=_disable(progress), leave=False):
        if sample.id in seen:
            yield CheckedPair(sample, problems=[Problem(
                sample.id, sample.image, "duplicate_id",
                f"id {sample.id} is also used by {seen[sample.id]}")])
            continue
        seen[sample.id] = sample.image
        yield check_pair(sample, max_pixels, require_masks)


def _disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None means "only on a terminal"."""
    return None if progress is None else not progress


def validate_samples(samples: Sequence[Sample], max_pixels: int | None = DEFAULT_MAX_PIXELS,
                     require_masks: bool = True, progress: bool | None = False) -> list[Problem]:
    """Every problem in a set of pairs, in sample order; an empty set is itself a problem."""
    if not samples:
        return [Problem("", None, "empty_set", "no images to check (empty folder?)")]
    return [p for checked in iter_checked(samples, max_pixels, require_masks, progress)
            for p in checked.problems]


def orphan_masks(root: str | Path) -> list[Problem]:
    """Masks under ``root`` that no image uses (otherwise they would be ignored silently)."""
    return [Problem(mask_id(m), m, "orphan_mask", "mask has no matching image")
            for _split, images, masks in folder_pairs(root)
            for m in unpaired_masks(images, masks)]
