"""``mobilegan evaluate`` and ``mobilegan report``: score a run, then gather the tables."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "evaluate", help="score a trained run on a labelled folder (ISIC metrics)",
        description="Predict every image, resize each probability map to its ground truth's "
                    "resolution, threshold and score per image as the ISIC challenges do. "
                    "Writes per_image.csv, summary.json and summary.md; never trains or "
                    "selects. Images the run trained on put a LEAK label on every output.")
    evaluate.add_argument("run", metavar="RUN_OR_WEIGHTS",
                          help="run folder (uses best.safetensors and splits.json) or a "
                               ".safetensors file")
    evaluate.add_argument("dataset", metavar="DATASET_DIR", help="labelled folder (ISIC layout "
                          "or images/ + masks/)")
    evaluate.add_argument("--split", default="test",
                          help="split of DATASET_DIR: test (default), val, train, all, or "
                               "heldout (the run's own validation ids; ids missing from "
                               "DATASET_DIR are listed and the score is marked partial)")
    evaluate.add_argument("--out", help="output folder (default RUN/eval/<dataset>_<split>; "
                          "for the shipped weights ./eval/...)")
    evaluate.add_argument("--image-size", type=int, default=None,
                          help="network input size (default: the size the run trained at)")
    evaluate.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    evaluate.add_argument("--threshold", type=float, default=0.5,
                          help="probability threshold (default 0.5)")
    evaluate.add_argument("--tta", action="store_true", help="average over flips")
    evaluate.add_argument("--postprocess", action="store_true",
                          help="score the masks `mobilegan segment` writes: largest component, "
                               "holes filled (default: the raw thresholded map)")
    evaluate.add_argument("--normalize-exposure", action="store_true",
                          help="scale each image to the training images' mean brightness first, "
                               "as `mobilegan segment` does by default")
    evaluate.add_argument("--limit", type=int, default=None,
                          help="score only the first N images (smoke tests; labelled)")
    evaluate.add_argument("--figures", action="store_true",
                          help="also draw best/median/worst cases, JAC histogram, curves")
    evaluate.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1")
    evaluate.add_argument("--name", help="experiment name in the report (default: run folder "
                                         "name without its seed suffix)")
    evaluate.add_argument("--perturb", metavar="NAME", default=None,
                          help="change every image first (robustness check): low_res, jpeg, "
                               "blur, noise, warm, cool, dark, low_contrast, vignette, "
                               "hair; the ground truth is unchanged")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.set_defaults(func=run_evaluate)

    report = subparsers.add_parser(
        "report", help="gather evaluations into RESULTS.md (Tables 1 and 2, leak-free)",
        description="Collect summary.json files (from evaluation folders, run folders or the "
                    "files) into Markdown tables: paper protocol (leaky), leak-free protocol, "
                    "ISIC 2018 held-out JAC_th, models side by side, and quoted literature.")
    report.add_argument("runs", metavar="RUNS", nargs="+",
                        help="run folders, evaluation folders or summary.json files")
    report.add_argument("--out", default="RESULTS.md", help="Markdown file (default RESULTS.md)")
    report.add_argument("--preface", type=Path, default=None,
                        help="Markdown file placed under the title (state, commands)")
    report.set_defaults(func=run_report)


def command_line(args: argparse.Namespace) -> str:
    """The exact command that reproduces this evaluation (stored in summary.json)."""
    from mobilegan.evaluation.evaluate import equivalent_command

    return equivalent_command(
        args.run, args.dataset, split=args.split, out_dir=args.out, image_size=args.image_size,
        batch_size=args.batch_size, threshold=args.threshold, tta=args.tta, limit=args.limit,
        device=args.device, figures=args.figures, name=args.name, perturb=args.perturb,
        postprocess=args.postprocess, exposure=args.normalize_exposure)


def run_evaluate(args: argparse.Namespace) -> int:
    from mobilegan.evaluation.evaluate import evaluate
    from mobilegan.evaluation.report import partial_note, skipped_text

    result = evaluate(args.run, args.dataset, split=args.split, out_dir=args.out,
                      image_size=args.image_size, batch_size=args.batch_size,
                      threshold=args.threshold, tta=args.tta, limit=args.limit,
                      device=args.device, figures=args.figures,
                      progress=not args.no_progress, command=command_line(args), name=args.name,
                      perturb=args.perturb, postprocess=args.postprocess,
                      exposure=args.normalize_exposure)
    s = result.summary
    mean = s["mean"]
    if s["leak_label"]:
        print(s["leak_label"])
    partial = partial_note(s)
    if partial:
        print(partial)
    print(f"{s['n']} images scored ({skipped_text(s['skipped'])}): JAC {100 * mean['JAC']:.2f}, "
          f"DIC {100 * mean['DIC']:.2f}, ACC {100 * mean['ACC']:.2f}, "
          f"JAC_th {100 * mean['JAC_th']:.2f} (%)")
    if s.get("by_seen_in"):
        from mobilegan.evaluation.report import SEEN_LABELS

        print("  JAC by where the model met the image: " + ", ".join(
            f"{SEEN_LABELS.get(group, group)} {100 * g['mean']['JAC']:.2f} ({g['n']})"
            for group, g in s["by_seen_in"].items()))
    from mobilegan.evaluation.report import MISSING_HELDOUT

    missing = [entry["id"] for entry in s["skipped"] if entry.get("kind") == MISSING_HELDOUT]
    for entry in s["skipped"]:
        if entry.get("kind") != MISSING_HELDOUT:
            print(f"  skipped {entry['path'] or entry['id']}: {entry['reason']}")
    if missing:  # one line, not hundreds: summary.md lists them all
        print(f"  held-out ids not in the folder ({len(missing)}): {', '.join(missing[:5])}"
              f"{', ...' if len(missing) > 5 else ''}")
    print(f"wrote {result.out_dir}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from mobilegan.evaluation.report import write_report

    preface = args.preface.read_text() if args.preface else ""
    path = write_report(args.runs, args.out, preface)
    print(f"wrote {path}")
    return 0
