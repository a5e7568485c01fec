"""Is model A better than model B on the same images? The mean per-image difference of a
metric with a 95% interval (Student's t over images), which is far tighter than comparing
two means whose per-image spread is 15-20 points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PairedDifference:
    metric: str
    n: int
    mean: float  # mean of A - B over the shared images, in the CSV's units x scale
    half_width: float  # 95% interval: mean +- half_width
    only_a: int = 0  # images only A scored (left out; only with shared_only)
    only_b: int = 0

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
                      scale: float = 100.0, shared_only: bool = False) -> PairedDifference:
    """A - B per image, over the images :func:`shared_ids` allows."""
    shared = shared_ids(a, b, shared_only)
    diffs = [scale * (a[i] - b[i]) for i in shared]
    mean, sd = _mean_sd(diffs)
    return PairedDifference(metric, len(diffs), mean,
                            t95(len(diffs) - 1) * sd / math.sqrt(len(diffs)),
                            len(a) - len(shared), len(b) - len(shared))


def shared_ids(a: dict[str, float], b: dict[str, float], shared_only: bool = False) -> list[str]:
    """The ids two evaluations are compared on. Evaluations of different image sets are
    refused (a --limit smoke score against a whole set was compared on 3 images, silently)
    unless ``shared_only``, which takes the images both scored; fewer than two shared
    images are refused either way."""
    shared = sorted(set(a) & set(b))
    only_a, only_b = len(a) - len(shared), len(b) - len(shared)
    if (only_a or only_b) and not shared_only:
        raise ValueError(f"the two evaluations scored different images ({only_a} only in the "
                         f"first, {only_b} only in the second, {len(shared)} shared): compare "
                         f"evaluations of the same set, or compare the shared images only "
                         f"(shared_only, --shared-only)")
    if len(shared) < 2:
        raise ValueError(f"the two evaluations share {len(shared)} images; need at least 2")
    return shared


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two values)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def t95(dof: int) -> float:
    """The two-sided 95% quantile of Student's t: with three training seeds an interval
    uses 4.30, not the normal 1.96 (and 2.20, not 1.96, with twelve)."""
    from scipy.stats import t

    if dof < 1:
        raise ValueError("need at least one degree of freedom")
    return float(t.ppf(0.975, dof))


@dataclass(frozen=True)
class OverSeeds:
    """One number per training seed (a run's mean score, or a paired difference between
    two same-seed runs), summarised as mean, sample std and a t interval over the seeds:
    the spread a reader should expect from training the model again."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return _mean_sd(self.values)[0]

    @property
    def std(self) -> float:
        return _mean_sd(self.values)[1]

    @property
    def half_width(self) -> float:
        """95% interval half-width over seeds (NaN with one seed)."""
        if len(self.values) < 2:
            return float("nan")
        return t95(len(self.values) - 1) * self.std / math.sqrt(len(self.values))

    def markdown(self, signed: bool = False) -> str:
        mean = f"{self.mean:+.2f}" if signed else f"{self.mean:.2f}"
        if len(self.values) < 2:
            return f"{mean} (one seed)"
        return f"{mean} ± {self.std:.2f}"


def run_means(evaluations: list[str | Path], metric: str = "JAC", scale: float = 100.0) -> OverSeeds:
    """Each evaluation's mean ``metric`` over its images: one value per training seed."""
    if not evaluations:
        raise ValueError("give at least one evaluation")
    means = []
    for path in evaluations:
        scores = per_image(path, metric)
        if not scores:
            raise ValueError(f"{path} scored no images")
        means.append(scale * sum(scores.values()) / len(scores))
    return OverSeeds(tuple(means))


def seedwise_differences(a_runs: list[str | Path], b_runs: list[str | Path], metric: str = "JAC"
                         ) -> tuple[list[PairedDifference], OverSeeds]:
    """A - B run by run (the i-th run of A against the i-th of B: same seed, same start),
    each over the images both scored, then summarised over the seeds."""
    if len(a_runs) != len(b_runs) or not a_runs:
        raise ValueError(f"need the same number of runs on both sides (got {len(a_runs)} and "
                         f"{len(b_runs)}), paired by seed")
    diffs = [paired_difference(per_image(a, metric), per_image(b, metric), metric)
             for a, b in zip(a_runs, b_runs)]
    return diffs, OverSeeds(tuple(d.mean for d in diffs))


def seen_in(path: str | Path) -> dict[str, str]:
    """Where the evaluated model met each image ("train", "val" or "unseen"), from the
    ``seen_in`` column of an evaluation's ``per_image.csv`` (or its folder)."""
    from mobilegan.evaluation.evaluate import read_per_image
    from mobilegan.evaluation.report import SEEN_GROUPS

    path = Path(path)
    csv_path = path / "per_image.csv" if path.is_dir() else path
    rows = read_per_image(csv_path)
    if rows and "seen_in" not in rows[0]:
        raise ValueError(f"{csv_path} has no seen_in column (written by an older version): "
                         f"evaluate the model again to know which images it trained on")
    return {row["id"]: SEEN_GROUPS.get(row["seen_in"] or "", row["seen_in"]) for row in rows}


@dataclass(frozen=True)
class GroupComparison:
    """A against B within one group of images: both means and the paired difference."""

    group: str
    mean_a: float
    mean_b: float
    difference: PairedDifference


def compare_by_group(a: dict[str, float], b: dict[str, float], group_of: dict[str, str],
                     metric: str = "JAC", scale: float = 100.0,
                     shared_only: bool = False) -> list[GroupComparison]:
    """A - B within each group of ``group_of`` (groups of fewer than two shared images are
    left out), then over all images as the group "all" (evaluations of different image
    sets refused unless ``shared_only``, as :func:`shared_ids` says). Taking a leaky
    score apart this way shows what training on test images bought, and what the extra
    data did for the images no model saw."""
    shared = shared_ids(a, b, shared_only)
    groups: dict[str, list[str]] = {}
    for image_id in shared:
        groups.setdefault(group_of.get(image_id, "unknown"), []).append(image_id)
    order = {"train": 0, "val": 1, "unseen": 2}
    groups = {g: groups[g] for g in sorted(groups, key=lambda g: (order.get(g, 3), g))}
    groups["all"] = shared
    comparisons = []
    for group, ids in groups.items():
        if len(ids) < 2:
            continue
        a_part, b_part = {i: a[i] for i in ids}, {i: b[i] for i in ids}
        comparisons.append(GroupComparison(
            group, scale * sum(a_part.values()) / len(ids), scale * sum(b_part.values()) / len(ids),
            paired_difference(a_part, b_part, metric, scale)))
    return comparisons
