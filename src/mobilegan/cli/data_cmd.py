"""``mobilegan data``: look at a data folder before training on it.

summary  - counts, resolutions, lesion sizes and problems, per split
validate - every problem, one per file; exit 1 if any pair is unusable
overlap  - test images that a training set already holds (same id, or near-identical)
split    - save the train/val split `mobilegan train` makes of a folder, as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mobilegan import paper


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser(
        "data", help="summarise, validate and compare data folders",
        description="Inspect dermoscopy data folders in the official ISIC layouts (2016, 2017, "
                    "2018), a generic images/ + masks/ folder, or a folder of images.")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: _help(data))

    summary = commands.add_parser("summary", help="counts, resolutions, lesion sizes, problems")
    _common(summary)
    summary.add_argument("--max-problems", type=int, default=50,
                         help="problems listed in the text report (default 50)")
    summary.set_defaults(func=run_summary)

    validate = commands.add_parser("validate", help="list every problem; exit 1 if any is fatal")
    _common(validate)
    validate.set_defaults(func=run_validate)

    overlap = commands.add_parser(
        "overlap", help="ids (and near-identical images) shared by a training and a test set")
    overlap.add_argument("train_dir", metavar="TRAIN_DIR", help="the training data folder")
    overlap.add_argument("test_dir", metavar="TEST_DIR", help="the test data folder")
    overlap.add_argument("--train-split", default=None, help="split of TRAIN_DIR (default: all)")
    overlap.add_argument("--test-split", default=None, help="split of TEST_DIR (default: all)")
    overlap.add_argument("--phash", action="store_true",
                         help="also find near-identical images under any id (reads every image)")
    overlap.add_argument("--hash", choices=("phash", "dhash"), default="phash",
                         help="perceptual hash used with --phash (default phash)")
    overlap.add_argument("--max-distance", type=int, default=None,
                         help="largest hash distance of a candidate pair (of 256 bits)")
    overlap.add_argument("--max-difference", type=float, default=None,
                         help="largest mean grey difference (0-255) of a confirmed pair")
    overlap.add_argument("--max-pixels", type=int, default=None,
                         help="refuse images larger than this many pixels (with --phash)")
    overlap.add_argument("--masks", action="store_true",
                         help="also compare the two sets' masks of each shared id (JAC): alike "
                              "masks make the shared ids a label leak")
    overlap.add_argument("--json", action="store_true", help="print JSON instead of text")
    overlap.set_defaults(func=run_overlap)

    split = commands.add_parser(
        "split", help="save the train/val split training makes, as JSON",
        description="Write the train/val ids `mobilegan train` uses for DIR with the same "
                    "settings (data.train_dir=DIR, data.train_split, data.eval_dir, "
                    "data.train_fraction, data.seed): test ids of --eval-dir are left out "
                    "first, as leak-free training does. For your own pipelines; training "
                    "makes the split itself and records it in its splits.json.")
    split.add_argument("dir", metavar="DIR", help="data folder (data.train_dir)")
    split.add_argument("--out", required=True, help="JSON file to write")
    split.add_argument("--split", default="train",
                       help="which split of DIR to divide (data.train_split; default train, "
                            "which a folder without splits answers with all its images; "
                            "'all' pools every split, test included)")
    split.add_argument("--eval-dir", default=None,
                       help="the test set whose ids stay out (data.eval_dir; default none)")
    split.add_argument("--eval-split", default="test",
                       help="split of --eval-dir that is the test set (default test)")
    split.add_argument("--train-fraction", type=float, default=paper.TRAIN_FRACTION,
                       help=f"share of the images that train (default {paper.TRAIN_FRACTION}, "
                            "the paper's split)")
    split.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default 0)")
    split.set_defaults(func=run_split)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="data folder")
    parser.add_argument("--split", default=None, help="only this split (train, val, test, all)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="refuse images larger than this many pixels "
                             "(decompression-bomb guard; default 50,000,000)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _max_pixels(args: argparse.Namespace) -> int:
    from mobilegan.data.io import DEFAULT_MAX_PIXELS

    value = args.max_pixels if args.max_pixels is not None else DEFAULT_MAX_PIXELS
    if value <= 0:
        raise ValueError(f"--max-pixels must be positive, not {value}")
    return value


def _existing(path: str, option: str | None = None) -> Path:
    """``path`` as a folder that exists; the error names ``option`` when one gave it."""
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}" + (f" ({option})" if option else ""))
    return folder


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=1)
    sys.stdout.write("\n")


def run_summary(args: argparse.Namespace) -> int:
    from mobilegan.data.summary import format_summary, summarize_folder

    summary = summarize_folder(_existing(args.dir), args.split, _max_pixels(args), progress=None)
    if args.json:
        _print_json(summary.to_dict())
    else:
        print(format_summary(summary, args.max_problems))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from mobilegan.data.summary import summarize_folder

    summary = summarize_folder(_existing(args.dir), args.split, _max_pixels(args), progress=None)
    problems = summary.all_problems()
    fatal = sum(p.fatal for p in problems)
    if args.json:
        _print_json({"checked": sum(s.images for s in summary.splits.values()),
                     "problems": summary.to_dict()["problems"], "fatal": fatal})
    else:
        for p in problems:
            print(f"[{p.kind}] {p}")
        checked = sum(s.images for s in summary.splits.values())
        # A split with no masks (or no images) is one problem of the split, not of a pair.
        whole = [p for p in problems if p.kind in SPLIT_KINDS]
        pairs = sum(p.fatal for p in problems if p.kind not in SPLIT_KINDS)
        print(f"{checked} images checked: {len(problems)} problems, {pairs} unusable pairs"
              + "".join(f"; {p.message.split(' (')[0]}" for p in whole))
    return 1 if fatal else 0


#: Problems of a whole split (``data validate`` exits 1 for them: nothing there can be
#: trained or scored), counted apart from the unusable pairs.
SPLIT_KINDS = frozenset({"no_masks", "empty_set"})


def _describe(root: Path, split: str | None, count: int) -> dict[str, Any]:
    return {"root": str(root), "split": split, "images": count}


def run_overlap(args: argparse.Namespace) -> int:
    from mobilegan.data.layouts import load_samples
    from mobilegan.data.overlap import (DEFAULT_MAX_DIFFERENCE, DEFAULT_MAX_DISTANCE,
                                        hash_samples, mask_agreement, perceptual_duplicates,
                                        shared_ids)

    train_root, test_root = _existing(args.train_dir), _existing(args.test_dir)
    train = load_samples(train_root, args.train_split, "--train-split ")
    test = load_samples(test_root, args.test_split, "--test-split ")
    shared = shared_ids(train, test)
    report: dict[str, Any] = {
        "train": _describe(train_root, args.train_split, len(train)),
        "test": _describe(test_root, args.test_split, len(test)),
        "n_shared_ids": len(shared), "shared_ids": shared,
    }
    if args.phash:
        max_pixels = _max_pixels(args)
        train_h = hash_samples(train, args.hash, max_pixels, None, "hashing train")
        test_h = hash_samples(test, args.hash, max_pixels, None, "hashing test")
        distance = args.max_distance if args.max_distance is not None \
            else DEFAULT_MAX_DISTANCE[args.hash]
        difference = args.max_difference if args.max_difference is not None \
            else DEFAULT_MAX_DIFFERENCE
        pairs = perceptual_duplicates(train_h, test_h, args.hash, distance, difference)
        report["perceptual"] = {
            "method": args.hash, "max_distance": distance, "max_difference": difference,
            "test_images_with_duplicate": len({p.test_id for p in pairs}),
            "pairs": [{"test_id": p.test_id, "train_id": p.train_id, "distance": p.distance,
                       "difference": p.difference, "same_id": p.same_id,
                       "test_path": str(p.test_path), "train_path": str(p.train_path)}
                      for p in pairs],
            "unreadable": [str(p) for p in train_h.problems + test_h.problems],
            # Copies under other ids that are not test ids themselves: dropping the shared
            # ids (the leak-free protocol) keeps them; data.exclude_train_ids takes them out.
            "copies_kept_by_leak_free": sorted(
                {p.train_id for p in pairs if not p.same_id} - {s.id for s in test}),
        }
    if args.masks:
        report["masks"] = mask_agreement(train, test, _max_pixels(args), None).summary()
    if args.json:
        _print_json(report)
    else:
        print(_format_overlap(report))
    return 0


def _format_overlap(report: dict[str, Any]) -> str:
    train, test = report["train"], report["test"]
    n = report["n_shared_ids"]
    share = f" ({100 * n / test['images']:.1f}% of the test set)" if test["images"] else ""
    lines = [f"train: {train['root']} [{train['split'] or 'all splits'}], {train['images']} images",
             f"test:  {test['root']} [{test['split'] or 'all splits'}], {test['images']} images",
             f"shared ids: {n}{share}"]
    if report["shared_ids"]:
        first = report["shared_ids"][:10]
        lines.append("  " + ", ".join(first) + (", ..." if n > len(first) else ""))
    perceptual = report.get("perceptual")
    if perceptual:
        pairs = perceptual["pairs"]
        other = [p for p in pairs if not p["same_id"]]
        lines.append(f"near-identical images ({perceptual['method']}): "
                     f"{perceptual['test_images_with_duplicate']} test images have one in train; "
                     f"{len(other)} pairs under different ids")
        for p in other[:20]:
            lines.append(f"  {p['test_id']} ~ {p['train_id']} "
                         f"(distance {p['distance']}, difference {p['difference']:.2f})")
        kept = perceptual["copies_kept_by_leak_free"]
        if kept:
            listed = ",".join(f'"{i}"' for i in kept)
            lines.append(f"{len(kept)} of these training images are not test ids, so leak-free "
                         f"training keeps them; to leave them out: "
                         f"--set 'data.exclude_train_ids=[{listed}]'")
        for problem in perceptual["unreadable"]:
            lines.append(f"  unreadable, not hashed: {problem}")
    masks = report.get("masks")
    if masks:
        lines.extend(_format_mask_agreement(masks))
    if n:
        lines.append("warning: a model trained on TRAIN has seen these test images; "
                     "scores on them are not held-out scores")
    return "\n".join(lines)


def _format_mask_agreement(masks: dict[str, Any]) -> list[str]:
    if not masks["n"]:
        return ["masks of the shared ids: none to compare (no id has a mask in both sets)"]
    worst = ", ".join(f"{w['id']} ({w['jac']:.3f})" for w in masks["worst"][:5])
    lines = [f"masks of the shared ids: {masks['n']} compared, JAC of train's mask against "
             f"test's: mean {masks['mean_jac']:.4f}, median {masks['median_jac']:.4f}; "
             f"{masks['n_below']} below {masks['below']}",
             f"  least alike: {worst}"]
    lines += [f"  unreadable, not compared: {problem}" for problem in masks["unreadable"]]
    return lines


def run_split(args: argparse.Namespace) -> int:
    from mobilegan.config import RunConfig
    from mobilegan.data.splits import ids_sha256, save_split
    from mobilegan.training.data_setup import plan_splits

    root = _existing(args.dir)
    if args.eval_dir is not None:
        _existing(args.eval_dir, "--eval-dir")
    cfg = RunConfig()  # the run's own rule, so the ids are the ones training would use
    d = cfg.data
    d.train_dir, d.train_split = str(root), args.split
    d.eval_dir, d.eval_split = args.eval_dir, args.eval_split
    d.train_fraction, d.seed = args.train_fraction, args.seed
    if not 0 < args.train_fraction < 1:
        raise ValueError(f"--train-fraction must be in (0, 1), got {args.train_fraction}")
    train_samples, val_samples, info = plan_splits(cfg)
    unlabelled = [s.id for s in [*train_samples, *val_samples] if s.mask is None]
    if unlabelled:  # they would sit in a split and be skipped by training: say so now
        print(f"warning: {len(unlabelled)} image(s) have no mask and are split all the same "
              f"(training skips them), e.g. {', '.join(unlabelled[:3])}; "
              f"`mobilegan data validate {root}` checks every pair", file=sys.stderr)
    for _id, reason in info["duplicates"]:
        print(f"warning: skipped {reason}", file=sys.stderr)
    train, val = [s.id for s in train_samples], [s.id for s in val_samples]
    path = save_split(args.out, train, val, seed=args.seed, train_fraction=args.train_fraction,
                      source=f"{root} [{args.split}]", protocol=info["protocol"],
                      eval_dir=args.eval_dir, eval_ids_excluded=info["eval_ids_excluded"])
    left_out = (f"; {info['eval_ids_excluded']} ids of {args.eval_dir} [{args.eval_split}] "
                f"left out first" if args.eval_dir else "; no test set named (--eval-dir)")
    print(f"wrote {path}: {len(train)} train, {len(val)} val of {root} [{args.split}]{left_out} "
          f"(train sha256 {ids_sha256(train)[:12]}, val sha256 {ids_sha256(val)[:12]})")
    return 0
