"""Inference latency: MobileGAN vs U-Net, PyTorch eager vs ONNX Runtime, side by side.

    python benchmarks/infer_speed.py                       # CPU, 128x128, batch 1, 2 threads
    python benchmarks/infer_speed.py --batch 64 --device cuda --bf16   # GPU throughput
    python benchmarks/infer_speed.py --compile                # + torch.compile rows
    python benchmarks/infer_speed.py --models shipped U-Net   # a subset of the networks

Every configuration is timed in the same process, in turns of blocks of calls, so that
load from other processes on a shared machine hits all of them alike. Networks are
untrained unless --weights is given: speed does not depend on the weight values.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mobilegan.config import ModelConfig
from mobilegan.hardware import describe_device
from mobilegan.models.registry import build_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=128, help="input height and width")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch and ORT)")
    p.add_argument("--iters", type=int, default=100, help="timed calls per configuration")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for PyTorch on CUDA")
    p.add_argument("--weights", default=None, help="MobileGAN .safetensors (optional)")
    p.add_argument("--no-onnx", action="store_true", help="PyTorch only")
    p.add_argument("--int8", default=None, metavar="ONNX",
                   help="int8 ONNX file to time beside the others (default: the shipped "
                        "int8 model when timing the shipped weights on a CPU)")
    p.add_argument("--compile", action="store_true",
                   help="also time each network through torch.compile (fused kernels)")
    p.add_argument("--channels-last", action="store_true",
                   help="also time each network in NHWC memory layout (checked equal first)")
    p.add_argument("--compile-mode", default="default",
                   help="torch.compile mode, e.g. reduce-overhead (CUDA graphs) on a GPU")
    p.add_argument("--freeze", action="store_true",
                   help="with --compile, also time each network compiled with inductor's "
                        "freezing (weights as constants: batch norms folded into convolutions)")
    p.add_argument("--models", nargs="+", default=None, metavar="WORD",
                   help="time only the networks whose name holds one of these words "
                        "(case-insensitive), e.g. shipped U-Net")
    return p.parse_args(argv)


def networks(weights: str | None, words: list[str] | None = None,
             bf16_attention: bool = False) -> dict[str, torch.nn.Module]:
    """MobileGAN as shipped (its weights and config; without them an untrained config with
    PAM key/value stride 2), MobileGAN with the paper's full PAM, and the U-Net; with
    ``bf16_attention`` (timing bf16 autocast), also the shipped network with its attention
    maths left in bf16 (:func:`~mobilegan.models.attention.attention_in_float32`); with
    ``words``, those whose name holds one of them."""
    from mobilegan.inference.segmenter import shipped_weights
    from mobilegan.models.io import load_model

    path = Path(weights) if weights else shipped_weights()
    if path.is_file():
        shipped = load_model(path)[0]
    else:
        print(f"note: no weights at {path}; timing an untrained shipped config", file=sys.stderr)
        shipped = build_model(ModelConfig(pam_kv_stride=2))
    nets = {"MobileGAN shipped": shipped,
            "MobileGAN paper PAM": build_model(ModelConfig(pam_kv_stride=1)),
            "U-Net": build_model(ModelConfig(name="unet"))}
    if bf16_attention:
        from mobilegan.models.attention import attention_in_float32

        twin = attention_in_float32(copy.deepcopy(shipped), False)
        nets = {"MobileGAN shipped": shipped, "MobileGAN shipped, bf16 attention": twin,
                **{name: net for name, net in nets.items() if name != "MobileGAN shipped"}}
    if words:
        nets = {name: net for name, net in nets.items()
                if any(word.lower() in name.lower() for word in words)}
        if not nets:
            raise SystemExit(f"--models {' '.join(words)} matches none of {', '.join(nets)}")
    return {name: net.eval() for name, net in nets.items()}


def torch_runner(model: torch.nn.Module, x: np.ndarray, device: str, bf16: bool,
                 channels_last: bool = False, compile_mode: str | None = None,
                 label: str = "", freeze: bool = False) -> Callable[[], None]:
    """One timed call of ``model``; ``channels_last`` times an NHWC copy of it (the layout
    GPU tensor cores prefer) after checking that it computes the same logits;
    ``compile_mode`` times it through torch.compile, compiled here by a first call whose
    time is reported (compilation is a one-off cost, not latency); ``freeze`` compiles it
    with the weights as constants, so that inductor folds each batch norm into the
    convolution before it (inference only)."""
    model = model.to(device)
    tensor = torch.from_numpy(x).to(device)
    if channels_last:
        model = _channels_last_twin(model, tensor)
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    if compile_mode is not None:
        model = _compiled(model, compile_mode, freeze)
    cuda = device.startswith("cuda")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and bf16
                else contextlib.nullcontext())

    def run() -> None:
        with torch.inference_mode(), autocast:
            model(tensor)
        if cuda:
            torch.cuda.synchronize()
    if compile_mode is not None:
        start = time.perf_counter()
        with _freezing(freeze):  # read while tracing: the calls that compile need it on
            for _ in range(3):  # CUDA graphs are recorded on a later call than the compiling one
                run()
        print(f"compiled {label} in {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)
    return run


def _channels_last_twin(model: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    """An NHWC copy of ``model``, checked equal in true float32: TF32, a GPU's default for
    convolutions, would round the two layouts' sums differently by about 1e-3 relative."""
    twin = copy.deepcopy(model).to(memory_format=torch.channels_last)
    with torch.inference_mode(), _no_tf32():
        reference = model(x[:2])
        got = twin(x[:2].contiguous(memory_format=torch.channels_last))
    if not torch.allclose(got, reference, rtol=1e-3, atol=1e-3):
        raise AssertionError(f"channels-last logits differ by {(got - reference).abs().max():.2e}")
    return twin


def _compiled(model: torch.nn.Module, mode: str, freeze: bool) -> torch.nn.Module:
    """torch.compile in ``mode``; with ``freeze``, the same mode's options plus inductor's
    freezing, so that the frozen compile is a graph of its own (two compiles with equal
    settings share one cached graph). The option alone freezes nothing: dynamo decides
    while tracing whether weights are constants, from the global flag (:func:`_freezing`,
    around the calls that compile; 2026-11-30's "frozen" rows had only the option)."""
    if not freeze:
        return torch.compile(model, mode=mode)
    from torch._inductor import list_mode_options

    return torch.compile(model, options={**list_mode_options(mode), "freezing": True})


def _freezing(on: bool) -> contextlib.AbstractContextManager:
    if not on:
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config

    return inductor_config.patch(freezing=True)


@contextlib.contextmanager
def _no_tf32():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def measure(runners: dict[str, Callable[[], None]], iters: int, warmup: int,
            rounds: int = 5) -> dict[str, list[float]]:
    """Seconds per call for each runner. Runners take turns in ``rounds`` blocks of calls,
    so that load from other processes hits all of them alike, while each block runs one
    runtime alone (ONNX Runtime's spinning threads would otherwise slow the next call of
    PyTorch, and the reverse)."""
    times: dict[str, list[float]] = {key: [] for key in runners}
    per_round = max(iters // rounds, 1)
    for _ in range(rounds):
        for key, run in runners.items():
            for _ in range(max(warmup // rounds, 1)):
                run()
            for _ in range(per_round):
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


ORT_WORKER = """
import json, sys, time
import numpy as np
import onnxruntime as ort
assert "torch" not in sys.modules
spec = json.loads(sys.argv[1])
options = ort.SessionOptions()
options.intra_op_num_threads = spec["threads"]
options.inter_op_num_threads = 1
session = ort.InferenceSession(spec["model"], options, providers=spec["providers"])
feed = {session.get_inputs()[0].name: np.load(spec["input"])}
for _ in range(spec["warmup"]):
    session.run(None, feed)
times = []
for _ in range(spec["calls"]):
    start = time.perf_counter(); session.run(None, feed); times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def measure_onnx(paths: dict[str, Path], x: np.ndarray, args: argparse.Namespace,
                 folder: Path, rounds: int = 5) -> dict[str, list[float]]:
    """ONNX Runtime timings, each model in a fresh process without torch: what the
    torch-free ``--backend onnx`` sees. (Sessions sharing a process each keep a pool of
    spinning threads that slow the others down, and so do torch's idle OpenMP threads.)
    Models take turns, ``rounds`` times."""
    import json
    import subprocess

    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if args.device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            print("note: ONNX Runtime has no CUDA provider here; ORT rows skipped", file=sys.stderr)
            return {}
        providers.insert(0, "CUDAExecutionProvider")
    np.save(folder / "input.npy", x)
    times: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(rounds):
        for key, path in paths.items():
            spec = {"input": str(folder / "input.npy"), "model": str(path), "threads": args.threads,
                    "providers": providers, "warmup": args.warmup,
                    "calls": max(args.iters // rounds, 1)}
            done = subprocess.run([sys.executable, "-c", ORT_WORKER, json.dumps(spec)],
                                  capture_output=True, text=True, check=True)
            times[key] += json.loads(done.stdout.strip().splitlines()[-1])
    return times


def int8_model(args: argparse.Namespace) -> Path | None:
    """The int8 file to time: --int8, else the shipped one (CPU, shipped weights only)."""
    if args.int8:
        return Path(args.int8)
    if args.weights or args.no_onnx or args.device != "cpu":
        return None
    from mobilegan.inference.segmenter import shipped_int8

    path = shipped_int8()
    return path if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.freeze and not args.compile:
        raise SystemExit("--freeze times compiled networks: give --compile too")
    torch.set_num_threads(args.threads)
    # Fixed shapes, as in training (trainer.py): let cuDNN pick its fastest convolutions.
    torch.backends.cudnn.benchmark = args.device.startswith("cuda")
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 3, args.size, args.size))
    x = x.astype(np.float32)
    runners: dict[str, Callable[[], None]] = {}
    onnx_paths: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        from mobilegan.inference.export import export_onnx

        bf16 = args.bf16 and args.device.startswith("cuda")
        for name, net in networks(args.weights, args.models, bf16_attention=bf16).items():
            params = sum(p.numel() for p in net.parameters()) / 1e6
            label = f"{name} ({params:.2f}M)"
            if not args.no_onnx and "bf16 attention" not in name:  # ONNX runs float32 anyway
                onnx_paths[f"{label} / ONNX Runtime"] = export_onnx(net.cpu(), Path(tmp) / f"{len(onnx_paths)}.onnx")
            precision = "bf16" if bf16 else "fp32"
            runners[f"{label} / PyTorch eager {precision}"] = torch_runner(
                net, x, args.device, args.bf16)
            if args.channels_last:
                runners[f"{label} / PyTorch eager {precision} channels-last"] = torch_runner(
                    net, x, args.device, args.bf16, channels_last=True)
            if args.compile:
                compiled = f"{label} / PyTorch compiled ({args.compile_mode}) {precision}"
                runners[compiled] = torch_runner(net, x, args.device, args.bf16,
                                                 compile_mode=args.compile_mode, label=compiled)
            if args.compile and args.freeze:
                compiled = f"{label} / PyTorch compiled ({args.compile_mode}, frozen) {precision}"
                runners[compiled] = torch_runner(net, x, args.device, args.bf16, freeze=True,
                                                 compile_mode=args.compile_mode, label=compiled)
            if args.compile and args.channels_last:
                compiled = f"{label} / PyTorch compiled ({args.compile_mode}) {precision} channels-last"
                runners[compiled] = torch_runner(net, x, args.device, args.bf16, channels_last=True,
                                                 compile_mode=args.compile_mode, label=compiled)
        int8 = int8_model(args)
        if int8 is not None and onnx_paths:  # second, right under its float32 twin
            first, *rest = onnx_paths.items()
            shipped_label = first[0].split(" / ")[0]
            onnx_paths = dict([first, (f"{shipped_label} / ONNX Runtime int8", int8), *rest])
        times = measure_onnx(onnx_paths, x, args, Path(tmp)) if onnx_paths else {}
        times.update(measure(runners, args.iters, args.warmup))
    print(f"input {args.batch}x3x{args.size}x{args.size}, {args.threads} CPU threads, "
          f"{args.iters} timed calls each (in 5 turns), {describe_device(args.device)}, "
          f"torch {torch.__version__}; ONNX Runtime timed in separate processes without torch")
    print(table(times, args.batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
