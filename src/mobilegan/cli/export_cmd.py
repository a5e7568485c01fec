"""``mobilegan export``: saved weights to an ONNX file that runs on onnxruntime alone."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mobilegan import paper

#: Images beside the calibration set that ``--check`` compares int8 and float32 masks on.
CHECK_IMAGES = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export weights to ONNX (dynamic batch and size, noise z off)",
        description="Export a .safetensors network (with its .json config beside it) to ONNX. "
                    "The graph takes 'image' (B, 3, H, W) float32 in [-1, 1], H and W "
                    "multiples of 8 (of 16 for the U-Net), and returns 'logits' (B, 1, H, W). Without WEIGHTS the "
                    "shipped weights are exported.")
    p.add_argument("weights", nargs="?", default=None, metavar="WEIGHTS",
                   help="a .safetensors file (default: the shipped weights)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="file format (onnx)")
    p.add_argument("--out", default=None,
                   help="output file (default: WEIGHTS' name with .onnx, in the current folder)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset, 14 to 22 (default 18)")
    p.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), default="auto",
                   help="auto: the fast torchscript exporter, dynamo if it fails")
    p.add_argument("--check", action="store_true",
                   help="compare onnxruntime with PyTorch at 1x128x128 and 2x192x256; with "
                        "--quantize int8, the int8 masks with float32's on other training "
                        "images (a file that fails is renamed NAME.check-failed.onnx)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |difference| of logits with --check (default 1e-4)")
    q = p.add_argument_group(
        "int8 (phone-class CPUs)",
        "Static int8 quantisation of the convolutions (QDQ, per-channel weights; attention "
        "stays float32), calibrated on training images. Never calibrate on test images: "
        "the run's training ids are used when its splits.json is known.")
    q.add_argument("--quantize", choices=("int8",), default=None,
                   help="write an int8 file (default name WEIGHTS_int8.onnx)")
    q.add_argument("--calibration", metavar="DIR", default=None,
                   help="image folder (any layout the data layer reads) to calibrate on")
    q.add_argument("--calibration-split", default="train",
                   help="split of DIR (default train; 'all' for every split)")
    q.add_argument("--calibration-ids", metavar="FILE", default=None,
                   help="splits.json (its 'train' ids) or a text file of ids allowed for "
                        "calibration (default: the run's splits.json, or WEIGHTS' "
                        "<name>.splits.json, if any)")
    q.add_argument("--calibration-images", type=int, default=128,
                   help="how many images to calibrate on (default 128)")
    q.add_argument("--min-agreement", type=float, default=0.95,
                   help="with --check: least mean Jaccard between int8 and float32 masks on "
                        "other training images (default 0.95)")
    p.set_defaults(func=run)


def _weights(path: str | None) -> Path:
    from mobilegan.inference.segmenter import shipped_weights

    if path is not None:
        return Path(path)
    shipped = shipped_weights()
    if not shipped.is_file():
        raise FileNotFoundError(f"no WEIGHTS given and no shipped weights at {shipped}; "
                                f"pass a .safetensors file (e.g. from mobilegan train)")
    return shipped


def run(args: argparse.Namespace) -> int:
    from mobilegan.inference.export import (DEFAULT_OPSET, check_onnx_parity, export_onnx,
                                            weights_metadata)
    from mobilegan.models.io import load_model

    if not (math.isfinite(args.tolerance) and args.tolerance > 0):
        raise ValueError(f"--tolerance must be a number > 0, got {args.tolerance}")
    if not 0 < args.min_agreement <= 1:  # also refuses nan
        raise ValueError(f"--min-agreement is a mean Jaccard, in (0, 1]; got {args.min_agreement}")
    weights = _weights(args.weights)
    if args.quantize:
        return run_quantize(args, weights)
    out = onnx_out(args.out, Path(weights.with_suffix(".onnx").name))
    model, _ = load_model(weights)
    start = time.perf_counter()
    with written_for(out, args.check) as target:
        path = export_onnx(model, target, opset=args.opset or DEFAULT_OPSET,
                           exporter=args.exporter, metadata=weights_metadata(weights))
        size_mb = path.stat().st_size / 1e6
        print(f"wrote {path if args.check else out} ({size_mb:.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s")
        if not args.check:
            return 0
        diff = check_onnx_parity(model, path)
        ok = diff < args.tolerance
        print(f"parity with PyTorch (1x128x128, 2x192x256): max |diff| = {diff:.2e} "
              f"{'OK' if ok else 'FAILED'} (tolerance {args.tolerance:g})")
        return settle(path, out, ok)


@contextlib.contextmanager
def written_for(out: Path, check: bool) -> Iterator[Path]:
    """Where to write the file meant for ``out``: ``<name>.partial.onnx`` beside it, which
    takes ``out``'s name once written whole, or with a check ``<name>.unchecked.onnx``,
    which takes it only once it passes (:func:`settle`). Either way a good file already at
    ``out`` survives a failed or interrupted export or check (writing straight onto it, a
    failed export once left half a file there), and an error or Ctrl+C on the way removes
    the new file."""
    if out.is_dir():
        raise ValueError(f"{out} is a folder: name the .onnx file to write inside it")
    target = out.with_name(f"{out.stem}.{'unchecked' if check else 'partial'}{out.suffix}")
    try:
        yield target
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if not check and target.exists():
        target.replace(out)


def settle(checked: Path, out: Path, ok: bool) -> int:
    """A checked file takes its name when it passed; otherwise it is set aside."""
    if not ok:
        return set_aside(checked, out)
    checked.replace(out)
    print(f"checked: {out}")
    return 0


def set_aside(path: Path, named: Path | None = None) -> int:
    """A file that failed its check is renamed ``<named>.check-failed.onnx`` (``named``:
    the name it was written for, default ``path``) so that nothing ships it by that name;
    the exit code 1."""
    named = named or path
    failed = named.with_name(f"{named.stem}.check-failed{named.suffix}")
    path.replace(failed)
    print(f"the check failed: moved {path.name} to {failed} (not for use; kept to inspect)",
          file=sys.stderr)
    return 1


def onnx_out(given: str | None, default: Path) -> Path:
    """Where to write: ``default`` (in the current folder) when ``--out`` is not given, or
    inside ``--out`` when it is a folder (existing, or written with a trailing slash).
    Anything else must end in .onnx, so that a slip (``--out lesion.jpg``) never replaces
    a file that is not an ONNX model."""
    if given is None:
        return default
    out = Path(given)
    if out.is_dir() or given.endswith(("/", "\\")):
        return out / default.name
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"--out {given}: expected a .onnx file name or a folder")
    return out


def _allowed_ids(args: argparse.Namespace, weights: Path) -> tuple[set[str] | None, str]:
    """Ids calibration may use, and where that rule comes from."""
    import json

    from mobilegan.models.io import splits_path_for

    path = Path(args.calibration_ids) if args.calibration_ids else splits_path_for(weights)
    if path is None or not path.is_file():
        if args.calibration_ids:
            raise FileNotFoundError(f"--calibration-ids: no file at {path}")
        return None, "unchecked (no splits.json beside the weights, no --calibration-ids)"
    if path.suffix == ".json":
        ids = json.loads(path.read_text()).get("train")
        if not ids:
            raise ValueError(f"{path} has no 'train' ids")
        return set(ids), f"the training ids of {path.name}"
    ids = {line.strip() for line in path.read_text().splitlines() if line.strip()}
    if not ids:
        raise ValueError(f"{path} lists no ids")
    return ids, f"the ids listed in {path.name}"


def _readable(samples: list, count: int, size: int) -> tuple[list, list, list[str]]:
    """The first ``count`` samples whose image decodes: (images, samples, problems). Each
    image is shrunk on reading to at most 4x the network's input size, so that a hundred
    full-resolution originals (up to 6,000 px wide) never sit in memory at once."""
    import numpy as np
    from PIL import Image

    from mobilegan.inference.preprocess import read_input_file

    images, used, problems = [], [], []
    for sample in samples:
        if len(images) == count:
            break
        try:
            picture = Image.fromarray(read_input_file(sample.image))
        except (OSError, ValueError) as error:
            problems.append(f"{sample.image}: {error}")
            continue
        picture.thumbnail((4 * size, 4 * size), Image.Resampling.BILINEAR)
        images.append(np.asarray(picture))
        used.append(sample)
    return images, used, problems


def run_quantize(args: argparse.Namespace, weights: Path) -> int:
    import random
    import tempfile

    from mobilegan.data.layouts import load_samples, official_sets
    from mobilegan.inference.export import DEFAULT_OPSET, export_onnx, weights_metadata
    from mobilegan.inference.quantize import mask_agreement, quantize_onnx
    from mobilegan.models.io import load_model, read_model_info

    if not args.calibration:
        raise ValueError("--quantize int8 needs --calibration DIR: training images that set "
                         "the int8 ranges (never the test set)")
    if args.calibration_images < 1:
        raise ValueError(f"--calibration-images must be >= 1, got {args.calibration_images}")
    pool = load_samples(args.calibration, args.calibration_split)
    allowed, rule = _allowed_ids(args, weights)
    if allowed is not None:
        pool = [s for s in pool if s.id in allowed]
        if not pool:
            raise ValueError(f"no image of {args.calibration} is among {rule}")
    else:
        # The one check left without the weights' ids: an official test set by its folder.
        tests = sorted(name for name in official_sets(pool) if name and name.endswith(" test"))
        if tests:
            raise ValueError(f"{args.calibration} holds images of the {' and '.join(tests)} "
                             f"set: int8 ranges are never set on test images. Point "
                             f"--calibration at training images, or keep the weights' "
                             f"splits.json beside them so that only their training ids are used")
        print(f"warning: calibration ids {rule}: make sure {args.calibration} holds no "
              f"image you will test on", file=sys.stderr)
    # A seeded shuffle; unreadable files are skipped (and named), the next image taken.
    order = random.Random(0).sample(pool, len(pool))
    size = int(read_model_info(weights)["metadata"].get("image_size") or paper.IMAGE_SIZE)
    images, chosen, skipped = _readable(order, args.calibration_images, size)
    if not images:
        raise ValueError(f"none of the {len(pool)} calibration images could be read; first: "
                         f"{skipped[0] if skipped else 'none'}")
    for problem in skipped:
        print(f"skipped calibration image {problem}", file=sys.stderr)
    rest = order[order.index(chosen[-1]) + 1:]
    held: list = []  # images for the check, read before the slow part
    if args.check:  # known before the slow part: a check that cannot run is not a pass
        held, _, _ = _readable(rest, CHECK_IMAGES, size)
        if not held:
            raise ValueError(f"--check needs training images beside the calibration set, and "
                             f"calibration took every readable one of the {len(pool)} images "
                             f"of {args.calibration} it may use ({rule}): {len(chosen)}; lower "
                             f"--calibration-images; nothing written")
    out = onnx_out(args.out, Path(f"{weights.stem}_int8.onnx"))
    start = time.perf_counter()
    model, _ = load_model(weights)
    with written_for(out, args.check) as target, \
            tempfile.TemporaryDirectory(prefix="mobilegan-export-") as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", opset=args.opset or DEFAULT_OPSET,
                           exporter=args.exporter, metadata=weights_metadata(weights))
        quantize_onnx(fp32, target, images, image_size=size,
                      calibration_ids=[s.id for s in chosen],
                      calibration_source=f"{len(chosen)} images of {args.calibration} "
                                         f"({args.calibration_split}); allowed: {rule}")
        print(f"wrote {target if args.check else out} ({target.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s: int8 convolutions, calibrated on "
              f"{len(chosen)} images ({rule})")
        if not args.check:
            return 0
        agree = mask_agreement(fp32, target, held, size)
        ok = agree["mean_mask_jaccard"] >= args.min_agreement
        print(f"agreement with float32 on {agree['images']} other images: mean mask Jaccard "
              f"{agree['mean_mask_jaccard']:.4f} (worst {agree['worst_mask_jaccard']:.4f}), "
              f"largest probability change {agree['max_probability_change']:.3f} "
              f"{'OK' if ok else 'FAILED'} (least {args.min_agreement:g})")
        if agree["both_empty"] == agree["images"]:
            print(f"warning: neither file found a lesion in any of the {agree['images']} "
                  f"check images, so their agreement says nothing about the int8 ranges (an "
                  f"untrained or failed model?)", file=sys.stderr)
        return settle(target, out, ok)
