"""Paired per-image differences between evaluations of the same images (a Markdown table).

    python benchmarks/paired_difference.py results/v4/isic2017_test \
        results/v3/isic2017_test results/v2/isic2017_test --names v4 v3 v2

Every evaluation after the first is compared with the first: mean of (first - other) per
image with a 95% interval (Student's t), for JAC and DIC. Evaluations of different image
sets are refused; --shared-only compares the images both scored and says how many it left.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobilegan.evaluation.compare import paired_difference, per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("evaluations", nargs="+", type=Path, help="evaluation folders or per_image.csv")
    parser.add_argument("--names", nargs="*", default=None)
    parser.add_argument("--metrics", nargs="*", default=["JAC", "DIC"])
    parser.add_argument("--shared-only", action="store_true",
                        help="compare the images both evaluations scored (refused otherwise)")
    args = parser.parse_args()
    if len(args.evaluations) < 2:
        parser.error("give at least two evaluations")
    names = args.names or [str(p) for p in args.evaluations]
    if len(names) != len(args.evaluations):
        parser.error("--names needs one name per evaluation")
    print(f"| {names[0]} minus | images | " + " | ".join(f"{m} (points, 95% CI)" for m in args.metrics) + " |")
    print("| --- | ---: |" + " ---: |" * len(args.metrics))
    first = {metric: per_image(args.evaluations[0], metric) for metric in args.metrics}
    notes = []
    for name, path in zip(names[1:], args.evaluations[1:]):
        cells, n = [], 0
        for metric in args.metrics:
            try:
                diff = paired_difference(first[metric], per_image(path, metric), metric,
                                         shared_only=args.shared_only)
            except ValueError as error:
                raise SystemExit(f"{name}: {error}") from None
            cells.append(diff.markdown())
            n = diff.n
        if diff.only_a or diff.only_b:
            notes.append(f"{name}: {diff.only_a} images only in {names[0]}, {diff.only_b} only "
                         f"in {name}, left out")
        print(f"| {name} | {n} | " + " | ".join(cells) + " |")
    if notes:
        print("\nCompared on the shared images only (--shared-only): " + "; ".join(notes) + ".")


if __name__ == "__main__":
    main()
