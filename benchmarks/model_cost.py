"""Parameters, multiply-adds and CPU latency of each network, side by side (not a test).

    python benchmarks/model_cost.py [--size 128] [--threads 2] [--repeats 20] [--onnx]

Latency: batch 1, PyTorch eager, eval mode (noise z off), ``torch.no_grad``, median of
``--repeats`` timed passes after warm-up, the models timed in turn. ``--onnx`` adds
onnxruntime (CPU, same threads) on the exported graph. Ratios are to the U-Net. Numbers on
a shared machine are noisy: compare rows from one run, not across runs. With 2 threads on
a busy 2-core machine, PyTorch's OpenMP barriers wait on the other process and eager
latencies swing by 10x; use ``--threads 1`` there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from mobilegan.config import ModelConfig
from mobilegan.hardware import cpu_name
from mobilegan.models.registry import build_model
from mobilegan.models.summary import count_macs, count_parameters

MODELS: dict[str, ModelConfig] = {
    "mobilegan (paper)": ModelConfig(),
    "mobilegan pam_kv_stride=2": ModelConfig(pam_kv_stride=2),
    "mobilegan shipped (stride 4)": ModelConfig(pam_kv_stride=4),
    "mobilegan no attention": ModelConfig(attention=False),
    "mobilegan single scale": ModelConfig(multiscale=False),
    "unet": ModelConfig(name="unet"),
}


@dataclass
class Cost:
    name: str
    params: int
    macs: int
    torch_ms: float = float("nan")
    onnx_ms: float | None = None


def _round_robin_ms(runs: dict[str, Callable[[], object]], repeats: int,
                    warmup: int = 3, rounds: int = 5) -> dict[str, float]:
    """Median ms per callable. The callables take turns in ``rounds`` blocks of calls, so
    that load from other processes on a shared machine hits every model alike and the
    ratios stay fair; a block (one untimed call first) lets the model run alone, as
    infer_speed.py does: turn by turn, the threads ONNX Runtime keeps spinning after a call
    slowed the next session's call (2 threads: 54 ms for the shipped network against 34 ms
    with one)."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    rounds = max(1, min(rounds, repeats))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for block in range(rounds):
        calls = repeats // rounds + (block < repeats % rounds)
        for name, run in runs.items():
            run()
            for _ in range(calls):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def _torch_runner(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def forward() -> object:
        with torch.no_grad():
            return model(x)

    return forward


def measure(names: list[str], size: int, threads: int, repeats: int, onnx: bool) -> list[Cost]:
    torch.manual_seed(0)
    models = {n: build_model(MODELS[n]).eval() for n in names}
    inputs = {n: torch.randn(1, MODELS[n].in_channels, size, size) for n in names}
    costs = {n: Cost(n, count_parameters(m), count_macs(m, (size, size)))
             for n, m in models.items()}
    torch_ms = _round_robin_ms({n: _torch_runner(models[n], inputs[n]) for n in names}, repeats)
    for n, ms in torch_ms.items():
        costs[n].torch_ms = ms
    if onnx:
        from mobilegan.inference.export import export_onnx, onnx_session

        with tempfile.TemporaryDirectory() as tmp:
            runs = {}
            for i, n in enumerate(names):
                path = export_onnx(models[n], Path(tmp) / f"{i}.onnx", example_size=(size, size))
                session, feed = onnx_session(path, threads=threads), {"image": inputs[n].numpy()}
                runs[n] = lambda session=session, feed=feed: session.run(None, feed)
            for n, ms in _round_robin_ms(runs, repeats).items():
                costs[n].onnx_ms = ms
    return list(costs.values())


def table(costs: list[Cost], size: int, threads: int) -> str:
    base = next(c for c in costs if c.name == "unet")
    onnx = any(c.onnx_ms is not None for c in costs)
    head = (f"{'model':<27} {'params':>10} {'x unet':>7} {'GMACs':>7} {'x unet':>7} "
            f"{'torch ms':>9} {'x unet':>7}")
    head += f" {'onnx ms':>8}" if onnx else ""
    lines = [f"batch 1, {size}x{size}, {threads} CPU threads ({cpu_name()}), eager PyTorch "
             f"{torch.__version__}, {time.strftime('%Y-%m-%d')}",
             head, "-" * len(head)]
    for c in costs:
        line = (f"{c.name:<27} {c.params / 1e6:9.3f}M {c.params / base.params:7.3f} "
                f"{c.macs / 1e9:7.3f} {c.macs / base.macs:7.3f} {c.torch_ms:9.1f} "
                f"{c.torch_ms / base.torch_ms:7.3f}")
        line += f" {c.onnx_ms:8.1f}" if c.onnx_ms is not None else ""
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--onnx", action="store_true", help="also time onnxruntime")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="substrings of the model names to run (the U-Net always runs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n for n in MODELS if n == "unet" or not args.only or any(s in n for s in args.only)]
    costs = measure(names, args.size, args.threads, args.repeats, args.onnx)
    print(json.dumps([asdict(c) for c in costs], indent=2) if args.json
          else table(costs, args.size, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
