"""Images/s of one full GAN training step (D step + G step), side by side in one run.

    python benchmarks/train_speed.py                 # CPU here
    python benchmarks/train_speed.py --device cuda   # GPU (bf16 autocast; --compile)

Each model trains on random uint8 images held on the device, through the same
``Trainer._step`` as real training (augmentation included). Speeds are reported as
images/s and as ratios to MobileGAN at batch 8 on the same device.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from mobilegan.config import RunConfig, apply_overrides
from mobilegan.data.cache import CachedSet
from mobilegan.hardware import describe_device
from mobilegan.training.data_setup import PreparedData
from mobilegan.training.trainer import Trainer

MODELS = {
    "MobileGAN (paper PAM)": ["model.name=mobilegan", "model.pam_kv_stride=1"],
    "MobileGAN (PAM kv/2)": ["model.name=mobilegan", "model.pam_kv_stride=2"],
    "MobileGAN (PAM kv/4, shipped)": ["model.name=mobilegan", "model.pam_kv_stride=4"],
    "U-Net": ["model.name=unet"],
}


def synthetic_data(n: int, size: int) -> PreparedData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    masks = (torch.rand(n, 1, size, size, generator=g) > 0.7).to(torch.uint8)
    cached = CachedSet(images, masks, [str(i) for i in range(n)])
    info = {"protocol": "benchmark", "leak_label": "", "train_ids_sha256": "-"}
    return PreparedData(cached, CachedSet(images[:8], masks[:8], cached.ids[:8]), info)


def images_per_second(overrides: list[str], batch: int, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as out:
        cfg = apply_overrides(RunConfig(), overrides + [
            f"data.train_dir={out}",  # the data are synthetic; any existing folder will do
            f"train.batch_size={batch}", f"train.device={args.device}", "train.progress=false",
            f"data.image_size={args.size}", f"train.compile={str(args.compile).lower()}"])
        cfg.out_dir = out
        trainer = Trainer(cfg, data=synthetic_data(max(batch, 16), args.size))
        indices = torch.arange(batch)
        sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
        for _ in range(args.warmup):
            trainer._step(*trainer._batch(indices))
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer._step(*trainer._batch(indices))
        sync()
        return args.steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 3 on CPU, 20 on GPU)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    args.steps = args.steps or (20 if gpu else 3)
    args.warmup = args.warmup if args.warmup is not None else (5 if gpu else 1)
    torch.set_num_threads(args.threads)
    print(f"one GAN step (D + G), {args.size}x{args.size}, {describe_device(args.device)}, "
          f"bf16 autocast: {gpu}")
    results = {}
    for name in args.models:
        for batch in args.batches:
            results[(name, batch)] = images_per_second(MODELS[name], batch, args)
            print(f"  measured {name:<24} batch {batch:>3}: {results[(name, batch)]:8.1f} img/s", flush=True)
    base = results.get((args.models[0], args.batches[0]))
    print(f"\n| model | batch | images/s | ratio to {args.models[0]} @ batch {args.batches[0]} |")
    print("|---|---:|---:|---:|")
    for (name, batch), rate in results.items():
        print(f"| {name} | {batch} | {rate:.1f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
