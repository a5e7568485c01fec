"""How long the web page waits for one image: `mobilegan serve` timed over real HTTP.

    python benchmarks/serve_speed.py                 # torch backend, 8 samples (serve's default)
    python benchmarks/serve_speed.py --samples 1 --sizes 256x192
    python benchmarks/serve_speed.py --backend int8  # the page without an uncertainty map

The server is the one `mobilegan serve` starts (same app, same segmenter settings, warmed
up the same way), run by uvicorn on a free local port; each image is posted alone, as the
page posts them, and timed from sending the request to having the whole JSON answer (mask,
overlay and uncertainty map as PNG inside it), and by the server's own clock from decoding
the upload to having the mask (before the PNG encoding). The images are synthetic lesions drawn by
``mobilegan.data.synthetic`` and sent as JPEG, at the dataset's size and at phone-photo
sizes: decoding, resizing back to the original and PNG encoding grow with the pixels.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import sys
import threading
import time
import urllib.request
import uuid

import numpy as np
from PIL import Image

from mobilegan.hardware import cpu_name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", default="torch", help="torch, onnx or int8 (as serve)")
    p.add_argument("--samples", type=int, default=None,
                   help="noise samples (default: serve's, 8 for torch and 1 otherwise)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the network")
    p.add_argument("--sizes", nargs="+", default=["256x192", "1024x768", "3000x2000"],
                   metavar="WxH", help="image sizes to post, width x height")
    p.add_argument("--requests", type=int, default=20, help="timed requests per size")
    p.add_argument("--warmup", type=int, default=2, help="untimed requests per size first")
    return p.parse_args(argv)


def image_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--sizes {text}: expected WIDTHxHEIGHT, e.g. 1024x768") from None
    if min(width, height) < 32:
        raise SystemExit(f"--sizes {text}: at least 32x32")
    return width, height


def lesion_jpeg(width: int, height: int, seed: int) -> bytes:
    from mobilegan.data.synthetic import draw_lesion

    rgb, _ = draw_lesion((height, width), seed=seed)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    """A one-file form body as the page's FormData sends it, and its content type."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{filename}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(url: str, filename: str, data: bytes) -> tuple[float, dict]:
    body, content_type = multipart(filename, data)
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        answer = json.loads(response.read())
    seconds = time.perf_counter() - start
    result = answer["results"][0]
    if not result.get("ok"):
        raise SystemExit(f"the server could not segment {filename}: {result.get('error')}")
    return seconds, result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(args: argparse.Namespace):  # -> (uvicorn.Server, segmenter, url)
    import uvicorn

    from mobilegan.app.server import create_app, warm_up
    from mobilegan.cli.serve_cmd import build_segmenter

    settings = argparse.Namespace(samples=args.samples, backend=args.backend, tta=False,
                                  threads=args.threads, seed=0, weights=None)
    segmenter = build_segmenter(settings)
    warm_up(segmenter)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(segmenter), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start within 30 s")
        time.sleep(0.05)
    return server, segmenter, f"http://127.0.0.1:{port}/api/segment"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [image_size(text) for text in args.sizes]
    server, segmenter, url = start_server(args)
    rows = []
    try:
        for width, height in sizes:
            images = [lesion_jpeg(width, height, seed) for seed in range(4)]
            for i in range(args.warmup):
                post(url, "warmup.jpg", images[i % len(images)])
            wall, inside = [], []
            for i in range(args.requests):
                seconds, result = post(url, f"lesion_{i}.jpg", images[i % len(images)])
                wall.append(seconds)
                inside.append(result["seconds"])
            rows.append((f"{width}x{height}", len(images[0]) / 1e3, np.median(wall),
                         np.percentile(wall, 90), np.median(inside)))
    finally:
        server.should_exit = True
    print(f"mobilegan serve, backend {segmenter.backend.name}, {segmenter.samples} sample(s), "
          f"{args.threads} threads, {args.requests} timed requests per size (after "
          f"{args.warmup} untimed), one image per request; cpu: {cpu_name()}")
    print("| image (WxH) | JPEG kB | p50 s | p90 s | p50 s decoding and segmenting |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for size, kilobytes, p50, p90, server_p50 in rows:
        print(f"| {size} | {kilobytes:.0f} | {p50:.3f} | {p90:.3f} | {server_p50:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
