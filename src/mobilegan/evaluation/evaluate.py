"""Score a trained network on a labelled folder exactly as the ISIC challenges do.

Each image is predicted at the network's input size, its probability map is resized back to
the ground truth's own resolution (bilinear), thresholded, and scored per image with
:mod:`mobilegan.metrics.isic`. Evaluation never trains and never selects: it uses the run's
``best.safetensors`` as saved. It also checks, from the run's ``splits.json``, whether any
evaluated image was used for training (a test-set leak: every output is then labelled) or
for model selection (the run's validation ids).

Outputs (see :func:`evaluate`): ``per_image.csv``, ``summary.json``, ``summary.md`` and,
with ``figures=True``, the PNGs of :mod:`mobilegan.evaluation.figures`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from mobilegan.data.layouts import (Sample, discover, every_split, folder_pairs, mask_id,
                                    official_set, pick_split, unpaired_masks)
from mobilegan.data.splits import ids_sha256
from mobilegan.data.validate import check_pair
from mobilegan.evaluation.report import HELDOUT_SPLIT, SEEN_GROUPS
from mobilegan.hardware import describe_device, resolve_device
from mobilegan.metrics.isic import (METRIC_KEYS, POOLED_KEYS, confusion, metrics_from_confusion,
                                    resize_to, summarize)
from mobilegan.evaluation.source import (ModelSource, OnnxNetwork, config_fingerprint,
                                         experiment_name, load_network, read_json,
                                         resolve_source)

SUMMARY_FORMAT = 1
#: Every split of the folder.
ALL_SPLIT = "all"
CSV_FIELDS = ["id", *METRIC_KEYS, "width", "height", "seen_in"]


@dataclass
class Evaluation:
    """What :func:`evaluate` produced: per-image rows, the summary and the files written."""

    out_dir: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


# ---- which images ------------------------------------------------------------------------

def select_samples(dataset: str | Path, split: str, source: ModelSource,
                   limit: int | None = None) -> list[Sample]:
    """The samples to score: one split of ``dataset``, every split (``all``), or the run's
    own held-out validation ids (``heldout``)."""
    splits = discover(dataset)
    if split == HELDOUT_SPLIT:
        if not source.splits or not source.splits.get("val"):
            raise ValueError(f"--split {HELDOUT_SPLIT} needs the run's splits.json with its "
                             f"validation ids; none found for {source.weights}")
        wanted = set(source.splits["val"])
        samples = [s for group in splits.values() for s in group if s.id in wanted]
        if not samples:
            raise ValueError(f"none of the run's {len(wanted)} held-out ids are under {dataset}")
    elif split in splits or every_split(splits, split):
        samples = pick_split(splits, split, dataset)
    else:
        raise ValueError(f"split {split!r} not under {dataset}; found {sorted(splits)} "
                         f"(or use '{ALL_SPLIT}' or '{HELDOUT_SPLIT}')")
    return samples[:limit] if limit else samples


def missing_heldout(dataset: str | Path, source: ModelSource,
                    found: Sequence[Sample]) -> list[dict[str, str]]:
    """``skipped`` entries for the run's held-out ids that are not under ``dataset``: a
    folder holding some of them scores those only, and says so (report.partial_note)."""
    from mobilegan.evaluation.report import MISSING_HELDOUT

    present = {s.id for s in found}
    return [{"id": i, "path": "", "kind": MISSING_HELDOUT,
             "reason": f"held-out id of the run, not under {dataset}"}
            for i in sorted(set((source.splits or {}).get("val", [])) - present)]


def imageless_masks(dataset: str | Path, split: str) -> list[dict[str, str]]:
    """``skipped`` entries for the masks of ``split`` (any split for ``all``) that have no
    image; none for ``heldout``, whose ids come from the run, not from the folder."""
    if split == HELDOUT_SPLIT:
        return []
    pairs = folder_pairs(dataset)
    if split != ALL_SPLIT and any(name == split for name, _, _ in pairs):
        pairs = [pair for pair in pairs if pair[0] == split]
    return [{"id": mask_id(path), "path": str(path), "kind": "orphan_mask",
             "reason": "mask has no matching image"}
            for _, images, masks in pairs for path in unpaired_masks(images, masks)]


def overlap_report(ids: Sequence[str], source: ModelSource) -> dict[str, Any]:
    """How many evaluated ids the run trained on (a leak) or selected its epoch on, the
    ids of the weights it started from (``train.init_generator``) and theirs included."""
    unknown = {"known": False, "train": None, "val": None, "train_examples": []}
    if not source.splits or "train" not in source.splits:
        return {**unknown, "note": "the run's training ids are unknown (no splits.json): "
                                   "cannot check for a test-set leak"}
    inherited = inherited_ids(source)
    if inherited is not None and not inherited["known"]:
        return {**unknown, "note": f"the run started from other weights whose training ids "
                                   f"are unknown ({inherited.get('reason')}): cannot check for "
                                   f"a test-set leak"}
    earlier = inherited or {"train": [], "val": []}
    evaluated = set(ids)
    train = sorted(evaluated & {*source.splits.get("train", []), *earlier["train"]})
    val = sorted((evaluated & {*source.splits.get("val", []), *earlier["val"]}) - set(train))
    return {"known": True, "train": len(train), "val": len(val), "train_examples": train[:10],
            "train_ids": train, "val_ids": val,
            **({"inherited_from": inherited["from"]} if inherited else {})}


def inherited_ids(source: ModelSource) -> dict[str, Any] | None:
    """What the start weights of a staged run were trained and selected on: recorded in its
    splits.json since 2026-11-30, else read now from the path its config.json names (runs
    from before; relative paths are read from the working folder, as training read them).
    None for a run trained from scratch."""
    from mobilegan.models.io import inherited_split

    if "inherited" in (source.splits or {}):
        return source.splits["inherited"]
    start = ((source.run_config or {}).get("train") or {}).get("init_generator")
    return inherited_split(start, source.splits.get("train")) if start else None


def leak_label(overlap: dict[str, Any], n: int) -> str:
    """The label every output carries when the model saw some of these images in training."""
    if not overlap["known"]:
        return "UNVERIFIED: the model's training ids are unknown"
    if overlap["train"]:
        return (f"LEAK: {overlap['train']} of the {n} evaluated images were in the model's "
                f"training set")
    return ""


# ---- prediction --------------------------------------------------------------------------

@torch.inference_mode()
def predict_probabilities(model: nn.Module | OnnxNetwork, images: Sequence[np.ndarray], size: int,
                          device: torch.device | str = "cpu", tta: bool = False) -> np.ndarray:
    """Lesion probabilities (B, size, size) float32 for uint8 RGB images of any sizes.

    Pixels are prepared exactly as in training (Pillow bilinear resize, [-1, 1]); with
    ``tta`` the probabilities are averaged over the flip group {id, h, v, hv}.
    """
    from mobilegan.data.tensors import normalize_images
    from mobilegan.inference.preprocess import resize_rgb

    batch = np.stack([resize_rgb(image, size) for image in images]).transpose(0, 3, 1, 2)
    x = normalize_images(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
    flips = [(), (3,), (2,), (2, 3)] if tta else [()]
    total = torch.zeros(x.shape[0], size, size, device=x.device)
    for dims in flips:
        view = x.flip(dims) if dims else x
        p = torch.sigmoid(model(view).float())[:, 0]
        total += p.flip([d - 1 for d in dims]) if dims else p
    return (total / len(flips)).cpu().numpy()


def labelled_batches(samples: Sequence[Sample], batch_size: int, skipped: list[dict[str, str]],
                     warnings: list[dict[str, str]], workers: int = 4
                     ) -> Iterator[list[tuple[Sample, np.ndarray, np.ndarray]]]:
    """Readable (sample, image, truth) triples, ``batch_size`` at a time; the rest are
    recorded in ``skipped`` with the reason, and never stop the evaluation. An id seen
    before (``ISIC_1.jpg`` beside ``ISIC_1.png``, or one id in two splits) is skipped as a
    duplicate, never scored twice. Files are decoded by a few threads, one batch at a time,
    so memory stays bounded at any resolution."""
    from concurrent.futures import ThreadPoolExecutor

    batch: list[tuple[Sample, np.ndarray, np.ndarray]] = []
    first_of: dict[str, Path] = {}
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for start in range(0, len(samples), batch_size):
            chunk = []
            for sample in samples[start:start + batch_size]:
                if sample.id in first_of:
                    skipped.append({"id": sample.id, "path": str(sample.image),
                                    "kind": "duplicate_id",
                                    "reason": f"id {sample.id} is also used by "
                                              f"{first_of[sample.id]}"})
                    continue
                first_of[sample.id] = sample.image
                chunk.append(sample)
            for checked in pool.map(check_pair, chunk):
                sample = checked.sample
                fatal = [problem for problem in checked.problems if problem.fatal]
                if fatal:  # one entry per image skipped, whatever its count of reasons; no
                    # warnings beside it (a warning about a pair not scored would mislead)
                    skipped.append({**_problem_entry(sample.id, fatal[0]),
                                    "reason": "; ".join(problem.message for problem in fatal)})
                    continue
                warnings.extend(_problem_entry(sample.id, p) for p in checked.problems)
                assert checked.image is not None and checked.mask is not None
                batch.append((sample, checked.image, checked.mask))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def _problem_entry(image_id: str, problem: Any) -> dict[str, str]:
    """A ``skipped`` or ``warnings`` entry of the summary for one of a pair's problems."""
    return {"id": image_id, "path": str(problem.path or ""), "kind": problem.kind,
            "reason": problem.message}


def score(probability: np.ndarray, truth: np.ndarray, threshold: float, postprocess: bool = False
          ) -> tuple[dict[str, float], tuple[int, int, int, int], np.ndarray]:
    """Metrics and confusion of one image at the truth's resolution, and the mask scored.
    ``postprocess`` keeps the largest component and fills its holes, as ``segment`` does."""
    prediction = resize_to(probability, truth.shape, method="bilinear", threshold=threshold)
    if postprocess:
        from mobilegan.inference.postprocess import clean_mask

        prediction = clean_mask(prediction.astype(bool)).astype(prediction.dtype)
    counts = confusion(prediction, truth)
    return metrics_from_confusion(*counts), counts, prediction


# ---- the whole evaluation ---------------------------------------------------------------

def equivalent_command(run_or_weights: str | Path, dataset: str | Path, *, split: str = "test",
                       out_dir: str | Path | None = None, image_size: int | None = None,
                       batch_size: int = 16, threshold: float = 0.5, tta: bool = False,
                       limit: int | None = None, device: str = "auto", figures: bool = False,
                       name: str | None = None, perturb: str | None = None,
                       postprocess: bool = False, exposure: bool = False) -> str:
    """The ``mobilegan evaluate`` command line that repeats this evaluation exactly (options
    by keyword only: fifteen positional ones could be swapped unseen)."""
    import shlex

    parts = ["mobilegan", "evaluate", str(run_or_weights), str(dataset), "--split", split]
    if out_dir:
        parts += ["--out", str(out_dir)]
    if image_size:
        parts += ["--image-size", str(image_size)]
    parts += ["--batch-size", str(batch_size), "--threshold", str(threshold)]
    parts += ["--tta"] if tta else []
    parts += ["--postprocess"] if postprocess else []
    parts += ["--normalize-exposure"] if exposure else []
    parts += ["--limit", str(limit)] if limit else []
    parts += ["--figures"] if figures else []
    parts += ["--device", device] if device != "auto" else []
    parts += ["--name", name] if name else []
    parts += ["--perturb", perturb] if perturb else []
    return shlex.join(parts)


def evaluate(run_or_weights: str | Path, dataset: str | Path, split: str = "test",
             out_dir: str | Path | None = None, image_size: int | None = None,
             batch_size: int = 16, threshold: float = 0.5, tta: bool = False,
             limit: int | None = None, device: str = "auto", figures: bool = False,
             progress: bool = True, command: str | None = None,
             name: str | None = None, perturb: str | None = None,
             postprocess: bool = False, exposure: bool = False) -> Evaluation:
    """Predict and score every image of ``dataset``/``split``; write the outputs to
    ``out_dir`` (default ``<run>/eval/<dataset>_<split>``, ``..._<perturb>`` with a
    perturbation of :mod:`mobilegan.evaluation.perturb` applied to every image) and return
    them. ``postprocess`` scores the masks ``mobilegan segment`` writes (largest component,
    holes filled) instead of the raw thresholded maps. ``exposure`` normalises each image's
    brightness first, as ``Segmenter`` does by default (after any perturbation)."""
    from mobilegan.evaluation.perturb import PERTURBATIONS
    from mobilegan.evaluation.perturb import perturb as perturb_image
    from mobilegan.inference.preprocess import normalize_exposure

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"--threshold must be in (0, 1), got {threshold}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if limit is not None and limit < 1:  # 0 would score every image, -1 all but the last
        raise ValueError(f"--limit must be >= 1 (or left out for every image), got {limit}")
    if perturb is not None and perturb not in PERTURBATIONS:
        raise ValueError(f"--perturb: unknown {perturb!r}; choose one of {sorted(PERTURBATIONS)}")
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise FileNotFoundError(f"no dataset folder at {dataset}")
    source = resolve_source(run_or_weights)
    size = int(image_size or source.image_size)
    if size < 32 or size % 16:
        raise ValueError(f"--image-size must be a multiple of 16 and >= 32, got {size}")
    command = command or equivalent_command(
        run_or_weights, dataset, split=split, out_dir=out_dir, image_size=image_size,
        batch_size=batch_size, threshold=threshold, tta=tta, limit=limit, device=device,
        figures=figures, name=name, perturb=perturb, postprocess=postprocess, exposure=exposure)
    available = select_samples(dataset, split, source)
    samples = available[:limit] if limit else available
    out = Path(out_dir) if out_dir else _default_out(source, dataset, split, perturb)
    if out.exists() and not out.is_dir():  # said before the scoring, not after it
        raise NotADirectoryError(f"--out {out} is a file, not a folder")

    torch_device = resolve_device(device)
    model, model_cfg, params, runtime = load_network(source, torch_device)
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    counts: list[tuple[int, int, int, int]] = []
    # A ground-truth mask whose image is missing is a test image not scored: said, not dropped.
    skipped: list[dict[str, str]] = [] if limit else imageless_masks(dataset, split)
    if split == HELDOUT_SPLIT and not limit:
        skipped += missing_heldout(dataset, source, available)
    warnings: list[dict[str, str]] = []
    bar = tqdm(total=len(samples), desc="evaluating", unit="img", disable=not progress,
               leave=False)
    def prepared(sample: Sample, image: np.ndarray) -> np.ndarray:
        image = perturb_image(perturb, image, sample.id) if perturb else image
        return normalize_exposure(image) if exposure else image

    for batch in labelled_batches(samples, batch_size, skipped, warnings):
        maps = predict_probabilities(model, [prepared(s, image) for s, image, _ in batch], size,
                                     torch_device, tta)
        for (sample, _image, truth), probability in zip(batch, maps):
            metrics, confusion_counts, _ = score(probability, truth, threshold, postprocess)
            height, width = truth.shape
            rows.append({"id": sample.id, **metrics, "width": width, "height": height,
                         "seen_in": ""})  # filled in below, once the overlap is known
            counts.append(confusion_counts)
        bar.update(len(batch))
    bar.update(len(samples) - bar.n)
    bar.close()
    wall = time.perf_counter() - start
    if not rows:
        from mobilegan.evaluation.report import skipped_text

        images = [entry for entry in skipped if entry.get("kind") != "orphan_mask"]
        first = (f"{images[0]['path']}: {images[0]['reason']}" if images else "no samples")
        raise ValueError(f"no image of {dataset} ({split}) could be scored; "
                         f"{skipped_text(skipped)}, first: {first}")
    out.mkdir(parents=True, exist_ok=True)  # only now: a run that scored nothing leaves nothing
    # Counted on the images scored: a trained-on image that could not be read leaks nothing.
    overlap = overlap_report([row["id"] for row in rows], source)
    seen = {i: "train" for i in overlap.get("train_ids", [])} | \
        {i: "val" for i in overlap.get("val_ids", [])}
    for row in rows:
        row["seen_in"] = seen.get(row["id"], "")

    summary = _summary(source, model_cfg, params, dataset, split, samples, rows, counts,
                       skipped, warnings, overlap, size, threshold, tta, limit, torch_device,
                       wall, command, name, perturb, postprocess, exposure, len(available))
    summary["runtime"] = runtime
    result = Evaluation(out, rows, summary)
    result.files["per_image"] = write_per_image(rows, out / "per_image.csv")
    if figures:
        from mobilegan.evaluation.figures import choose_cases, write_evaluation_figures

        # Only the chosen cases are predicted again (memory stays flat for any set size).
        chosen = {c["id"] for c in choose_cases(rows)}
        scored: dict[str, Sample] = {}  # the file scored under each id (a later one was skipped)
        for sample in samples:
            scored.setdefault(sample.id, sample)
        pairs = [check_pair(scored[i]) for i in sorted(chosen)]
        pairs = [p for p in pairs if p.ok and p.image is not None]
        maps = predict_probabilities(model, [prepared(p.sample, p.image) for p in pairs], size,
                                     torch_device, tta)
        title = summary["leak_label"]
        if perturb:  # the pictures show the perturbed image the masks were predicted from
            title = "; ".join(filter(None, [title, f"images perturbed: {perturb}"]))
        figure_files = write_evaluation_figures(
            out, rows, list(scored.values()), {p.sample.id: m for p, m in zip(pairs, maps)},
            threshold, source.run_dir, title, postprocess,
            shown=(lambda sample, image: perturb_image(perturb, image, sample.id)) if perturb
            else None)
        summary["figures"] = {k: os.path.relpath(v, out) for k, v in figure_files.items()}
        result.files.update(figure_files)
    result.files["summary_json"] = out / "summary.json"
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    from mobilegan.evaluation.report import summary_markdown

    result.files["summary_md"] = out / "summary.md"
    (out / "summary.md").write_text(summary_markdown(summary))
    return result


def _default_out(source: ModelSource, dataset: Path, split: str, perturb: str | None = None) -> Path:
    """RUN/eval/<dataset>_<split> for a run; beside a loose weights file; ``./eval/`` for the
    shipped files (never inside the installed package, which may be read-only)."""
    from mobilegan.inference.segmenter import PACKAGED_WEIGHTS

    base = source.run_dir if source.run_dir is not None else source.weights.parent
    if source.run_dir is None and base.resolve() == PACKAGED_WEIGHTS.parent.resolve():
        base = Path.cwd()
    folder = dataset.resolve().name
    stem = "" if source.run_dir is not None else f"{source.weights.stem}_"
    suffix = f"_{perturb}" if perturb else ""
    return base / "eval" / f"{stem}{folder}_{split}{suffix}"


def _summary(source: ModelSource, model_cfg: Any, params: int, dataset: Path, split: str,
             samples: Sequence[Sample], rows: list[dict[str, Any]],
             counts: list[tuple[int, int, int, int]], skipped: list[dict[str, str]],
             warnings: list[dict[str, str]], overlap: dict[str, Any], size: int,
             threshold: float, tta: bool, limit: int | None, device: torch.device,
             wall: float, command: str | None, name: str | None,
             perturb: str | None = None, postprocess: bool = False,
             exposure: bool = False, n_available: int | None = None) -> dict[str, Any]:
    per_image = [{k: row[k] for k in METRIC_KEYS} for row in rows]
    means = summarize(per_image, counts)
    values = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in METRIC_KEYS}
    splits = source.splits or {}
    meta = source.metadata
    label = leak_label(overlap, len(rows))
    kind = HELDOUT_SPLIT if split == HELDOUT_SPLIT else "test"
    selection_note = ""
    if overlap["known"] and overlap["val"]:
        selection_note = (f"{overlap['val']} of the evaluated images chose the model's best "
                          f"epoch (the run's validation set): optimistic for model selection")
    return {
        "format": SUMMARY_FORMAT,
        "name": name or experiment_name(source.name),
        "run_name": source.name,
        "run_dir": str(source.run_dir) if source.run_dir is not None else None,
        "weights": str(source.weights),
        "config_fingerprint": config_fingerprint(source.run_config),
        "model": dataclasses.asdict(model_cfg),
        "params": int(params),
        "epoch": meta.get("epoch"),
        "training": (read_json(source.run_dir / "train_result.json")
                     if source.run_dir is not None else None),
        "dataset": {"dir": str(dataset), "name": dataset.resolve().name, "split": split,
                    "kind": kind, "n_samples": len(samples), "set": official_set(samples),
                    "n_available": n_available,
                    "ids_sha256": ids_sha256(row["id"] for row in rows)},
        "protocol": splits.get("protocol") or meta.get("protocol") or "unknown",
        "leak": bool(overlap["known"] and overlap["train"]),
        "leak_label": label,
        "selection_note": selection_note,
        "train_run_leak_label": splits.get("leak_label") or meta.get("leak_label") or "",
        "train_ids_sha256": splits.get("train_ids_sha256") or meta.get("train_ids_sha256"),
        "overlap": {k: v for k, v in overlap.items() if k not in ("train_ids", "val_ids")},
        "seed": (source.run_config or {}).get("train", {}).get("seed", meta.get("seed")),
        "data_seed": splits.get("seed"),
        # trained with the discriminator (None: not known, e.g. bare weights)
        "adversarial": (source.run_config or {}).get("train", {}).get("adversarial"),
        "image_size": size,
        "threshold": threshold,
        "tta": tta,
        "limit": limit,
        "perturbation": perturb,
        "postprocess": postprocess,
        "exposure_normalized": exposure,
        "scoring": "per image at the ground truth's resolution (probability map resized "
                   "bilinearly, then thresholded); ISIC 2017/2018 macro averages",
        "n": len(rows),
        "mean": {k: means[k] for k in METRIC_KEYS},
        "std": {k: float(values[k].std(ddof=1)) if len(rows) > 1 else 0.0 for k in METRIC_KEYS},
        "by_seen_in": by_seen_in(rows) if overlap["known"] else {},
        "pooled": {k: means[f"pooled_{k}"] for k in POOLED_KEYS},
        "skipped": skipped,
        "warnings": warnings,
        "device": device.type,
        "card": describe_device(device),
        "wall_s": wall,
        "images_per_s": len(rows) / max(wall, 1e-9),
        "command": command,
        "cwd": os.getcwd(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def by_seen_in(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean metrics within each group of ``seen_in``: a leaky score taken apart, so the
    images the model trained on are not averaged in silence with those it never saw. Empty
    when every image falls in one group (a clean test set, or a run's own held-out images):
    the overall mean and the labels say it all then."""
    groups: dict[str, dict[str, Any]] = {}
    for seen, group in SEEN_GROUPS.items():
        members = [row for row in rows if row.get("seen_in", "") == seen]
        if members:
            groups[group] = {"n": len(members), "mean": {
                k: float(np.mean([row[k] for row in members])) for k in METRIC_KEYS}}
    return groups if len(groups) > 1 else {}


def write_per_image(rows: list[dict[str, Any]], path: Path) -> Path:
    """One row per scored image; ``seen_in`` is "train"/"val" when the run used that image.
    An id that starts like a formula gets a leading apostrophe, as ``segment``'s CSV
    (:func:`~mobilegan.inference.batch.spreadsheet_text`; read back without it)."""
    from mobilegan.inference.batch import with_text_cells

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(with_text_cells(
                {k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()}, ("id",)))
    return path


def read_per_image(path: str | Path) -> list[dict[str, Any]]:
    """``per_image.csv`` back as dicts with float metrics."""
    from mobilegan.inference.batch import from_spreadsheet_text

    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["id"] = from_spreadsheet_text(row["id"])
        for key in METRIC_KEYS:
            row[key] = float(row[key])
        row["width"], row["height"] = int(row["width"]), int(row["height"])
    return rows
