"""Does another probability threshold than 0.5 help? Chosen on held-out images, reported on a test.

    python benchmarks/threshold_sweep.py src/mobilegan/weights/mobilegan.safetensors \
        ../shared/data/isic2018 --test-data ../shared/data/isic2017 --out results/v5/threshold

Each image is predicted once; its probability map is resized to the ground truth's
resolution (bilinear, as ``mobilegan evaluate`` does) and scored at every threshold of the
sweep. The threshold with the best mean JAC on the run's held-out validation ids is the
choice if it beats 0.5 there clear of noise (the paired per-image 95% interval of its gain
above zero); otherwise 0.5 stays. The test set only *reports* what the best held-out
threshold does against 0.5, as a paired per-image difference (never choose on it). Writes
sweep.md, sweep.json and sweep.png (each set's mean JAC against the threshold) under
``--out``.

With your own labelled images (a camera of yours, another clinic) choose on them instead:
``--choose-split all`` with DATA your folder, and no --test-data; keep some images aside if
you also want an honest score of the choice.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from mobilegan.evaluation.compare import paired_difference
from mobilegan.evaluation.evaluate import labelled_batches, predict_probabilities, select_samples
from mobilegan.evaluation.figures import plot_threshold_sweep
from mobilegan.evaluation.source import load_network, resolve_source
from mobilegan.hardware import resolve_device
from mobilegan.inference.postprocess import clean_mask
from mobilegan.inference.preprocess import normalize_exposure
from mobilegan.metrics import image_metrics
from mobilegan.metrics.isic import resize_probability

DEFAULT_THRESHOLDS = tuple(round(0.25 + 0.05 * i, 2) for i in range(11))  # 0.25 ... 0.75


def jac_by_threshold(probability: np.ndarray, truth: np.ndarray, thresholds: Sequence[float],
                     postprocess: bool = False) -> list[float]:
    """JAC of one image at each threshold, the map resized once to the truth's (H, W)."""
    soft = resize_probability(probability, truth.shape)
    scores = []
    for t in thresholds:
        mask = soft > t
        if postprocess:
            mask = clean_mask(mask)
        scores.append(image_metrics(mask, truth)["JAC"])
    return scores


def sweep(weights: Path, dataset: Path, split: str, thresholds: Sequence[float], *,
          tta: bool = False, postprocess: bool = False, exposure: bool = False,
          limit: int | None = None, device: str = "auto", batch_size: int = 16,
          ) -> dict[str, list[float]]:
    """Per-image JAC at every threshold: {id: [JAC at thresholds[0], ...]}."""
    source = resolve_source(weights)
    size = source.image_size
    torch_device = resolve_device(device)
    model = load_network(source, torch_device)[0]
    samples = select_samples(dataset, split, source, limit)
    scores: dict[str, list[float]] = {}
    skipped: list[dict[str, str]] = []
    with tqdm(total=len(samples), desc=f"{dataset.name} {split}", unit="img") as bar:
        for batch in labelled_batches(samples, batch_size, skipped, []):
            images = [normalize_exposure(image) if exposure else image for _, image, _ in batch]
            maps = predict_probabilities(model, images, size, torch_device, tta)
            for (sample, _image, truth), probability in zip(batch, maps):
                scores[sample.id] = jac_by_threshold(probability, truth, thresholds, postprocess)
            bar.update(len(batch))
    if skipped:
        print(f"{len(skipped)} images of {dataset} skipped, first: {skipped[0]['reason']}")
    return scores


def choose(scores: dict[str, list[float]], thresholds: Sequence[float],
           default: float = 0.5) -> tuple[float, float]:
    """(best, chosen): the threshold with the best mean JAC (the lower one on a tie), and
    the one to use: the best if its paired gain over ``default`` is clear of noise (95%
    interval above zero), else ``default``."""
    means = np.array(list(scores.values())).mean(axis=0)
    best = float(thresholds[int(np.argmax(means))])
    if best == default or len(scores) < 2:
        return best, default
    gain = paired_difference(column(scores, thresholds, best), column(scores, thresholds, default))
    return best, (best if gain.mean - gain.half_width > 0 else default)


def column(scores: dict[str, list[float]], thresholds: Sequence[float], t: float) -> dict[str, float]:
    """{id: JAC at threshold t}."""
    k = list(thresholds).index(t)
    return {i: values[k] for i, values in scores.items()}


def markdown(table: dict[str, dict[str, list[float]]], thresholds: Sequence[float],
             best: float, chosen: float, default: float, choosing: str = "held-out") -> str:
    lines = ["| threshold | " + " | ".join(f"{name} JAC (n = {len(s)})" for name, s in table.items()) + " |",
             "| ---: |" + " ---: |" * len(table)]
    means = {name: np.array(list(s.values())).mean(axis=0) for name, s in table.items()}
    for k, t in enumerate(thresholds):
        marks = [m for m, on in ((f"best on {choosing}", t == best), ("default", t == default)) if on]
        mark = f" ({', '.join(marks)})" if marks else ""
        lines.append(f"| {t:.2f}{mark} | " + " | ".join(f"{100 * means[name][k]:.2f}" for name in table) + " |")
    lines.append("")
    if best != default:
        for name, scores in table.items():
            diff = paired_difference(column(scores, thresholds, best), column(scores, thresholds, default))
            lines.append(f"- {name}: {best:.2f} minus {default:.2f}: {diff.markdown()} JAC points "
                         f"(paired per image, 95% interval)")
    if chosen != default:
        lines.append(f"- chosen: {chosen:.2f}, its gain on {choosing} is clear of noise")
    elif best != default:
        lines.append(f"- chosen: {default:.2f} (the default); the gain of {best:.2f} on {choosing} "
                     f"is within noise")
    else:
        lines.append(f"- chosen: {default:.2f}, the best on {choosing}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path, help="run folder or .safetensors with its splits.json")
    parser.add_argument("data", type=Path, help="the images the threshold is chosen on: the run's "
                        "training dataset (its held-out ids are read there) or your own labelled folder")
    parser.add_argument("--choose-split", default="heldout",
                        help="split of DATA to choose on: heldout (default: the run's own validation "
                             "ids), or all, val, train for a folder of your own")
    parser.add_argument("--test-data", type=Path, default=None, help="labelled test set to report on")
    parser.add_argument("--test-split", default="test", help="split of --test-data (default: test)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS),
                        help="thresholds to sweep (default 0.25 to 0.75 in steps of 0.05)")
    parser.add_argument("--tta", action="store_true", help="average over flips")
    parser.add_argument("--postprocess", action="store_true", help="largest component, holes filled")
    parser.add_argument("--normalize-exposure", action="store_true", help="as `mobilegan segment` does")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set (smoke)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out", type=Path, default=None, help="folder for sweep.md and sweep.json")
    args = parser.parse_args()
    thresholds = sorted(set(args.thresholds))
    if not all(0.0 < t < 1.0 for t in thresholds):
        parser.error("--thresholds must lie in (0, 1)")
    default = 0.5
    if default not in thresholds:
        thresholds = sorted(thresholds + [default])
    options = dict(tta=args.tta, postprocess=args.postprocess, exposure=args.normalize_exposure,
                   limit=args.limit, device=args.device)
    choosing = "held-out" if args.choose_split == "heldout" else f"{args.data.name} {args.choose_split}"
    try:  # a wrong path or split is the user's to fix: one line, no stack trace
        table = {choosing: sweep(args.weights, args.data, args.choose_split, thresholds, **options)}
        if args.test_data:
            table["test"] = sweep(args.weights, args.test_data, args.test_split, thresholds, **options)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    best, chosen = choose(table[choosing], thresholds, default)
    switches = [name for name, on in (("flip TTA", args.tta), ("post-processing", args.postprocess),
                                       ("exposure normalisation", args.normalize_exposure)) if on]
    report = (f"Mean JAC of `{args.weights.name}` at each mask threshold ("
              f"{', '.join(switches) or 'raw maps'}); chosen on {choosing}"
              f"{', reported on the test set' if args.test_data else ''}.\n\n"
              + markdown(table, thresholds, best, chosen, default, choosing))
    print(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sweep.md").write_text(report)
        record = {"weights": str(args.weights), "thresholds": thresholds, "best": best, "chosen": chosen,
                  "chosen_on": choosing,
                  "default": default, "options": {k: v for k, v in options.items() if k != "device"},
                  "mean_jac": {name: [float(m) for m in np.array(list(s.values())).mean(axis=0)]
                               for name, s in table.items()},
                  "n": {name: len(s) for name, s in table.items()}}
        (args.out / "sweep.json").write_text(json.dumps(record, indent=2) + "\n")
        plot_threshold_sweep(thresholds, record["mean_jac"], args.out / "sweep.png", best,
                             f"best on {choosing}: {best:g}, chosen: {chosen:g}", default,
                             f"{args.weights.name}: mean JAC against the mask threshold")


if __name__ == "__main__":
    main()
