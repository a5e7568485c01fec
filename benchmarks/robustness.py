"""How far do scores fall on images that do not look like the ISIC archive?

    python benchmarks/robustness.py MODEL [MODEL ...] --data ../shared/data/isic2017 \
        --split test --out results/robustness [--limit N]

MODEL is a run folder or a .safetensors file (as for ``mobilegan evaluate``). Every model
is scored on the clean images and under each perturbation of
``mobilegan.evaluation.perturb`` (low resolution, JPEG, blur, noise, white balance, exposure,
contrast, a dark round field of view, hair); the ground truth never changes. Each
evaluation is an ordinary ``mobilegan evaluate`` output folder, so ``mobilegan report`` puts
them in RESULTS.md (Table 6). Prints JAC per model and perturbation and the change from
clean, in points.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobilegan.evaluation.evaluate import evaluate
from mobilegan.evaluation.perturb import PERTURBATIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/isic2017"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=Path("runs/robustness"))
    parser.add_argument("--names", nargs="*", default=None,
                        help="experiment names for the models (default: their folder names)")
    parser.add_argument("--perturbations", nargs="*", default=sorted(PERTURBATIONS))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--normalize-exposure", action="store_true",
                        help="every evaluation with exposure normalisation (the report names it)")
    args = parser.parse_args()
    names = args.names or [None] * len(args.models)
    if len(names) != len(args.models):
        parser.error("--names needs one name per model")

    table: dict[str, dict[str, float]] = {}
    for model, name in zip(args.models, names):
        label = name or (model.name if model.is_dir() else model.stem)
        label += " + exposure" if args.normalize_exposure else ""
        scores = table.setdefault(label, {})
        for perturbation in [None, *args.perturbations]:
            folder = args.out / label / f"{args.data.resolve().name}_{args.split}_{perturbation or 'clean'}"
            result = evaluate(model, args.data, split=args.split, out_dir=folder, limit=args.limit,
                              device=args.device, name=name, perturb=perturbation,
                              exposure=args.normalize_exposure, progress=False)
            scores[perturbation or "clean"] = 100 * result.summary["mean"]["JAC"]
            print(f"{label:>24} {perturbation or 'clean':>13}: JAC {scores[perturbation or 'clean']:.2f}",
                  flush=True)

    columns = ["clean", *args.perturbations]
    print()
    print("| model | " + " | ".join(columns) + " | mean change |")
    print("| --- |" + " ---: |" * (len(columns) + 1))
    for label, scores in table.items():
        changes = [scores[c] - scores["clean"] for c in args.perturbations]
        cells = [f"{scores['clean']:.2f}"] + [f"{scores[c]:.2f} ({scores[c] - scores['clean']:+.1f})"
                                              for c in args.perturbations]
        print(f"| {label} | " + " | ".join(cells) + f" | {sum(changes) / len(changes):+.2f} |")


if __name__ == "__main__":
    main()
