"""Paired per-image differences between two evaluations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mobilegan.evaluation.compare import (OverSeeds, compare_by_group, paired_difference,
                                          per_image, run_means, seedwise_differences, seen_in,
                                          t95)
from mobilegan.evaluation.evaluate import write_per_image
from mobilegan.metrics.isic import METRIC_KEYS
from tests.test_benchmarks import _run as run_benchmark


def _write(path: Path, rows: dict[str, float], seen: dict[str, str] | None = None) -> Path:
    """A per_image.csv as ``mobilegan evaluate`` writes it, every metric set to the value."""
    seen = seen or {}
    return write_per_image([{"id": k, **dict.fromkeys(METRIC_KEYS, v), "width": 4, "height": 3,
                             "seen_in": seen.get(k, "")} for k, v in rows.items()], path)


def test_difference_and_interval_over_shared_images(tmp_path: Path) -> None:
    a = per_image(_write(tmp_path / "a.csv", {"x": 0.9, "y": 0.8, "z": 0.7, "only_a": 0.1}), "JAC")
    b = per_image(_write(tmp_path / "b.csv", {"x": 0.8, "y": 0.8, "z": 0.4}), "JAC")
    # different image sets are refused unless asked for (a --limit smoke score against a
    # whole set was compared on its few images, silently)
    with pytest.raises(ValueError, match="1 only in the first, 0 only in the second, 3 shared"):
        paired_difference(a, b)
    diff = paired_difference(a, b, shared_only=True)
    assert (diff.n, diff.only_a, diff.only_b) == (3, 1, 0)
    assert diff.mean == pytest.approx(100 * (0.1 + 0.0 + 0.3) / 3)
    deltas = [10.0, 0.0, 30.0]
    sd = math.sqrt(sum((d - diff.mean) ** 2 for d in deltas) / 2)
    assert diff.half_width == pytest.approx(4.303 * sd / math.sqrt(3), rel=1e-3)  # t, 2 dof
    assert diff.markdown().startswith("+13.33 +- ")
    assert paired_difference(b, a, shared_only=True).mean == pytest.approx(-diff.mean)
    with pytest.raises(ValueError, match="scored different images"):
        compare_by_group(a, b, {})


def test_refuses_disjoint_evaluations_and_unknown_metric(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.csv", {"x": 0.9})
    b = _write(tmp_path / "b.csv", {"y": 0.9})
    with pytest.raises(ValueError, match="share 0 images"):
        paired_difference(per_image(a, "JAC"), per_image(b, "JAC"), shared_only=True)
    with pytest.raises(KeyError, match="HD95"):
        per_image(a, "HD95")


def test_over_seeds_uses_student_t_not_the_normal_quantile() -> None:
    over = OverSeeds((1.0, 2.0, 3.0))
    assert over.mean == 2.0 and over.std == pytest.approx(1.0)
    assert over.half_width == pytest.approx(4.303 / math.sqrt(3), rel=1e-4)  # t, 2 dof, not 1.96
    assert over.markdown() == "2.00 ± 1.00" and over.markdown(signed=True) == "+2.00 ± 1.00"
    single = OverSeeds((5.0,))
    assert math.isnan(single.std) and single.markdown() == "5.00 (one seed)"
    assert t95(1) == pytest.approx(12.706, abs=1e-3) and t95(11) == pytest.approx(2.201, abs=1e-3)
    assert t95(412) == pytest.approx(1.966, abs=1e-3)  # near the normal's 1.96 with many images
    with pytest.raises(ValueError):
        t95(0)


def test_run_means_and_seedwise_differences_pair_runs_by_position(tmp_path: Path) -> None:
    a1 = _write(tmp_path / "a1.csv", {"x": 0.9, "y": 0.7})
    a2 = _write(tmp_path / "a2.csv", {"x": 0.8, "y": 0.8})
    b1 = _write(tmp_path / "b1.csv", {"x": 0.6, "y": 0.7})
    b2 = _write(tmp_path / "b2.csv", {"x": 0.8, "y": 0.6})
    means = run_means([a1, a2])
    assert means.values == pytest.approx((80.0, 80.0))
    diffs, over = seedwise_differences([a1, a2], [b1, b2])
    assert [d.mean for d in diffs] == pytest.approx([15.0, 10.0])  # a1-b1 and a2-b2, never a1-b2
    assert over.mean == pytest.approx(12.5)
    with pytest.raises(ValueError, match="same number of runs"):
        seedwise_differences([a1, a2], [b1])


def test_seed_comparison_benchmark_prints_both_tables(tmp_path: Path) -> None:
    for arm, shift in (("good", 0.1), ("bad", 0.0)):
        for seed, base in (("s1", 0.6), ("s2", 0.7), ("s3", 0.65)):
            (tmp_path / f"{arm}_{seed}" / "test").mkdir(parents=True)
            _write(tmp_path / f"{arm}_{seed}" / "test" / "per_image.csv",
                   {"x": base + shift, "y": base + shift / 2})
    out = run_benchmark(
        "seed_comparison.py", "--set", "test", "--seeds", "1", "11", "21",
        "--arm", "good", *(str(tmp_path / f"good_{s}") for s in ("s1", "s2", "s3")),
        "--arm", "bad", *(str(tmp_path / f"bad_{s}") for s in ("s1", "s2", "s3")), cwd=tmp_path)
    assert "| good | 67.50 | 77.50 | 72.50 | 72.50 ± 5.00 |" in out
    assert "| bad | 60.00 | 70.00 | 65.00 | 65.00 ± 5.00 |" in out
    row = next(line for line in out.splitlines() if line.startswith("| bad | +"))
    assert "+7.50 ± 0.00" in row and "+7.50 to +7.50" in row


def test_a_leaky_score_is_compared_group_by_group(tmp_path: Path) -> None:
    scores = {"t1": 0.9, "t2": 0.7, "v1": 0.6, "u1": 0.5, "u2": 0.3, "u3": 0.4}
    leaky = _write(tmp_path / "leaky.csv", scores,
                   {"t1": "train", "t2": "train", "v1": "val"})
    clean = _write(tmp_path / "clean.csv", {k: v - (0.2 if k.startswith("t") else 0.05)
                                            for k, v in scores.items()})
    groups = seen_in(leaky)
    assert groups == {"t1": "train", "t2": "train", "v1": "val", "u1": "unseen", "u2": "unseen",
                      "u3": "unseen"}

    rows = compare_by_group(per_image(leaky, "JAC"), per_image(clean, "JAC"), groups)

    # "val" has one image: no interval, so it is left out; "all" comes last.
    assert [r.group for r in rows] == ["train", "unseen", "all"]
    by = {r.group: r for r in rows}
    assert by["train"].difference.n == 2 and by["train"].difference.mean == pytest.approx(20.0)
    assert by["train"].mean_a == pytest.approx(80.0) and by["train"].mean_b == pytest.approx(60.0)
    assert by["unseen"].difference.mean == pytest.approx(5.0)
    assert by["all"].difference.n == 6
    assert by["all"].difference.mean == pytest.approx((2 * 20 + 4 * 5) / 6)


def test_leak_breakdown_benchmark_prints_each_group(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    clean = tmp_path / "clean"
    leaky.mkdir(), clean.mkdir()
    _write(leaky / "per_image.csv", {"a": 0.9, "b": 0.8, "c": 0.5, "d": 0.4},
           {"a": "train", "b": "train"})
    _write(clean / "per_image.csv", {"a": 0.6, "b": 0.5, "c": 0.5, "d": 0.4})

    out = run_benchmark("leak_breakdown.py", str(leaky), str(clean), "--metrics", "JAC",
                        cwd=tmp_path)

    assert "| in the leaky run's training set | 2 | JAC | 85.00 | 55.00 | +30.00 +- 0.00 |" in out
    assert "| seen by neither run | 2 | JAC | 45.00 | 45.00 | +0.00 +- 0.00 |" in out
    assert "| all test images | 4 | JAC |" in out


def test_a_csv_without_seen_in_is_refused_by_name(tmp_path: Path) -> None:
    """Without the column nothing says which images were trained on: an error that says
    so, not a KeyError."""
    path = _write(tmp_path / "per_image.csv", {"a": 0.9, "b": 0.7})
    lines = path.read_text().splitlines()
    column = lines[0].split(",").index("seen_in")
    path.write_text("\n".join(",".join(cell for i, cell in enumerate(line.split(","))
                                       if i != column) for line in lines) + "\n")
    with pytest.raises(ValueError, match="no seen_in column"):
        seen_in(tmp_path)
