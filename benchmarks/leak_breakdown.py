"""Take a leaky test score apart: a model trained on the paper's protocol against its
leak-free twin, image by image, within each group of test images the leaky model saw in
training, in validation, or never (a Markdown table).

    python benchmarks/leak_breakdown.py results/leak-effect/paper/eval_test \
        results/leak-effect/leak-free/eval_test --names "paper protocol" leak-free

The groups come from the first evaluation's ``seen_in`` column (``mobilegan evaluate``
fills it from the run's splits.json). On the images it trained on, the leaky model's lead
is what the leak buys; on the images neither model saw, any lead is what more training
data does; the gap between the two is the part of a paper-protocol score that is not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobilegan.evaluation.compare import compare_by_group, per_image, seen_in

LABELS = {"train": "in the leaky run's training set", "val": "in its validation set",
          "unseen": "seen by neither run", "all": "all test images"}


def table(leaky: Path, clean: Path, names: tuple[str, str], metrics: list[str]) -> str:
    groups = seen_in(leaky)
    lines = [f"| test images | n | metric | {names[0]} | {names[1]} | "
             f"difference (points, 95% CI) |", "| --- | ---: | --- | ---: | ---: | ---: |"]
    for metric in metrics:
        for row in compare_by_group(per_image(leaky, metric), per_image(clean, metric), groups,
                                    metric):
            lines.append(f"| {LABELS.get(row.group, row.group)} | {row.difference.n} | {metric} "
                         f"| {row.mean_a:.2f} | {row.mean_b:.2f} | {row.difference.markdown()} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("leaky", type=Path, help="evaluation of the paper-protocol run")
    parser.add_argument("clean", type=Path, help="evaluation of its leak-free twin")
    parser.add_argument("--names", nargs=2, default=("paper protocol", "leak-free"))
    parser.add_argument("--metrics", nargs="*", default=["JAC", "DIC"])
    args = parser.parse_args()
    print(table(args.leaky, args.clean, tuple(args.names), args.metrics))


if __name__ == "__main__":
    main()
