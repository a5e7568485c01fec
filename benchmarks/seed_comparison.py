"""Two training recipes over several seeds: each arm's mean ± std over seeds, and the
seed-by-seed paired difference (a Markdown table).

    python benchmarks/seed_comparison.py --set isic2017_test \
        --arm "without the GAN" results/nogan-stage3 results/nogan-stage3-seed11 \
        --arm "with the GAN" results/v2 results/gan-stage3-seed11

Each ``--arm NAME RUN...`` lists result folders (each holding SET/per_image.csv) in the same
seed order as the other arms: the first arm is compared with each other arm run by run.
The interval over seeds uses Student's t: with three seeds it is wide, and says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobilegan.evaluation.compare import run_means, seedwise_differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", nargs="+", action="append", required=True, metavar="NAME RUN",
                        help="an arm's name, then its result folders, one per seed")
    parser.add_argument("--set", dest="subset", default=None,
                        help="evaluation subfolder of each run (e.g. isic2017_test); none: "
                             "the folders are evaluations themselves")
    parser.add_argument("--metric", default="JAC")
    parser.add_argument("--seeds", nargs="*", default=None, help="seed labels, for the table")
    args = parser.parse_args()
    arms = []
    for arm in args.arm:
        if len(arm) < 2:
            parser.error(f"--arm {arm[0]!r} needs at least one result folder")
        runs = [Path(p) / args.subset if args.subset else Path(p) for p in arm[1:]]
        arms.append((arm[0], runs))
    if len(arms) < 2:
        parser.error("give at least two --arm")
    n_seeds = len(arms[0][1])
    if any(len(runs) != n_seeds for _, runs in arms):
        parser.error("every arm needs the same number of runs (one per seed, same order)")
    seeds = args.seeds or [str(i + 1) for i in range(n_seeds)]
    if len(seeds) != n_seeds:
        parser.error("--seeds needs one label per run")
    m = args.metric
    print("| Arm | " + " | ".join(f"{m}, seed {s}" for s in seeds) + f" | {m} mean ± std over seeds |")
    print("| --- |" + " ---: |" * (n_seeds + 1))
    for name, runs in arms:
        over = run_means(runs, m)
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in over.values) + f" | {over.markdown()} |")
    print()
    first_name, first_runs = arms[0]
    print(f"| {first_name} minus | " + " | ".join(f"seed {s} (95% CI over images)" for s in seeds)
          + " | mean ± std over seeds | 95% CI over seeds (t) |")
    print("| --- |" + " ---: |" * (n_seeds + 2))
    for name, runs in arms[1:]:
        diffs, over = seedwise_differences(first_runs, runs, m)
        interval = (f"{over.mean - over.half_width:+.2f} to {over.mean + over.half_width:+.2f}"
                    if n_seeds > 1 else "—")
        print(f"| {name} | " + " | ".join(d.markdown() for d in diffs)
              + f" | {over.markdown(signed=True)} | {interval} |")


if __name__ == "__main__":
    main()
