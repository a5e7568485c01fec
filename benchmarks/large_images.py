"""`mobilegan segment` on camera-size originals: seconds per image and peak memory.

    python benchmarks/large_images.py                      # 4 images of 6000x4500
    python benchmarks/large_images.py --size 3000x2000 --images 8

The ISIC archive's originals run to about 6700x4500 pixels; the network sees 128x128, so
their time goes to the full-size work around it (decoding, resizing back, post-processing,
drawing and encoding the overlay). The images are real dermoscopy images from a data set
folder (default ../shared/data/isic2018) upscaled with a little grain, written to a
temporary folder that is removed afterwards (nothing is kept). Each row runs the same
folder in a fresh process, side by side, with the shipped settings and with the two
choices that bound time and memory on such images undone: the overlay PNG at zlib's
default level instead of level 1, and batches bounded only by ``--batch-size`` instead of
also by ``BATCH_PIXELS``. Masks are compared with the first row's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mobilegan.hardware import cpu_name
from mobilegan.inference.batch import PICTURE_COMPRESS_LEVEL
from mobilegan.inference.segmenter import BATCH_PIXELS

REPO = Path(__file__).resolve().parents[1]

#: (row name, PNG level of the pictures, pixel budget of a batch; None: the shipped one:
#: batch.PICTURE_COMPRESS_LEVEL and segmenter.BATCH_PIXELS, named in the table's header)
ROWS = [("shipped", None, None),
        ("overlay at zlib level 6", 6, None),
        ("batches by count only", None, 10**15),
        ("both undone", 6, 10**15)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "isic2018"),
                   help="a data set folder whose images are upscaled")
    p.add_argument("--images", type=int, default=4, help="images in the folder segmented")
    p.add_argument("--size", default="6000x4500", metavar="WxH", help="upscaled size")
    p.add_argument("--batch-size", type=int, default=8, help="as `mobilegan segment`'s")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the network")
    p.add_argument("--image-size", type=int, default=None,
                   help="network input (default: the weights' own, 128)")
    return p.parse_args(argv)


def make_images(data: str, count: int, size: tuple[int, int], folder: Path) -> list[Path]:
    from mobilegan.data.layouts import load_samples

    samples = load_samples(data)[:count]
    if len(samples) < count:
        raise SystemExit(f"{data}: {len(samples)} images, {count} asked for")
    rng = np.random.default_rng(0)
    paths = []
    for sample in samples:
        with Image.open(sample.image) as im:
            big = np.asarray(im.convert("RGB").resize(size, Image.Resampling.BILINEAR))
        grain = rng.normal(0, 4, big.shape).astype(np.int16)
        paths.append(folder / f"{sample.id}.jpg")
        Image.fromarray(np.clip(big + grain, 0, 255).astype(np.uint8)).save(paths[-1], quality=92)
    return paths


#: One row, run in a child process so that its peak memory is its own.
CHILD = """
import json, resource, sys, time
from mobilegan.inference import batch, segmenter
from mobilegan.inference.segmenter import Segmenter
level, pixels, folder, out, batch_size, threads, image_size = json.loads(sys.argv[1])
if level is not None:
    batch.PICTURE_COMPRESS_LEVEL = level
if pixels is not None:
    segmenter.BATCH_PIXELS = pixels
seg = Segmenter(None, threads=threads, image_size=image_size)
from pathlib import Path
paths = sorted(Path(folder).glob("*.jpg"))
start = time.perf_counter()
summary = batch.segment_files(seg, paths, out, batch_size=batch_size, progress=False)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "ok": summary.succeeded}))
"""


def run_row(level: int | None, pixels: int | None, folder: Path, out: Path,
            args: argparse.Namespace) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD,
                           json.dumps([level, pixels, str(folder), str(out), args.batch_size,
                                       args.threads, args.image_size])],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_masks(out: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(path)) > 0 for path in sorted(out.glob("*_segmentation.png"))]


def differing(masks: list[np.ndarray], reference: list[np.ndarray]) -> str:
    """Mask pixels that differ from the first row's, as a share of all pixels: batching
    images together changes the network's float sums in the last bits, which moves a few
    border pixels across the threshold."""
    if len(masks) != len(reference):
        return "MISSING"
    changed = sum(int((a != b).sum()) for a, b in zip(masks, reference))
    total = sum(m.size for m in masks)
    if changed == 0:
        return "same"
    return f"{changed:,} of {total / 1e6:.0f} M ({100 * changed / total:.2g}%)"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    width, height = (int(part) for part in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="mobilegan-large-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        paths = make_images(args.data, args.images, (width, height), folder)
        megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        print(f"`mobilegan segment` on {len(paths)} images of {width}x{height} (JPEG, "
              f"{megabytes:.1f} MB each), --batch-size {args.batch_size}, {args.threads} "
              f"threads; {cpu_name()}; {time.strftime('%Y-%m-%d')}. Shipped: pictures at "
              f"zlib level {PICTURE_COMPRESS_LEVEL}, batches of at most "
              f"{BATCH_PIXELS / 1e6:g} megapixels.\n")
        print("| row | s per image | peak memory | overlay MB | mask pixels differing |")
        print("| --- | ---: | ---: | ---: | --- |")
        first = None
        for name, level, pixels in ROWS:
            out = Path(tmp) / f"out{len(name)}{level}{pixels}"
            row = run_row(level, pixels, folder, out, args)
            if row["ok"] != len(paths):
                raise SystemExit(f"{name}: {row['ok']} of {len(paths)} images segmented")
            masks = read_masks(out)
            first = first or masks
            overlay = sum(p.stat().st_size for p in out.glob("overlays/*_overlay.png")) / len(paths) / 1e6
            print(f"| {name} | {row['seconds'] / len(paths):.2f} | {row['peak'] / 1e9:.2f} GB | "
                  f"{overlay:.1f} | {differing(masks, first)} |", flush=True)


if __name__ == "__main__":
    main()
