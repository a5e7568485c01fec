"""Paired per-image differences between evaluations of the same images (a Markdown table).

    python benchmarks/paired_difference.py results/v4/isic2017_test \
        results/v3/isic2017_test results/v2/isic2017_test --names v4 v3 v2

Every evaluation after the first is compared with the first: mean of (first - other) per
image with a 95% interval, for JAC and DIC.
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
    args = parser.parse_args()
    if len(args.evaluations) < 2:
        parser.error("give at least two evaluations")
    names = args.names or [str(p) for p in args.evaluations]
    if len(names) != len(args.evaluations):
        parser.error("--names needs one name per evaluation")
    print(f"| {names[0]} minus | images | " + " | ".join(f"{m} (points, 95% CI)" for m in args.metrics) + " |")
    print("| --- | ---: |" + " ---: |" * len(args.metrics))
    first = {metric: per_image(args.evaluations[0], metric) for metric in args.metrics}
    for name, path in zip(names[1:], args.evaluations[1:]):
        cells, n = [], 0
        for metric in args.metrics:
            diff = paired_difference(first[metric], per_image(path, metric), metric)
            cells.append(diff.markdown())
            n = diff.n
        print(f"| {name} | {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
