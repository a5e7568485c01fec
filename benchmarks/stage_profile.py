"""Where MobileGAN's inference time goes, stage by stage (not a test).

    python benchmarks/stage_profile.py                                  # CPU, batch 1
    python benchmarks/stage_profile.py --device cuda --batch 64 --bf16 --kernels 15

Why: on the H200 the shipped generator ran at 0.60-0.62x the U-Net's images/s (issue 6 asks for
at least 1x), and no measurement said which part of it is slow. Each top-level stage of the
generator (the multi-scale stem, every encoder layer, the two decoder streams, the head) is
timed by hooks around its forward, with CUDA events on a GPU, over ``--iters`` eager calls;
every channel (CAM) and position (PAM) attention module is timed the same way and summed, so
the table also says what the attention costs wherever it sits. ``--kernels N`` adds the N
costliest kernels from torch.profiler. Hooks and events add a little time of their own: read
the shares, and take images/s from ``benchmarks/infer_speed.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from mobilegan.hardware import describe_device
from mobilegan.models.attention import ChannelAttention, PositionAttention


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=128, help="input height and width")
    p.add_argument("--iters", type=int, default=20, help="timed calls")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--weights", default=None, help="MobileGAN .safetensors (default: shipped)")
    p.add_argument("--kernels", type=int, default=0, metavar="N",
                   help="also list the N costliest kernels (torch.profiler)")
    p.add_argument("--compiled", action="store_true",
                   help="with --kernels, also list them for the generator through torch.compile "
                        "(default mode: no CUDA graphs, so that each kernel shows)")
    return p.parse_args(argv)


def stages(generator: nn.Module) -> dict[str, nn.Module]:
    """The generator's top-level stages in the order they run, named for the table."""
    named = {"stem (multi-scale input)": generator.stem}
    for i, layer in enumerate(generator.encoder):
        named[f"encoder.{i} {type(layer).__name__}"] = layer
    for i, stream in enumerate(generator.streams):
        named[f"decoder stream {i}"] = stream
    named["head"] = generator.head
    return named


class Clock:
    """Elapsed time of a piece of work, by CUDA events on a GPU (no synchronisation inside
    the forward) or by the wall clock on a CPU."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda

    def mark(self) -> object:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def seconds(self, start: object, end: object) -> float:
        if self.cuda:
            return start.elapsed_time(end) / 1000  # type: ignore[attr-defined]
        return end - start  # type: ignore[operator]


@contextlib.contextmanager
def timed_modules(modules: dict[str, nn.Module], clock: Clock) -> Iterator[list[tuple]]:
    """While open, every forward of a named module appends ``(name, start, end)``."""
    spans: list[tuple] = []
    handles = []
    for name, module in modules.items():
        def before(_module, _inputs, name=name):
            _module._stage_start = clock.mark()

        def after(_module, _inputs, _output, name=name):
            spans.append((name, _module._stage_start, clock.mark()))
        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield spans
    finally:
        for handle in handles:
            handle.remove()


def attention_modules(generator: nn.Module) -> dict[str, nn.Module]:
    found = {}
    for name, module in generator.named_modules():
        if isinstance(module, ChannelAttention):
            found[f"CAM {name}"] = module
        elif isinstance(module, PositionAttention):
            found[f"PAM {name}"] = module
    return found


def profile(generator: nn.Module, x: torch.Tensor, iters: int, warmup: int,
            autocast: contextlib.AbstractContextManager, clock: Clock,
            sync: Callable[[], None]) -> tuple[dict[str, float], float]:
    """Seconds per call of each stage and attention module, and of the whole forward."""
    watched = {**stages(generator), **attention_modules(generator)}
    totals: dict[str, float] = defaultdict(float)
    whole = 0.0
    with torch.inference_mode(), autocast:
        for _ in range(warmup):
            generator(x)
        sync()
        with timed_modules(watched, clock) as spans:
            for _ in range(iters):
                start = clock.mark()
                generator(x)
                end = clock.mark()
                sync()
                whole += clock.seconds(start, end)
                for name, begin, finish in spans:
                    totals[name] += clock.seconds(begin, finish)
                spans.clear()
    return {name: t / iters for name, t in totals.items()}, whole / iters


def table(per_call: dict[str, float], whole: float, generator: nn.Module, batch: int) -> str:
    lines = ["| stage | ms per call | share |", "|---|---:|---:|"]

    def row(name: str, seconds: float) -> None:
        lines.append(f"| {name} | {1000 * seconds:.3f} | {100 * seconds / whole:.1f}% |")

    staged = 0.0
    for name in stages(generator):
        row(name, per_call.get(name, 0.0))
        staged += per_call.get(name, 0.0)
    row("between stages (upsampling, sums)", max(whole - staged, 0.0))
    row(f"**whole forward** ({batch / whole:,.0f} images/s)", whole)
    for kind in ("CAM", "PAM"):
        times = [t for name, t in per_call.items() if name.startswith(kind + " ")]
        row(f"of which {kind}, {len(times)} modules", sum(times))
    return "\n".join(lines)


def kernel_table(generator: nn.Module, x: torch.Tensor, autocast, cuda: bool, top: int) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with torch_profile(activities=activities) as prof, torch.inference_mode(), autocast:
        for _ in range(3):
            generator(x)
        if cuda:
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=top)


def main(argv: list[str] | None = None) -> int:
    from mobilegan.inference.segmenter import shipped_weights
    from mobilegan.models.io import load_model

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    path = Path(args.weights) if args.weights else shipped_weights()
    generator = load_model(path)[0].eval().to(args.device)
    x = torch.rand(args.batch, 3, args.size, args.size, device=args.device)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and args.bf16
                else contextlib.nullcontext())
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    per_call, whole = profile(generator, x, args.iters, args.warmup, autocast, Clock(cuda), sync)
    precision = "bf16 autocast" if cuda and args.bf16 else "float32"
    print(f"MobileGAN ({path.name}) stage by stage: {describe_device(args.device)}, batch "
          f"{args.batch}, {args.size}x{args.size}, eager, {precision}, mean of {args.iters} calls")
    print()
    print(table(per_call, whole, generator, args.batch))
    if args.kernels:
        print()
        print(kernel_table(generator, x, autocast, cuda, args.kernels))
    if args.kernels and args.compiled:
        # Compiled, the stages fuse across their borders, so only kernels can say where the
        # time goes (on 2026-11-30 compiling tripled eager's images/s, and still 0.62x the U-Net's).
        compiled = torch.compile(generator)
        with torch.inference_mode(), autocast:
            for _ in range(2):
                compiled(x)
        print()
        print("The same generator through torch.compile (default mode), its costliest kernels:")
        print()
        print(kernel_table(compiled, x, autocast, cuda, args.kernels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
