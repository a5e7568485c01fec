"""What a data folder holds, in one read: counts per split, resolutions, lesion sizes and
every problem found, as text for people and as a dict for JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mobilegan.data.io import DEFAULT_MAX_PIXELS
from mobilegan.data.layouts import discover, every_split, folder_pairs, missing_split
from mobilegan.data.validate import Problem, iter_checked, orphan_masks

#: Histogram bins of lesion area, in percent of the image.
AREA_BINS = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


@dataclass
class SplitSummary:
    name: str
    images: int = 0
    with_mask: int = 0
    usable: int = 0
    resolutions: Counter[str] = field(default_factory=Counter)  # "WxH" -> count
    lesion_area: list[float] = field(default_factory=list)  # percent of image, per usable pair
    problems: list[Problem] = field(default_factory=list)

    def area_stats(self) -> dict[str, float] | None:
        if not self.lesion_area:
            return None
        area = np.asarray(self.lesion_area)
        return {"min": float(area.min()), "median": float(np.median(area)),
                "mean": float(area.mean()), "max": float(area.max())}

    def area_histogram(self) -> list[int]:
        counts, _ = np.histogram(self.lesion_area, bins=AREA_BINS)
        return [int(c) for c in counts]


@dataclass
class DataSummary:
    root: Path
    splits: dict[str, SplitSummary]
    problems: list[Problem]  # not tied to one split (orphan masks)

    def all_problems(self) -> list[Problem]:
        return [p for s in self.splits.values() for p in s.problems] + self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "splits": {name: {
                "images": s.images, "with_mask": s.with_mask, "usable": s.usable,
                "resolutions": dict(s.resolutions.most_common()),
                "lesion_area_percent": s.area_stats(),
                "lesion_area_histogram": {"bins_percent": list(AREA_BINS),
                                          "counts": s.area_histogram()},
            } for name, s in self.splits.items()},
            "problems": [{"id": p.id, "path": str(p.path) if p.path else None, "kind": p.kind,
                          "fatal": p.fatal, "message": p.message} for p in self.all_problems()],
        }


def summarize_folder(root: str | Path, split: str | None = None,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS,
                     progress: bool | None = False) -> DataSummary:
    """Read every pair under ``root`` (or one split of it) once and summarise it."""
    root = Path(root)
    found = discover(root)
    every = every_split(found, split)
    if not every:
        if split not in found:
            raise missing_split(root, split, found)
        found = {split: found[split]}
    splits = {}
    for name, samples in found.items():
        summary = SplitSummary(name, images=len(samples),
                               with_mask=sum(s.mask is not None for s in samples))
        for checked in iter_checked(samples, max_pixels, require_masks=summary.with_mask > 0,
                                    progress=progress, desc=f"reading {name}"):
            summary.problems.extend(checked.problems)
            if checked.image is not None:
                h, w = checked.image.shape[:2]
                summary.resolutions[f"{w}x{h}"] += 1
            if checked.ok:
                summary.usable += 1
                if checked.mask is not None:
                    summary.lesion_area.append(100.0 * float(checked.mask.mean()))
        if not summary.images:
            summary.problems.append(Problem("", root, "empty_set",
                                            f"split {name!r} holds no images (empty folder)"))
        elif not summary.with_mask:  # nothing to train or score on
            summary.problems.append(no_masks_problem(root, name, summary.images))
        splits[name] = summary
    return DataSummary(root, splits, orphan_masks(root) if every else [])


def no_masks_problem(root: Path, split: str, images: int) -> Problem:
    """A split whose images all lack masks: a named mask folder missing, or masks named
    in a way the layouts do not read. Says where masks were looked for."""
    places = sorted({str(masks) for name, images_dir, masks in folder_pairs(root)
                     if name == split and masks is not None})
    return Problem("", root, "no_masks",
                   f"none of the {images} images of split {split!r} has a mask (looked in "
                   f"{', '.join(places) or root} for <id>_segmentation.png beside the "
                   f"images, or <id>.png / <id>_segmentation / <id>_mask / <id>_lesion in a "
                   f"masks folder)")


def _bar(count: int, biggest: int, width: int = 40) -> str:
    return "#" * (round(width * count / biggest) if biggest else 0)


def format_summary(summary: DataSummary, max_problems: int = 50) -> str:
    """A readable report; problems are listed one per file (up to ``max_problems``)."""
    lines = [f"data: {summary.root}"]
    for s in summary.splits.values():
        lines.append(f"\n[{s.name}] {s.images} images, {s.with_mask} with masks, "
                     f"{s.usable} usable")
        common = s.resolutions.most_common(5)
        more = len(s.resolutions) - len(common)
        lines.append("  resolutions: " + ", ".join(f"{r} ({n})" for r, n in common)
                     + (f", and {more} others" if more > 0 else ""))
        stats = s.area_stats()
        if stats:
            lines.append(f"  lesion area, % of image: min {stats['min']:.1f}, median "
                         f"{stats['median']:.1f}, max {stats['max']:.1f}")
            counts = s.area_histogram()
            for lo, hi, n in zip(AREA_BINS[:-1], AREA_BINS[1:], counts):
                lines.append(f"    {lo:3d}-{hi:3d}% {n:6d} {_bar(n, max(counts))}")
    problems = summary.all_problems()
    fatal = sum(p.fatal for p in problems)
    lines.append(f"\nproblems: {len(problems)} ({fatal} make a pair unusable)")
    by_kind = Counter(p.kind for p in problems)
    if by_kind:
        lines.append("  " + ", ".join(f"{k}: {n}" for k, n in sorted(by_kind.items())))
    for p in problems[:max_problems]:
        lines.append(f"  [{p.kind}] {p}")
    if len(problems) > max_problems:
        lines.append(f"  ... and {len(problems) - max_problems} more (--json lists all)")
    return "\n".join(lines)
