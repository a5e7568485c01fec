"""PAM with its queries and keys zero-padded to the values' width, against the plain widths,
side by side in one run (not a test).

    python benchmarks/pam_padding.py --threads 2 --iters 30
    python benchmarks/pam_padding.py --device cuda --batch 64 --bf16

Why: DANet's PAM has C/8-wide queries and keys beside C-wide values; with those shapes
PyTorch's fused attention kernels do not apply and every PAM fell back to the plain path,
an N x M matrix in memory. Padding with zeros changes no energy (the padded products add
zeros), so ``PositionAttention`` pads outside exports (models.attention); this times the
generator both ways, turn by turn, and prints the largest output difference.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from mobilegan.config import ModelConfig
from mobilegan.hardware import describe_device
from mobilegan.models.attention import PositionAttention, plain_attention_shapes
from mobilegan.models.registry import build_model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--size", type=int, default=128, help="input height and width")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--iters", type=int, default=30, help="timed calls per turn")
    p.add_argument("--turns", type=int, default=3, help="turns, each timing both forms")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--strides", type=int, nargs="+", default=[4, 1],
                   help="pam_kv_stride values: 4 is the shipped network, 1 the paper's")
    return p.parse_args(argv)


def median_ms(model: torch.nn.Module, x: torch.Tensor, iters: int, plain: bool,
              autocast: contextlib.AbstractContextManager) -> float:
    times = []
    with torch.inference_mode(), autocast, plain_attention_shapes() if plain else contextlib.nullcontext():
        for _ in range(3):
            model(x)
        for _ in range(iters):
            if x.is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if x.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    autocast = (torch.autocast("cuda", torch.bfloat16) if args.bf16 and device.type == "cuda"
                else contextlib.nullcontext())
    print(f"input {tuple(x.shape)}, {describe_device(device)}, torch {torch.__version__}, "
          f"median of {args.iters} calls per turn, {args.turns} turns")
    print("| network | PAM widths | p50 ms per turn | best p50 ms | ratio | largest output difference |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for stride in args.strides:
        torch.manual_seed(0)
        model = build_model(ModelConfig(pam_kv_stride=stride)).to(device).eval()
        with torch.no_grad():  # the attention contributes, as in trained weights
            for module in model.modules():
                if isinstance(module, PositionAttention):
                    module.gamma.fill_(0.3)
        with torch.inference_mode():
            padded_out = model(x)
            with plain_attention_shapes():
                plain_out = model(x)
        difference = (padded_out.float() - plain_out.float()).abs().max().item()
        turns: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.turns):
            for plain in (True, False):
                turns[plain].append(median_ms(model, x, args.iters, plain, autocast))
        name = "shipped (PAM kv/4)" if stride == 4 else f"PAM kv/{stride}" if stride > 1 else "paper PAM"
        best_plain = min(turns[True])
        for plain in (True, False):
            cells = ", ".join(f"{t:.1f}" for t in turns[plain])
            best = min(turns[plain])
            print(f"| MobileGAN {name} | {'plain (C/8 vs C)' if plain else 'padded (C vs C)'} "
                  f"| {cells} | {best:.1f} | {best / best_plain:.2f}x | "
                  f"{'' if plain else f'{difference:.1e}'} |")


if __name__ == "__main__":
    main()
