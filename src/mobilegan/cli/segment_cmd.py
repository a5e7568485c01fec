"""``mobilegan segment``: images or folders in, ISIC-named masks, overlays and a CSV out."""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
import time
from pathlib import Path

from mobilegan.data.layouts import IMAGE_FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "segment", help="segment dermoscopy images (files or folders)",
        description=f"Segment images ({IMAGE_FORMATS}; any size and mode). Per image it "
                    "writes <id>_segmentation.png (0/255 at the original resolution, upright "
                    "as the image's EXIF orientation says: --out is then an ISIC submission "
                    "the official scorer takes), overlays/<id>_overlay.png and, with "
                    "--samples > 1, uncertainty/<id>_uncertainty.png (the per-pixel standard "
                    "deviation over the samples, "
                    "magma colours from black 0 to pale yellow 0.5); plus results.csv with one "
                    "row per input, failures included, and segment_run.json with the settings. "
                    "Images with low confidence (or no lesion found, at least three times as "
                    "long as wide, or a second region at least half the lesion's size left out "
                    "by post-processing) are flagged in the CSV: they deserve a human look. Exit "
                    "code 0 if at least one image succeeded.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--recursive", "-r", action="store_true",
                   help="search folders' subfolders too (ids stay file names: a name met twice "
                        "becomes <id>_2; the CSV's source column keeps each file's path)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run's results in --out (its masks, overlays, "
                        "uncertainty maps and table are removed first); without it such a "
                        "folder is refused")
    p.add_argument("--backend", choices=("torch", "onnx", "int8"), default="torch",
                   help="torch (default; the only one that samples uncertainty), onnx "
                        "(onnxruntime float32), int8 (onnxruntime, int8 convolutions: fastest "
                        "on a CPU, masks as good as float32's: v6 JAC -0.05 held-out, -0.07 "
                        "test, both with exposure normalisation)")
    p.add_argument("--weights", default=None,
                   help="a .safetensors (with its .json), or an .onnx file for --backend onnx "
                        "or int8 (an int8 one for int8); default: the shipped weights")
    p.add_argument("--tta", action="store_true", help="average over horizontal/vertical flips")
    p.add_argument("--no-normalize-exposure", action="store_true",
                   help="feed the pixels as they are (default: scale each image to the "
                        "training images' mean brightness first, which helps under-exposed "
                        "cameras)")
    p.add_argument("--samples", type=int, default=1,
                   help="noise samples for an uncertainty map (torch backend); 1 = deterministic")
    p.add_argument("--no-postprocess", action="store_true",
                   help="keep the raw thresholded mask (no largest component / hole filling, "
                        "so no multiple_lesions flag)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="lesion where the probability is above this, in (0, 1); default 0.5")
    p.add_argument("--batch-size", type=int, default=8,
                   help="images in memory at once (fewer when they hold over 32 megapixels "
                        "together: large originals go one or two at a time)")
    p.add_argument("--image-size", type=int, default=None,
                   help="network input size (default: the size the weights were trained at, "
                        "from their metadata; 128 for the shipped weights)")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="refuse images larger than this many pixels as possible decompression "
                        "bombs (default 50,000,000; the largest ISIC originals are about 30 M)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), cuda, cuda:1, or auto (the GPU if there is one)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed the noise samples (default with --samples > 1: a random seed, "
                        "recorded in segment_run.json so the run can be repeated)")
    p.add_argument("--no-overlay", action="store_true", help="skip the overlay images")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilegan.inference.batch import earlier_run, find_inputs, segment_files
    from mobilegan.inference.segmenter import Segmenter

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels must be >= 1, got {args.max_pixels}")
    missing = [raw for raw in args.paths if not Path(raw).exists()]
    if len(missing) == len(args.paths):  # a typo, not a run: nothing to segment, nothing written
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    found = find_inputs(args.paths, args.recursive)  # a missing path becomes an error row
    paths = found.images
    _say_what_was_left(found)
    if not paths:
        raise FileNotFoundError(f"no images found in {' '.join(args.paths)}")
    if Path(args.out).is_dir():
        earlier_run(args.out, args.overwrite)  # refused before the network loads
    if args.seed is None and args.samples > 1:
        args.seed = secrets.randbelow(2**31)  # recorded: the sampled masks can be repeated
    elif args.seed is not None and args.samples <= 1:
        print("note: --seed has no effect with --samples 1: the noise z is off and every "
              "mask is deterministic", file=sys.stderr)
    segmenter = Segmenter(weights=args.weights, backend=args.backend, image_size=args.image_size,
                          tta=args.tta, exposure=not args.no_normalize_exposure,
                          samples=args.samples, postprocess=not args.no_postprocess,
                          threshold=args.threshold, threads=args.threads, device=args.device,
                          seed=args.seed)
    if args.backend == "onnx" and segmenter.backend.name == "int8":
        print(f"note: {args.weights} is an int8 export: it runs as --backend int8 "
              f"(segment_run.json records backend int8)", file=sys.stderr)
    summary = segment_files(segmenter, paths, args.out, batch_size=args.batch_size,
                            progress=not args.quiet, overlays=not args.no_overlay,
                            max_pixels=args.max_pixels, overwrite=args.overwrite,
                            record=run_record(args, segmenter))
    print(f"segmented {summary.succeeded} of {len(paths)} images into {args.out}; "
          f"table: {summary.csv_path}")
    if summary.failed:
        for line in summary.first_errors:
            print(f"  {line}", file=sys.stderr)
        more = summary.failed - len(summary.first_errors)
        print(f"{summary.failed} failed{f' ({more} more not shown)' if more else ''}: "
              f"see the status and error columns of {summary.csv_path}", file=sys.stderr)
    return 0 if summary.succeeded else 1


def _say_what_was_left(found) -> None:  # found: FoundInputs
    """Name what the folders held beside their images, so that nothing is dropped unseen."""
    def names(paths: list[Path]) -> str:
        shown = ", ".join(str(p) for p in paths[:SHOWN])
        return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")

    def count(paths: list[Path], one: str, many: str) -> str:
        return f"{len(paths)} {one if len(paths) == 1 else many}"

    if found.empty:
        print(f"note: no images in {names(found.empty)}", file=sys.stderr)
    if found.left_out:
        print(f"note: left out {count(found.left_out, 'file', 'files')} that are not images "
              f"it reads ({IMAGE_FORMATS}) or are broken links: {names(found.left_out)}",
              file=sys.stderr)
    if found.unsearched:
        print(f"note: {count(found.unsearched, 'subfolder', 'subfolders')} not searched "
              f"(--recursive searches them): {names(found.unsearched)}", file=sys.stderr)
    if found.outside:
        print(f"note: {count(found.outside, 'link', 'links')} to folders outside the folders "
              f"given, not followed: {names(found.outside)}", file=sys.stderr)
    if found.unreadable:
        print(f"note: {count(found.unreadable, 'folder', 'folders')} could not be read "
              f"(permission denied): {names(found.unreadable)}", file=sys.stderr)


#: How many paths a note names before it counts the rest.
SHOWN = 5


def run_record(args: argparse.Namespace, segmenter) -> dict:  # segmenter: Segmenter
    """What produced this folder: enough to repeat the run and to know its weights."""
    from mobilegan import __version__

    weights = segmenter.weights
    return {
        "inputs": list(args.paths), "recursive": args.recursive,
        "version": __version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "weights": str(weights.resolve()),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "backend": segmenter.backend.name, "device": args.device,
        "image_size": segmenter.image_size, "samples": segmenter.samples, "seed": args.seed,
        "tta": segmenter.tta, "normalize_exposure": segmenter.exposure,
        "postprocess": segmenter.postprocess, "threshold": segmenter.threshold,
        "low_confidence_below": segmenter.low_confidence_below,
    }
