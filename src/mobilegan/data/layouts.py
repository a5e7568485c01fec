"""Find (image, mask) pairs in the official ISIC folder layouts, at any resolution.

``discover(root)`` returns the splits that a folder holds, keyed "train", "val", "test".
Supported: ISIC 2016 Part 1, ISIC 2017 Part 1, ISIC 2018 Task 1, a generic
``images/`` + ``masks/`` folder, and a bare folder of images (no masks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
_MASK_SUFFIX = re.compile(r"_segmentation$", re.IGNORECASE)
_IGNORED = re.compile(r"_superpixels$", re.IGNORECASE)

#: (split, image folder, mask folder) for each official layout.
OFFICIAL_LAYOUTS: list[tuple[str, str, str]] = [
    ("train", "ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth"),
    ("val", "ISIC2018_Task1-2_Validation_Input", "ISIC2018_Task1_Validation_GroundTruth"),
    ("test", "ISIC2018_Task1-2_Test_Input", "ISIC2018_Task1_Test_GroundTruth"),
    ("train", "ISIC-2017_Training_Data", "ISIC-2017_Training_Part1_GroundTruth"),
    ("val", "ISIC-2017_Validation_Data", "ISIC-2017_Validation_Part1_GroundTruth"),
    ("test", "ISIC-2017_Test_v2_Data", "ISIC-2017_Test_v2_Part1_GroundTruth"),
    ("train", "ISBI2016_ISIC_Part1_Training_Data", "ISBI2016_ISIC_Part1_Training_GroundTruth"),
    ("test", "ISBI2016_ISIC_Part1_Test_Data", "ISBI2016_ISIC_Part1_Test_GroundTruth"),
    ("train", "images", "masks"),
]


@dataclass(frozen=True)
class Sample:
    """One image and (when known) its ground-truth mask, paired by id."""

    id: str
    image: Path
    mask: Path | None


def image_id(path: Path) -> str:
    """``ISIC_0000000`` from ``ISIC_0000000.jpg`` or ``ISIC_0000000_segmentation.png``."""
    return _MASK_SUFFIX.sub("", path.stem)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not _IGNORED.search(p.stem) and not p.name.startswith("."))


def pair_folder(image_dir: Path, mask_dir: Path | None) -> list[Sample]:
    masks: dict[str, Path] = {}
    if mask_dir is not None and mask_dir.is_dir():
        for m in _image_files(mask_dir):
            masks.setdefault(image_id(m), m)
    return [Sample(image_id(p), p, masks.get(image_id(p))) for p in _image_files(image_dir)]


def discover(root: str | Path) -> dict[str, list[Sample]]:
    """Splits found under ``root``; a folder of images alone is one "all" split."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    splits: dict[str, list[Sample]] = {}
    for split, images, masks in OFFICIAL_LAYOUTS:
        if (root / images).is_dir():
            splits.setdefault(split, []).extend(pair_folder(root / images, root / masks))
    if not splits:
        samples = pair_folder(root, None)
        if samples:
            splits["all"] = samples
    if not splits:
        raise FileNotFoundError(f"no images or known ISIC layout under {root}")
    return splits


def load_samples(root: str | Path, split: str | None = None) -> list[Sample]:
    """The samples of one split (or of every split, in order, when ``split`` is None)."""
    splits = discover(root)
    if split is None:
        return [s for samples in splits.values() for s in samples]
    if split not in splits:
        raise KeyError(f"split {split!r} not under {root}; found {sorted(splits)}")
    return splits[split]
