"""How does a model do on small and on large lesions? Scores already computed, binned by the
ground truth's lesion area.

    python benchmarks/lesion_size.py results/v5/isic2018_heldout results/v5/isic2017_test \
        --data ../shared/data/isic2018 ../shared/data/isic2017 --names held-out test

Reads each evaluation's per_image.csv (nothing is predicted again) and the ground-truth
mask of every scored id from the matching data folder, and prints, per evaluation, the
number of images, mean JAC and mean SEN in each band of lesion area (% of the image).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mobilegan.data.io import read_mask
from mobilegan.data.layouts import discover
from mobilegan.evaluation.evaluate import read_per_image

#: Band edges, % of the image that is lesion (the last band takes everything above 70%).
EDGES = (0.0, 5.0, 10.0, 20.0, 40.0, 70.0, 100.0)


def lesion_areas(data: Path, ids: Sequence[str]) -> dict[str, float]:
    """% of the image that is lesion in the ground truth, for each id found under ``data``."""
    masks = {s.id: s.mask for group in discover(data).values() for s in group if s.mask is not None}
    missing = [i for i in ids if i not in masks]
    if missing:
        raise ValueError(f"{len(missing)} scored ids have no mask under {data}, e.g. {missing[0]}")
    return {i: 100.0 * float(read_mask(masks[i])[0].mean()) for i in ids}


def band_of(area: float, edges: Sequence[float] = EDGES) -> int:
    """Index of the band holding ``area`` (the upper edge belongs to the band below it)."""
    for k in range(len(edges) - 1):
        if area <= edges[k + 1]:
            return k
    return len(edges) - 2


def by_band(rows: Sequence[dict], areas: dict[str, float],
            edges: Sequence[float] = EDGES) -> list[dict[str, float]]:
    """Per band: n, mean JAC and mean SEN in points (NaN where a band is empty)."""
    bands: list[list[dict]] = [[] for _ in range(len(edges) - 1)]
    for row in rows:
        bands[band_of(areas[row["id"]], edges)].append(row)
    out = []
    for k, members in enumerate(bands):
        jac = [100 * r["JAC"] for r in members]
        sen = [100 * r["SEN"] for r in members]
        out.append({"low": edges[k], "high": edges[k + 1], "n": len(members),
                    "JAC": float(np.mean(jac)) if jac else float("nan"),
                    "SEN": float(np.mean(sen)) if sen else float("nan")})
    return out


def markdown(tables: dict[str, list[dict[str, float]]]) -> str:
    names = list(tables)
    lines = ["| lesion area (% of image) | " + " | ".join(f"{n}: images | {n}: JAC | {n}: SEN"
                                                        for n in names) + " |",
             "| --- |" + " ---: | ---: | ---: |" * len(names)]
    for k, band in enumerate(tables[names[0]]):
        cells = []
        for name in names:
            row = tables[name][k]
            cells += [str(row["n"]), f"{row['JAC']:.1f}" if row["n"] else "",
                      f"{row['SEN']:.1f}" if row["n"] else ""]
        lines.append(f"| {band['low']:g} to {band['high']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evaluations", nargs="+", type=Path, help="evaluation folders (or per_image.csv)")
    parser.add_argument("--data", nargs="+", type=Path, required=True,
                        help="the labelled folder of each evaluation (one, or one per evaluation)")
    parser.add_argument("--names", nargs="*", default=None, help="a name per evaluation")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    names = args.names or [p.name for p in args.evaluations]
    if len(names) != len(args.evaluations):
        parser.error("--names needs one name per evaluation")
    if len(args.data) not in (1, len(args.evaluations)):
        parser.error("--data takes one folder, or one per evaluation")
    folders = args.data * len(args.evaluations) if len(args.data) == 1 else args.data
    tables = {}
    for name, evaluation, data in zip(names, args.evaluations, folders):
        csv_path = evaluation / "per_image.csv" if evaluation.is_dir() else evaluation
        rows = read_per_image(csv_path)
        tables[name] = by_band(rows, lesion_areas(data, [r["id"] for r in rows]))
    report = markdown(tables)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
