"""Does the confidence score find the bad masks? Chosen on held-out images, reported on a test.

    python benchmarks/calibrate_confidence.py RUN_OR_WEIGHTS DATA_DIR [--samples 1] [--limit N]
    python benchmarks/calibrate_confidence.py RUN_OR_WEIGHTS DATA_DIR --split test --every-image

By default it segments every validation image of the run (ids from its splits.json, never
a test set), scores each mask against the ground truth and reports how well
``confidence`` ranks failures (JAC < 0.65, the ISIC threshold): Spearman correlation with
JAC, AUROC, and the mean JAC of flagged and kept images at several quantiles. The shipped
threshold (``mobilegan.inference.segmenter.LOW_CONFIDENCE``, ``LOW_CONFIDENCE_SAMPLED``
for ``--samples 8``, ``LOW_CONFIDENCE_FEW_SAMPLES`` for 2 and 4, and the ``--tta`` twins)
is chosen there.
``--every-image`` scores a whole split instead (a test set, to *report* how the shipped
threshold does; never choose a threshold there). Beside the shipped score it reports the
previous definition (1 - mean predictive entropy around the lesion) as a baseline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from mobilegan.data.io import read_mask
from mobilegan.data.layouts import load_samples
from mobilegan.evaluation.figures import plot_confidence
from mobilegan.evaluation.source import resolve_source
from mobilegan.inference import postprocess
from mobilegan.inference import segmenter
from mobilegan.inference.segmenter import Segmenter, low_confidence_threshold
from mobilegan.metrics import image_metrics

FAILURE_JAC = 0.65
SHIPPED_THRESHOLDS = {"LOW_CONFIDENCE": segmenter.LOW_CONFIDENCE,
                      "LOW_CONFIDENCE_SAMPLED": segmenter.LOW_CONFIDENCE_SAMPLED,
                      **{f"LOW_CONFIDENCE_FEW_SAMPLES[{n}]": value
                         for n, value in segmenter.LOW_CONFIDENCE_FEW_SAMPLES.items()},
                      "LOW_CONFIDENCE_TTA": segmenter.LOW_CONFIDENCE_TTA,
                      "LOW_CONFIDENCE_SAMPLED_TTA": segmenter.LOW_CONFIDENCE_SAMPLED_TTA}


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Probability that a random failure scores lower than a random success."""
    fail, ok = scores[positives], scores[~positives]
    if len(fail) == 0 or len(ok) == 0:
        return float("nan")
    wins = (fail[:, None] < ok[None, :]).sum() + 0.5 * (fail[:, None] == ok[None, :]).sum()
    return float(wins / (len(fail) * len(ok)))


def entropy_confidence(probability: np.ndarray, mask: np.ndarray, margin: float = 0.25) -> float:
    """The score used before (kept here as the baseline): 1 - mean binary entropy (bits)
    of the probability over the lesion's bounding box grown by ``margin``."""
    box = postprocess.bbox(mask)
    window = probability
    if box is not None:
        x0, y0, x1, y1 = box
        dx, dy = int(np.ceil((x1 - x0) * margin)) + 1, int(np.ceil((y1 - y0) * margin)) + 1
        window = probability[max(0, y0 - dy):y1 + dy, max(0, x0 - dx):x1 + dx]
    p = np.clip(window.astype(np.float64), 1e-6, 1 - 1e-6)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return float(np.clip(1.0 - entropy.mean(), 0.0, 1.0))


def flag_row(scores: np.ndarray, jac: np.ndarray, threshold: float) -> dict:
    flagged, failures = scores < threshold, jac < FAILURE_JAC
    return {"threshold": threshold, "flagged": int(flagged.sum()),
            "jac_flagged": float(jac[flagged].mean()) if flagged.any() else float("nan"),
            "jac_kept": float(jac[~flagged].mean()) if (~flagged).any() else float("nan"),
            "failures_caught": int((flagged & failures).sum())}


def summarise(scores: np.ndarray, jac: np.ndarray, shipped: float) -> dict:
    failures = jac < FAILURE_JAC
    return {"spearman": float(spearmanr(scores, jac).statistic),
            "auroc_failure": auroc(scores, failures),
            "quantiles": [{"quantile": q, **flag_row(scores, jac, float(np.quantile(scores, q)))}
                          for q in (0.05, 0.1, 0.2, 0.3)],
            "shipped_threshold": flag_row(scores, jac, shipped),
            # what each shipped threshold would do here: why each way of running has its own
            "every_shipped_threshold": {name: flag_row(scores, jac, value)
                                        for name, value in SHIPPED_THRESHOLDS.items()}}


def print_summary(name: str, summary: dict, failures: int) -> None:
    print(f"\n{name}: Spearman(confidence, JAC) = {summary['spearman']:.3f}, "
          f"AUROC = {summary['auroc_failure']:.3f}")
    print("| flag below | flagged | mean JAC flagged | mean JAC kept | failures caught |")
    print("|---:|---:|---:|---:|---:|")
    for row in summary["quantiles"] + [summary["shipped_threshold"]]:
        print(f"| {row['threshold']:.3f} | {row['flagged']} | {row['jac_flagged']:.3f} | "
              f"{row['jac_kept']:.3f} | {row['failures_caught']} of {failures} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder or a .safetensors file (its "
                        "splits.json or <name>.splits.json beside it gives the validation ids)")
    parser.add_argument("data", type=Path)
    parser.add_argument("--split", default=None, help="split of DATA to read")
    parser.add_argument("--every-image", action="store_true",
                        help="score every image of the split (to report on a test set), not the run's validation ids")
    parser.add_argument("--samples", type=int, default=1, help="noise samples (1 = the default, deterministic)")
    parser.add_argument("--tta", action="store_true", help="flip test-time augmentation (its own threshold)")
    parser.add_argument("--int8", type=Path, default=None,
                        help="score this int8 ONNX file (the shipped one: its weights' twin) "
                             "with the float threshold, instead of the weights themselves")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--plot", type=Path, default=None, help="and a PNG of JAC against confidence here")
    args = parser.parse_args()
    if args.int8 and args.samples > 1:
        parser.error("--int8 cannot sample the noise z (the ONNX file has none): --samples 1")
    source = resolve_source(args.run)  # a run folder, or weights with their splits beside them
    samples = load_samples(args.data, args.split)
    if not args.every_image:
        if not source.splits or not source.splits.get("val"):
            parser.error(f"{args.run}: no splits.json with validation ids beside these weights; "
                         f"pass a run folder, or --every-image to score a whole split")
        val_ids = set(source.splits["val"])
        samples = [s for s in samples if s.id in val_ids]
    unlabelled = [s.id for s in samples if s.mask is None]
    if unlabelled:  # confidence is judged against the truth: an image without one is no use
        print(f"skipping {len(unlabelled)} image(s) without a mask, e.g. {unlabelled[0]}")
        samples = [s for s in samples if s.mask is not None]
    samples = samples[: args.limit]
    seg = (Segmenter(args.int8, backend="int8", tta=args.tta) if args.int8 else
           Segmenter(source.weights, samples=args.samples, seed=0, tta=args.tta))
    flag_below = low_confidence_threshold(args.samples, args.tta)  # the shipped choice for this way
    shipped, baseline, jac = [], [], []
    for sample in tqdm(samples, desc="segmenting", unit="img"):
        result = seg.predict(sample.image)
        truth, _ = read_mask(sample.mask)
        shipped.append(result.confidence)
        baseline.append(entropy_confidence(result.probability, result.mask))
        jac.append(image_metrics(result.mask, truth)["JAC"])
    jac_a = np.array(jac)
    failures = int((jac_a < FAILURE_JAC).sum())
    report = {"images": "every image of the split" if args.every_image else "the run's validation ids",
              "data": str(args.data), "split": args.split, "n": len(jac), "samples": args.samples,
              "tta": args.tta, "backend": seg.backend.name,
              "failures": failures, "mean_jac": float(jac_a.mean()),
              "confidence": summarise(np.array(shipped), jac_a, flag_below),
              "baseline_entropy": summarise(np.array(baseline), jac_a, flag_below)}
    print(f"{len(jac)} images, {failures} failures (JAC < {FAILURE_JAC}); shipped threshold {flag_below}")
    print_summary("confidence (threshold stability, shipped)", report["confidence"], failures)
    print_summary("baseline (1 - entropy around the lesion)", report["baseline_entropy"], failures)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.plot:
        where = "every image" if args.every_image else "validation images"
        plot_confidence(shipped, jac, args.plot, flag_below=flag_below,
                        title=f"{args.data.name} {args.split or ''} ({where}, n = {len(jac)}): "
                              f"flag below {flag_below}", failure=FAILURE_JAC)


if __name__ == "__main__":
    main()
