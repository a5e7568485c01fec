"""``mobilegan demo``: one synthetic lesion, segmented by the shipped model, in seconds and
with no data to download."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np


#: What the torch backend imports to load .safetensors weights.
TORCH_BACKEND_NEEDS = ("torch", "safetensors")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="segment a synthetic lesion image with the shipped model",
        description="Draws a procedural (synthetic) dermoscopy-like image, segments it with the "
                    "shipped MobileGAN weights and writes the image, the mask and an overlay.")
    p.add_argument("--out", default="mobilegan-demo",
                   help="output folder, created (default: mobilegan-demo in the current folder)")
    p.add_argument("--weights", default=None,
                   help="weights to use instead of the shipped ones: a .safetensors file "
                        "or an ONNX export (also $MOBILEGAN_WEIGHTS)")
    p.add_argument("--seed", type=int, default=0, help="which synthetic picture to draw")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from mobilegan.data.synthetic import draw_lesion
    from mobilegan.inference.segmenter import Segmenter, WEIGHTS_ENV, shipped_weights

    try:
        # An .onnx file (plain or int8; given, or in $MOBILEGAN_WEIGHTS) runs on
        # onnxruntime, as `segment --backend onnx`; the shipped weights run on their int8
        # twin where the torch backend cannot (the package without its 'torch' extra).
        weights = Path(args.weights) if args.weights else shipped_weights()
        backend = "onnx" if weights.suffix.lower() == ".onnx" else "torch"
        missing = [name for name in TORCH_BACKEND_NEEDS if importlib.util.find_spec(name) is None]
        if backend == "torch" and missing and not args.weights and not os.environ.get(WEIGHTS_ENV):
            backend = "int8"
            print(f"{' and '.join(missing)} not installed: running the shipped int8 model "
                  f"(ONNX Runtime)")
        segmenter = (Segmenter(weights=args.weights, backend=backend) if args.weights
                     else Segmenter.from_pretrained(backend=backend))
    except FileNotFoundError as error:
        # Only when the shipped weights are what is missing: a wrong --weights or
        # $MOBILEGAN_WEIGHTS names its own path, and the shipped weights may be there.
        hint = ("" if args.weights or os.environ.get(WEIGHTS_ENV) else
                "\nRun it with --weights PATH (weights from `mobilegan train`) until the "
                "shipped weights are installed.")
        print(f"mobilegan demo: error: {error}{hint}", file=sys.stderr)
        return 2
    image, truth = draw_lesion(seed=args.seed)
    result = segmenter.predict(image, id="synthetic_lesion")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"image": out / "synthetic_lesion.png",
             "mask": out / "synthetic_lesion_segmentation.png",
             "overlay": out / "synthetic_lesion_overlay.png"}
    Image.fromarray(image).save(files["image"])
    result.mask_image().save(files["mask"])
    result.overlay(image).save(files["overlay"])
    for what, path in files.items():
        print(f"wrote {what:8s}{path}")
    print(f"lesion area: {result.area_pixels} px ({100 * result.area_fraction:.1f}% of the image), "
          f"confidence {result.confidence:.2f}")
    print(f"Dice against the drawn mask: {dice(result.mask, truth):.3f}")
    print("Note: this image is SYNTHETIC (procedurally drawn by mobilegan.data.synthetic), "
          "not a real dermoscopy image; the numbers only show that the pipeline runs.")
    return 0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A and B| / (|A| + |B|); 1 when both are empty."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total
