"""``mobilegan serve``: the local web page (drop images, see contour, mask, uncertainty).

The web packages are an optional extra, imported only here, so the core install runs
without them.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

# Plain Python: the limits module needs no web package until a request is parsed.
from mobilegan.app.uploads import (DEFAULT_MAX_FILES, DEFAULT_MAX_REQUESTS, DEFAULT_MAX_UPLOAD_MB,
                                   SERVE_MAX_PIXELS)

DEFAULT_PORT = 8765
#: Noise samples behind the uncertainty map with the torch backend (ONNX cannot sample).
DEFAULT_TORCH_SAMPLES = 8


#: The page's noise seed: an image uploaded twice gets the same answer (each image draws
#: its noise from the seed alone, whatever else is in the request).
DEFAULT_SEED = 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="local web page: drop dermoscopy images, see the lesion outlined",
        description="Start a local web page where you drop or pick dermoscopy images and see "
                    "the lesion contour, the mask, the uncertainty map, the lesion area and a "
                    "confidence flag, with downloads of <id>_segmentation.png and a CSV. "
                    "Uploads are processed in memory and never written to disk unless "
                    "--keep-uploads is given. Research tool, not a medical device.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                   help=f"port to listen on, 1-65535 (default {DEFAULT_PORT})")
    p.add_argument("--backend", choices=("torch", "onnx", "int8"), default="torch",
                   help="torch (default), onnx (onnxruntime float32) or int8 (onnxruntime, int8 "
                        "convolutions; no uncertainty map)")
    p.add_argument("--weights", default=None,
                   help="a .safetensors (with its .json), or an .onnx file for --backend onnx "
                        "or int8; default: shipped weights")
    p.add_argument("--samples", type=int, default=None,
                   help=f"noise samples for the uncertainty map (default {DEFAULT_TORCH_SAMPLES} "
                        f"with torch, 1 with onnx, which cannot sample)")
    p.add_argument("--tta", action="store_true", help="average over flips (4x slower)")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                   help="largest file accepted")
    p.add_argument("--max-pixels", type=int, default=SERVE_MAX_PIXELS,
                   help="largest image accepted, in pixels (guards against decompression bombs)")
    p.add_argument("--max-files", type=int, default=DEFAULT_MAX_FILES,
                   help="most images in one API request (the page sends one at a time)")
    p.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS,
                   help=f"requests read and segmented at once; others wait unread, which "
                        f"bounds memory (default {DEFAULT_MAX_REQUESTS})")
    p.add_argument("--keep-uploads", metavar="DIR", default=None,
                   help="also save every upload in DIR (default: nothing is written to disk)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help=f"seed of the noise samples (default {DEFAULT_SEED}: the same image "
                        f"always gets the same mask, map and flag; unseeded, a flag near the "
                        f"threshold could flip between two uploads of one image)")
    p.set_defaults(func=run)


def port_number(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def writable_folder(path: str) -> Path:
    """``--keep-uploads``: made now and checked writable, so that the server never runs
    saying it keeps uploads while every write fails."""
    import tempfile

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"--keep-uploads {path}: cannot write there "
                         f"({error.strerror or error})") from None
    return folder


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _web_packages_missing() -> str | None:
    for module in ("fastapi", "uvicorn", "python_multipart"):
        try:
            __import__(module)
        except ModuleNotFoundError:
            return module
    return None


def build_segmenter(args: argparse.Namespace):  # -> Segmenter
    """The segmenter for the page: sampling on by default where the backend allows it."""
    from mobilegan.inference.segmenter import Segmenter

    samples = args.samples
    if samples is None:
        samples = DEFAULT_TORCH_SAMPLES if args.backend == "torch" else 1
    kw = dict(weights=args.weights, backend=args.backend, tta=args.tta, threads=args.threads,
              seed=args.seed)
    try:
        return Segmenter(samples=samples, **kw)
    except ValueError as error:
        # A default (not asked-for) sampling on a network without noise: run deterministic.
        if args.samples is None and samples > 1 and "noise z" in str(error):
            print("note: this network cannot sample; serving without an uncertainty map",
                  file=sys.stderr)
            return Segmenter(samples=1, **kw)
        raise


def check_address_free(host: str, port: int) -> None:
    """A port in use or a host that does not resolve is a one-line error here: uvicorn found
    it only after the banner had announced the page, and exited with its own code 3. Every
    address the host resolves to is tried, bound as uvicorn (asyncio) binds it."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ValueError(f"--host {host}: cannot be resolved ({error.strerror})") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                shown = f"[{address[0]}]" if family == socket.AF_INET6 else address[0]
                raise ValueError(f"cannot serve on {shown}:{port}: {error.strerror} (another "
                                 f"server there? choose another --port)") from None


def run(args: argparse.Namespace) -> int:
    missing = _web_packages_missing()
    if missing:
        print(f"mobilegan serve needs the web extras ({missing} is not installed): "
              f"pip install -e '.[app]' in the mobilegan checkout", file=sys.stderr)
        return 2
    import uvicorn

    from mobilegan.app.server import create_app, warm_up
    from mobilegan.app.uploads import UploadLimits

    limits = UploadLimits.from_megabytes(args.max_upload_mb, args.max_pixels, args.max_files,
                                         args.max_requests)
    if args.keep_uploads:
        writable_folder(args.keep_uploads)
    if not is_loopback(args.host):
        print(f"warning: --host {args.host} makes the page reachable from other computers. "
              f"It has no login and no encryption: anyone on the network can upload images "
              f"and see results. Use it only on a trusted network, never with identifiable "
              f"patient data.", file=sys.stderr)
    check_address_free(args.host, args.port)  # before the banner says the page is up
    segmenter = build_segmenter(args)
    warm_up(segmenter)
    app = create_app(segmenter, limits, keep_uploads=args.keep_uploads)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"MobileGAN page: http://{shown}:{args.port}/  (backend {args.backend}, "
          f"{segmenter.samples} sample(s); Ctrl+C to stop)", flush=True)
    if args.keep_uploads:
        print(f"keeping a copy of every upload in {args.keep_uploads}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
