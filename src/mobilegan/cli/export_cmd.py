"""``mobilegan export``: saved weights to an ONNX file that runs on onnxruntime alone."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export weights to ONNX (dynamic batch and size, noise z off)",
        description="Export a .safetensors network (with its .json config beside it) to ONNX. "
                    "The graph takes 'image' (B, 3, H, W) float32 in [-1, 1], H and W "
                    "multiples of 16, and returns 'logits' (B, 1, H, W). Without WEIGHTS the "
                    "shipped weights are exported.")
    p.add_argument("weights", nargs="?", default=None, metavar="WEIGHTS",
                   help="a .safetensors file (default: the shipped weights)")
    p.add_argument("--format", choices=("onnx",), default="onnx")
    p.add_argument("--out", default=None,
                   help="output file (default: WEIGHTS' name with .onnx, in the current folder)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")
    p.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), default="auto",
                   help="auto: the fast torchscript exporter, dynamo if it fails")
    p.add_argument("--check", action="store_true",
                   help="compare onnxruntime with PyTorch at 1x128x128 and 2x192x256")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |difference| of logits with --check (default 1e-4)")
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
    import dataclasses
    import json

    from mobilegan.inference.export import DEFAULT_OPSET, check_onnx_parity, export_onnx
    from mobilegan.models.io import load_model

    weights = _weights(args.weights)
    out = Path(args.out) if args.out else Path(weights.with_suffix(".onnx").name)
    model, cfg = load_model(weights)
    start = time.perf_counter()
    path = export_onnx(model, out, opset=args.opset or DEFAULT_OPSET, exporter=args.exporter,
                       metadata={"mobilegan.model": json.dumps(dataclasses.asdict(cfg)),
                                 "mobilegan.source": weights.name})
    size_mb = path.stat().st_size / 1e6
    print(f"wrote {path} ({size_mb:.1f} MB) in {time.perf_counter() - start:.1f} s")
    if args.check:
        diff = check_onnx_parity(model, path)
        ok = diff < args.tolerance
        print(f"parity with PyTorch (1x128x128, 2x192x256): max |diff| = {diff:.2e} "
              f"{'OK' if ok else 'FAILED'} (tolerance {args.tolerance:g})")
        return 0 if ok else 1
    return 0
