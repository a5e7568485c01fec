"""Can a phone feed the network smaller images? Accuracy and CPU speed of one model run at
several input sizes, float32 and int8 side by side.

    python benchmarks/input_size.py --sizes 64 96 128 160 192 256 --out results/input-size

The paper names a mobile application on low-resolution camera images as future work; the
network is convolutional apart from its global attention, so weights trained at 128x128 run
at any multiple of 8. This measures what that costs and saves, without retraining (a model
*trained* at 64 or 256 is a row of ``scripts/reproduce_tables.sh``):

- accuracy: ``mobilegan evaluate`` of the float32 weights and of their int8 file at every
  size, on the held-out validation images (where a size would be chosen) and the leak-free
  test set (where it is reported), with ``mobilegan segment``'s default exposure
  normalisation; every evaluation is an ordinary output folder with its provenance;
- speed: ONNX Runtime p50 latency at batch 1 of both files at every size, each call in a
  fresh torch-free process as ``--backend onnx|int8`` runs, sizes and files taking turns.

Writes ``README.md`` (the table) and ``input_size.png`` (JAC against latency) in ``--out``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from infer_speed import measure_onnx  # noqa: E402  (a sibling script, not a package)

from mobilegan.evaluation.evaluate import evaluate  # noqa: E402
from mobilegan.hardware import describe_device  # noqa: E402

#: The generator pools three times and its decoder must meet the encoder's shapes.
SIZE_MULTIPLE = 8
RUNTIMES = ("float32", "int8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=None,
                   help="float32 weights (.safetensors or run folder; default: shipped)")
    p.add_argument("--int8", type=Path, default=None,
                   help="their int8 ONNX file (default: the shipped one)")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128, 160, 192, 256])
    p.add_argument("--heldout", type=Path, default=Path("../shared/data/isic2018"),
                   help="data the weights' held-out ids come from (split 'heldout')")
    p.add_argument("--test", type=Path, default=Path("../shared/data/isic2017"),
                   help="test data (split 'test')")
    p.add_argument("--out", type=Path, default=Path("runs/input-size"))
    p.add_argument("--name", default="MobileGAN shipped")
    p.add_argument("--no-exposure", action="store_true",
                   help="score without exposure normalisation (segment's default is on)")
    p.add_argument("--limit", type=int, default=None, help="images per set (smoke tests)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=50, help="timed calls per file and size")
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args(argv)
    bad = [s for s in args.sizes if s <= 0 or s % SIZE_MULTIPLE]
    if bad:
        p.error(f"sizes must be positive multiples of {SIZE_MULTIPLE}: {bad}")
    return args


def model_files(args: argparse.Namespace) -> tuple[Path, Path]:
    from mobilegan.inference.segmenter import shipped_int8, shipped_weights

    weights = args.weights or shipped_weights()
    int8 = args.int8 or shipped_int8()
    for path in (weights, int8):
        if not path.exists():
            raise SystemExit(f"error: no model at {path}")
    return weights, int8


def scores(args: argparse.Namespace, files: dict[str, Path]) -> dict[tuple[str, str, int], float]:
    """Per-image mean JAC (%) for each (set, runtime, size)."""
    sets = {"heldout": (args.heldout, "heldout"), "test": (args.test, "test")}
    out: dict[tuple[str, str, int], float] = {}
    for size in args.sizes:
        for set_name, (data, split) in sets.items():
            for runtime, model in files.items():
                folder = args.out / f"{data.resolve().name}_{split}_{runtime}_{size}"
                result = evaluate(model, data, split=split, image_size=size, out_dir=folder,
                                  limit=args.limit, exposure=not args.no_exposure,
                                  name=f"{args.name}, {runtime}, run at {size}x{size}",
                                  progress=False)
                out[set_name, runtime, size] = 100 * result.summary["mean"]["JAC"]
                print(f"{size:>4} {set_name:>8} {runtime:>8}: JAC {out[set_name, runtime, size]:.2f}",
                      flush=True)
    return out


def latencies(args: argparse.Namespace, files: dict[str, Path], rounds: int = 5
              ) -> dict[tuple[str, int], float]:
    """p50 seconds per call for each (runtime, size); every size and file takes a turn in
    each of ``rounds`` rounds, so that a busy spell on a shared machine hits all alike."""
    from mobilegan.inference.export import export_onnx
    from mobilegan.models.io import load_model

    timing = argparse.Namespace(threads=args.threads, warmup=args.warmup, device="cpu",
                                iters=max(args.iters // rounds, 1))
    samples: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        weights = files["float32"]
        if weights.suffix != ".onnx":
            source = weights / "best.safetensors" if weights.is_dir() else weights
            weights = export_onnx(load_model(source)[0].eval(), Path(tmp) / "float32.onnx")
        onnx_files = {"float32": weights, "int8": files["int8"]}
        rng = np.random.default_rng(0)
        for _ in range(rounds):
            for size in args.sizes:
                x = rng.uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
                times = measure_onnx(onnx_files, x, timing, Path(tmp), rounds=1)
                for runtime, values in times.items():
                    samples.setdefault((runtime, size), []).extend(values)
    return {key: float(np.percentile(values, 50)) for key, values in samples.items()}


def table(args: argparse.Namespace, jac: dict[tuple[str, str, int], float],
          p50: dict[tuple[str, int], float]) -> str:
    reference = 128 if 128 in args.sizes else args.sizes[0]
    base = p50["int8", reference]
    lines = [f"| input | float32 p50 ms | int8 p50 ms | int8 time vs {reference} | held-out JAC float32 | "
             "held-out JAC int8 | test JAC float32 | test JAC int8 |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in args.sizes:
        lines.append(f"| {size}x{size} | {1e3 * p50['float32', size]:.1f} | {1e3 * p50['int8', size]:.1f} | "
                     f"{p50['int8', size] / base:.2f}x | {jac['heldout', 'float32', size]:.2f} | "
                     f"{jac['heldout', 'int8', size]:.2f} | {jac['test', 'float32', size]:.2f} | "
                     f"{jac['test', 'int8', size]:.2f} |")
    return "\n".join(lines)


def plot(args: argparse.Namespace, jac: dict[tuple[str, str, int], float],
         p50: dict[tuple[str, int], float], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for set_name, marker in (("heldout", "o"), ("test", "s")):
        for runtime, colour in (("float32", "tab:blue"), ("int8", "tab:orange")):
            xs = [1e3 * p50[runtime, s] for s in args.sizes]
            ys = [jac[set_name, runtime, s] for s in args.sizes]
            ax.plot(xs, ys, marker=marker, color=colour, linestyle="-" if set_name == "test" else ":",
                    label=f"{runtime}, {'held-out' if set_name == 'heldout' else 'test'}")
            if runtime == "int8":
                for x, y, s in zip(xs, ys, args.sizes):
                    ax.annotate(str(s), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel(f"ONNX Runtime p50 latency, batch 1, {args.threads} CPU threads (ms)")
    ax.set_ylabel("per-image Jaccard index (%)")
    ax.set_title(f"{args.name}: input size (labels) vs accuracy and speed")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _shown(path: Path) -> str:
    """A path as the reader's checkout would name it: relative when under the current folder."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    weights, int8 = model_files(args)
    files = {"float32": weights, "int8": int8}
    jac = scores(args, files)
    p50 = latencies(args, files)
    text = table(args, jac, p50)
    args.out.mkdir(parents=True, exist_ok=True)
    header = (f"# {args.name} run at other input sizes than it trained at\n\n"
              f"`python benchmarks/input_size.py {shlex.join(sys.argv[1:])}`, "
              f"{time.strftime('%Y-%m-%d %H:%M %Z')}; "
              f"{describe_device('cpu')}; exposure normalisation "
              f"{'off' if args.no_exposure else 'on'}; scores per image at the ground truth's "
              f"resolution{f'; first {args.limit} images only' if args.limit else ''}. "
              f"Float32 file: `{_shown(weights)}`; int8 file: `{_shown(int8)}`.\n\n")
    (args.out / "README.md").write_text(header + text + "\n\n![JAC against latency](input_size.png)\n")
    plot(args, jac, p50, args.out / "input_size.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
