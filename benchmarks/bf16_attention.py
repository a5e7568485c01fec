"""How much does bf16 attention change MobileGAN's masks? Float32, bf16 autocast with the
attention maths kept in float32 (what the code does), and bf16 autocast with the attention
in bf16 too (what it did before; the GPU runs that collapsed used it), on the same images.

    python benchmarks/bf16_attention.py RUN_OR_WEIGHTS DATASET_DIR [--split heldout] [--device cpu]

CPUs with AVX-512 BF16 and GPUs both run it. DANet's energies are unscaled (CAM energies
reach 3.8e6 on the shipped weights), which 8 significant bits cannot resolve; this
measures what that does to the output, image by image.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

import numpy as np
import torch

from mobilegan.evaluation.evaluate import (labelled_batches, predict_probabilities, score,
                                           select_samples)
from mobilegan.evaluation.source import load_network, resolve_source
from mobilegan.hardware import describe_device, resolve_device
from mobilegan.models import attention

SETTINGS = ("float32", "bf16, attention float32", "bf16, attention bf16")


@contextlib.contextmanager
def precision(setting: str, device: torch.device, model: torch.nn.Module) -> Iterator[None]:
    if setting == "float32":
        yield
        return
    with torch.autocast(device.type, dtype=torch.bfloat16):
        if setting == "bf16, attention bf16":  # the code before attention kept float32
            saved = {m: m.float32_maths for m in model.modules() if hasattr(m, "float32_maths")}
            attention.attention_in_float32(model, False)
            try:
                yield
            finally:
                for module, setting_before in saved.items():
                    module.float32_maths = setting_before
        else:
            yield


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder or .safetensors")
    p.add_argument("dataset")
    p.add_argument("--split", default="heldout")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    source = resolve_source(args.run)
    model, _, _, _ = load_network(source, device)
    size = source.image_size
    samples = select_samples(args.dataset, args.split, source, args.limit)
    jac: dict[str, list[float]] = {s: [] for s in SETTINGS}
    change: dict[str, float] = {s: 0.0 for s in SETTINGS}
    for batch in labelled_batches(samples, args.batch_size, [], []):
        images = [image for _, image, _ in batch]
        maps = {}
        for setting in SETTINGS:
            with precision(setting, device, model):
                maps[setting] = predict_probabilities(model, images, size, device)
            for probability, (_, _, truth) in zip(maps[setting], batch):
                jac[setting].append(score(probability, truth, 0.5)[0]["JAC"])
            change[setting] = max(change[setting],
                                  float(np.abs(maps[setting] - maps["float32"]).max()))
    base = np.array(jac["float32"])
    print(f"{source.name} on {args.dataset} ({args.split}, {len(base)} images), "
          f"{describe_device(device)}, torch {torch.__version__}")
    print("| precision | JAC % | minus float32 (points, 95% CI) | largest probability change |")
    print("| --- | ---: | ---: | ---: |")
    for setting in SETTINGS:
        values = np.array(jac[setting])
        diff = 100 * (values - base)
        ci = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        print(f"| {setting} | {100 * values.mean():.2f} | {diff.mean():+.2f} +- {ci:.2f} | "
              f"{change[setting]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
