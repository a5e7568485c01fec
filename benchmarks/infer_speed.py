"""Inference latency: MobileGAN vs U-Net, PyTorch eager vs ONNX Runtime, side by side.

    python benchmarks/infer_speed.py                       # CPU, 128x128, batch 1, 2 threads
    python benchmarks/infer_speed.py --batch 64 --device cuda --bf16   # GPU throughput

Every configuration is timed in the same process, round-robin (one call of each in turn),
so that load from other processes on a shared machine hits all of them alike. Networks are
untrained unless --weights is given: speed does not depend on the weight values.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mobilegan.config import ModelConfig
from mobilegan.models.registry import build_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=128, help="input height and width")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch and ORT)")
    p.add_argument("--iters", type=int, default=50, help="timed calls per configuration")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for PyTorch on CUDA")
    p.add_argument("--weights", default=None, help="MobileGAN .safetensors (optional)")
    p.add_argument("--no-onnx", action="store_true", help="PyTorch only")
    return p.parse_args(argv)


def networks(weights: str | None) -> dict[str, torch.nn.Module]:
    """MobileGAN, and the U-Net when the registry can build it."""
    if weights:
        from mobilegan.models.io import load_model

        nets = {"MobileGAN": load_model(weights)[0]}
    else:
        nets = {"MobileGAN": build_model(ModelConfig())}
    try:
        nets["U-Net"] = build_model(ModelConfig(name="unet"))
    except (ImportError, AttributeError) as error:  # not written yet on this checkout
        print(f"note: U-Net skipped ({type(error).__name__}: {error})", file=sys.stderr)
    return {name: net.eval() for name, net in nets.items()}


def torch_runner(model: torch.nn.Module, x: np.ndarray, device: str,
                 bf16: bool) -> Callable[[], None]:
    model = model.to(device)
    tensor = torch.from_numpy(x).to(device)
    cuda = device.startswith("cuda")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and bf16
                else contextlib.nullcontext())

    def run() -> None:
        with torch.inference_mode(), autocast:
            model(tensor)
        if cuda:
            torch.cuda.synchronize()
    return run


def onnx_runner(model: torch.nn.Module, x: np.ndarray, device: str, threads: int,
                folder: Path, name: str) -> Callable[[], None] | None:
    import onnxruntime as ort

    from mobilegan.inference.export import export_onnx

    path = export_onnx(model.cpu(), folder / f"{name}.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            print("note: ONNX Runtime has no CUDA provider here; ORT rows skipped", file=sys.stderr)
            return None
        providers.insert(0, "CUDAExecutionProvider")
    session = ort.InferenceSession(str(path), options, providers=providers)
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)


def measure(runners: dict[str, Callable[[], None]], iters: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call for each runner, interleaved round-robin."""
    for _ in range(warmup):
        for run in runners.values():
            run()
    times: dict[str, list[float]] = {key: [] for key in runners}
    for _ in range(iters):
        for key, run in runners.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return times


def table(times: dict[str, list[float]], batch: int) -> str:
    base = float(np.percentile(next(iter(times.values())), 50))
    lines = ["| network | runtime | p50 ms | p90 ms | images/s | p50 vs first row |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for key, samples in times.items():
        network, runtime = key.split(" / ")
        p50, p90 = (float(np.percentile(samples, q)) for q in (50, 90))
        lines.append(f"| {network} | {runtime} | {p50 * 1e3:.1f} | {p90 * 1e3:.1f} | "
                     f"{batch / p50:.1f} | {p50 / base:.2f}x |")
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 3, args.size, args.size))
    x = x.astype(np.float32)
    runners: dict[str, Callable[[], None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, net in networks(args.weights).items():
            params = sum(p.numel() for p in net.parameters()) / 1e6
            label = f"{name} ({params:.2f}M)"
            if not args.no_onnx:
                ort_run = onnx_runner(net, x, args.device, args.threads, Path(tmp), name)
                if ort_run is not None:
                    runners[f"{label} / ONNX Runtime"] = ort_run
            precision = "bf16" if args.bf16 and args.device.startswith("cuda") else "fp32"
            runners[f"{label} / PyTorch eager {precision}"] = torch_runner(
                net, x, args.device, args.bf16)
        order = sorted(runners, key=lambda k: (not k.startswith("MobileGAN"), "ONNX" in k))
        times = measure({k: runners[k] for k in order}, args.iters, args.warmup)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name()
    print(f"input {args.batch}x3x{args.size}x{args.size}, {args.threads} CPU threads, "
          f"{args.iters} timed calls each (round-robin), device {args.device} {device}, "
          f"torch {torch.__version__}")
    print(table(times, args.batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
