"""Does the confidence score find the bad masks? Measured on a run's held-out images.

    python benchmarks/calibrate_confidence.py RUN_DIR DATA_DIR [--samples 8] [--limit N]

For every validation image of the run (ids from its splits.json, never a test set) it
segments with noise sampling, scores the mask against the ground truth, and reports how well
``confidence`` ranks failures (JAC < 0.65, the ISIC threshold): Spearman correlation with
JAC, AUROC, and the mean JAC of flagged and unflagged images at several thresholds. The
threshold to ship is then chosen on these held-out images.
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
from mobilegan.inference.segmenter import Segmenter
from mobilegan.metrics import image_metrics


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Probability that a random failure scores lower than a random success."""
    fail, ok = scores[positives], scores[~positives]
    if len(fail) == 0 or len(ok) == 0:
        return float("nan")
    wins = (fail[:, None] < ok[None, :]).sum() + 0.5 * (fail[:, None] == ok[None, :]).sum()
    return float(wins / (len(fail) * len(ok)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--split", default=None, help="split of DATA that holds the validation ids")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    val_ids = set(json.loads((args.run / "splits.json").read_text())["val"])
    samples = [s for s in load_samples(args.data, args.split) if s.id in val_ids][: args.limit]
    seg = Segmenter(args.run / "best.safetensors", samples=args.samples, seed=0)
    conf, jac = [], []
    for sample in tqdm(samples, desc="segmenting", unit="img"):
        result = seg.predict(sample.image)
        truth, _ = read_mask(sample.mask)
        conf.append(result.confidence)
        jac.append(image_metrics(result.mask, truth)["JAC"])
    conf_a, jac_a = np.array(conf), np.array(jac)
    failures = jac_a < 0.65
    report = {"n": len(conf), "samples": args.samples, "failures": int(failures.sum()),
              "spearman": float(spearmanr(conf_a, jac_a).statistic),
              "auroc_failure": auroc(conf_a, failures), "thresholds": []}
    print(f"{len(conf)} held-out images, {failures.sum()} failures (JAC < 0.65), "
          f"Spearman(confidence, JAC) = {report['spearman']:.3f}, AUROC = {report['auroc_failure']:.3f}")
    print("| flag below | flagged | mean JAC flagged | mean JAC kept | failures caught |")
    print("|---:|---:|---:|---:|---:|")
    for quantile in (0.05, 0.1, 0.2, 0.3):
        threshold = float(np.quantile(conf_a, quantile))
        flagged = conf_a < threshold
        row = {"threshold": threshold, "flagged": int(flagged.sum()),
               "jac_flagged": float(jac_a[flagged].mean()) if flagged.any() else float("nan"),
               "jac_kept": float(jac_a[~flagged].mean()),
               "failures_caught": int((flagged & failures).sum())}
        report["thresholds"].append(row)
        print(f"| {threshold:.3f} | {row['flagged']} | {row['jac_flagged']:.3f} | {row['jac_kept']:.3f} | "
              f"{row['failures_caught']} of {failures.sum()} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
