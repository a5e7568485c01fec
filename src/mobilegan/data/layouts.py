"""Find (image, mask) pairs in the official ISIC folder layouts, at any resolution.

``discover(root)`` returns the splits that a folder holds, keyed "train", "val", "test"
(or "all" for a folder with no splits of its own: it answers any split name). Supported: ISIC 2016 Part 1, ISIC 2017 Part 1,
ISIC 2018 Task 1, PH2 (Mendonca et al. 2013: one folder per image, ``IMD002/
IMD002_Dermoscopic_Image/IMD002.bmp`` beside ``IMD002_lesion/IMD002_lesion.bmp``; the
archive's root, its ``PH2 Dataset images`` folder or the folder above it), a generic
``images/`` + ``masks/`` folder (optionally inside ``train/``, ``val/``, ``test/``), an
official image folder itself (its ground-truth folder is found beside it), and a bare
folder of images (masks named ``<id>_segmentation`` there are paired, otherwise there are
none). Superpixel files and metadata (csv, txt) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: ".jfif" is what some browsers and phones name a saved JPEG.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
#: The same formats in words, for help texts and messages.
IMAGE_FORMATS = "JPEG, PNG, BMP, TIFF, WebP, GIF"
_MASK_SUFFIX = re.compile(r"_segmentation$", re.IGNORECASE)
#: Mask namings recognised only inside a mask folder: PH2's ``<id>_lesion`` and the common
#: ``<id>_mask`` (an image a user named ``mole_lesion.jpg`` is still an image).
_MASK_FOLDER_SUFFIX = re.compile(r"_(lesion|mask)$", re.IGNORECASE)
#: Files beside images that are never images to segment: ISIC 2017's superpixels and ISIC
#: 2018 Task 2's attribute masks (``<id>_attribute_globules.png``).
_IGNORED = re.compile(r"_superpixels$|_attribute_\w+$", re.IGNORECASE)

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
    # the generic layout: no splits of its own, so it answers any split ("all")
    ("all", "images", "masks"),
]

#: The published image sets, by their official image folder: what a report may call them.
OFFICIAL_SETS = {
    "ISIC2018_Task1-2_Training_Input": "ISIC 2018 training",
    "ISIC2018_Task1-2_Validation_Input": "ISIC 2018 validation",
    "ISIC2018_Task1-2_Test_Input": "ISIC 2018 test",
    "ISIC-2017_Training_Data": "ISIC 2017 training",
    "ISIC-2017_Validation_Data": "ISIC 2017 validation",
    "ISIC-2017_Test_v2_Data": "ISIC 2017 test",
    "ISBI2016_ISIC_Part1_Training_Data": "ISBI 2016 training",
    "ISBI2016_ISIC_Part1_Test_Data": "ISBI 2016 test",
}


def official_sets(samples: Sequence[Sample]) -> set[str | None]:
    """The published sets ``samples`` come from ("ISIC 2017 test"), by the official folder
    each image sits in; None for an image in a user's own folder."""
    return {OFFICIAL_SETS.get(sample.image.parent.name) for sample in samples}


def official_set(samples: Sequence[Sample]) -> str | None:
    """The published set all ``samples`` come from; None for a user's own folder or a mix."""
    names = official_sets(samples)
    return names.pop() if len(names) == 1 else None


#: Where PH2's per-image folders may sit below the folder a user points at.
PH2_IMAGE_FOLDERS = ("", "PH2 Dataset images", "PH2Dataset/PH2 Dataset images")

#: Generic per-split subfolders, each holding ``images/`` + ``masks/``.
#: Matched whatever their case (``Test/``, ``Images/``).
SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test"}


@dataclass(frozen=True)
class Sample:
    """One image and (when known) its ground-truth mask, paired by id."""

    id: str
    image: Path
    mask: Path | None


def image_id(path: Path) -> str:
    """``ISIC_0000000`` from ``ISIC_0000000.jpg`` or ``ISIC_0000000_segmentation.png``."""
    return _MASK_SUFFIX.sub("", Path(path).stem)


def is_mask_name(path: Path) -> bool:
    return bool(_MASK_SUFFIX.search(Path(path).stem))


def _candidate_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not _IGNORED.search(p.stem) and not p.name.startswith("."))


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``: no masks, superpixels or hidden files."""
    return [p for p in _candidate_files(folder) if not is_mask_name(p)]


def mask_id(path: Path) -> str:
    """The image id a file in a mask folder belongs to: ``<id>_segmentation`` (ISIC),
    ``<id>_lesion`` (PH2), ``<id>_mask`` or ``<id>`` itself."""
    if is_mask_name(path):
        return image_id(path)
    return _MASK_FOLDER_SUFFIX.sub("", Path(path).stem)


def _mask_index(image_dir: Path, mask_dir: Path | None) -> dict[str, Path]:
    """id -> mask file; ``<id>_segmentation`` wins over a same-stem file. In a folder that
    also holds the images only ``<id>_segmentation`` files are masks. A mask whose stem is
    an image's id is that image's (``x_lesion.png`` is ``x_lesion.jpg``'s mask, not
    ``x.jpg``'s): a ``_lesion`` or ``_mask`` suffix is stripped only when no image has the
    full stem."""
    masks: dict[str, Path] = {}
    if mask_dir is None or not mask_dir.is_dir():
        return masks
    files = _candidate_files(mask_dir)
    if Path(mask_dir) == Path(image_dir):
        files = [f for f in files if is_mask_name(f)]
    ids = {image_id(p) for p in image_files(image_dir)} if Path(image_dir).is_dir() else set()
    for m in sorted(files, key=lambda p: (not is_mask_name(p), p.name)):
        key = m.stem if not is_mask_name(m) and m.stem in ids else mask_id(m)
        masks.setdefault(key, m)
    return masks


def pair_folder(image_dir: Path, mask_dir: Path | None) -> list[Sample]:
    """Samples for every image in ``image_dir``; ``mask_dir`` may be the same folder."""
    masks = _mask_index(image_dir, mask_dir)
    return [Sample(image_id(p), p, masks.get(image_id(p))) for p in image_files(image_dir)]


def unpaired_masks(image_dir: Path, mask_dir: Path | None) -> list[Path]:
    """Mask files whose id has no image: reported, since they are otherwise ignored."""
    masks = _mask_index(image_dir, mask_dir)
    ids = {image_id(p) for p in image_files(image_dir)}
    return [path for key, path in sorted(masks.items()) if key not in ids]


def folder_pairs(root: str | Path) -> list[tuple[str, Path, Path | None]]:
    """(split, image folder, mask folder or None) for every layout found at ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    found: list[tuple[str, Path, Path | None]] = []
    for split, images, masks in OFFICIAL_LAYOUTS:
        if (root / images).is_dir():  # its ground truth in any case (``images/`` + ``Masks/``)
            found.append((split, root / images, _child(root, masks.lower()) or root / masks))
    images_any_case = None if found else _child(root, "images")  # ``Images/`` + ``Masks/``
    if images_any_case is not None:
        found.append(("all", images_any_case, _child(root, "masks") or root / "masks"))
    if not found:
        found = _ph2_pairs(root)
    if not found:
        for folder, split in SPLIT_FOLDERS.items():
            sub = _child(root, folder)
            images = _child(sub, "images") if sub is not None else None
            if images is not None:
                found.append((split, images, _child(sub, "masks") or sub / "masks"))
    if found:
        return found
    # Pointed at an image folder itself: an official one, or ``images/`` beside ``masks/``.
    for _split, images, masks in OFFICIAL_LAYOUTS:
        if root.name == images and (root.parent / masks).is_dir():
            return [("all", root, root.parent / masks)]
    return [("all", root, root)]  # bare folder: masks, if any, are ``<id>_segmentation``


def _child(folder: Path, name: str) -> Path | None:
    """``folder``'s subfolder called ``name`` in any case (``name`` itself first)."""
    if _is_dir(folder / name):
        return folder / name
    return next((p for p in _subfolders(folder) if p.name.lower() == name), None)


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, False where it cannot be looked into (a ``lost+found`` of root's
    on a USB stick stopped a whole run)."""
    try:
        return path.is_dir()
    except PermissionError:
        return False


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if _is_dir(p))
    except PermissionError:
        return []


def _ph2_pairs(root: Path) -> list[tuple[str, Path, Path | None]]:
    """PH2's (image folder, lesion folder) per image, if ``root`` holds that layout."""
    for sub in PH2_IMAGE_FOLDERS:
        base = root / sub if sub else root
        if not _is_dir(base):
            continue
        pairs = [("all", case / f"{case.name}_Dermoscopic_Image", case / f"{case.name}_lesion")
                 for case in _subfolders(base)
                 if _is_dir(case / f"{case.name}_Dermoscopic_Image")]
        if pairs:
            return pairs
    return []


def discover(root: str | Path) -> dict[str, list[Sample]]:
    """Splits found under ``root``; a folder of images alone is one "all" split."""
    root = Path(root)
    splits: dict[str, list[Sample]] = {}
    for split, images, masks in folder_pairs(root):
        # An empty split folder stays, empty: "split 'test' is empty" is the truth, where
        # "not under" sent people looking for a folder that is there.
        splits.setdefault(split, []).extend(pair_folder(images, masks))
    if not any(splits.values()):
        raise FileNotFoundError(_nothing_found(root))
    return splits


def _nothing_found(root: Path) -> str:
    nested = sorted(p.name for p in root.iterdir() if p.is_dir()
                    and any((p / images).is_dir() for _, images, _ in OFFICIAL_LAYOUTS))
    if nested:
        return (f"no images directly under {root}; it holds data sets in "
                f"{', '.join(nested)}: point at one of them")
    return f"no images or known ISIC layout under {root} (empty folder?)"


def every_split(found: dict[str, list[Sample]], split: str | None) -> bool:
    """Whether ``split`` asks for all of ``found``: None; "all" where no split has that
    name (``mobilegan evaluate --split all``); or any name in a folder with no splits of its
    own (a bare image folder answers any split). The one rule for training's
    ``data.*_split``, evaluation's ``--split``, ``data`` commands and int8 calibration."""
    if split is None:
        return True
    return split not in found and (split == "all" or list(found) == ["all"])


def load_samples(root: str | Path, split: str | None = None,
                 option: str = "--split ") -> list[Sample]:
    """The samples of one split (or of every split, in order: see :func:`every_split`);
    KeyError naming the splits found if there is no such split, and how to ask for one
    (``option``: the caller's flag or setting, e.g. ``"--set data.eval_split="``)."""
    splits = discover(root)
    return pick_split(splits, split, root, option)


def pick_split(found: dict[str, list[Sample]], split: str | None,
               root: str | Path, option: str = "--split ") -> list[Sample]:
    """``found``'s samples for ``split`` by :func:`every_split`'s rule, else KeyError."""
    if every_split(found, split):
        return [s for samples in found.values() for s in samples]
    if split not in found:
        raise missing_split(root, split, found, option)
    if not found[split]:
        raise KeyError(f"split {split!r} of {root} is empty: its folder holds no images")
    return found[split]


def missing_split(root: str | Path, split: str | None, found: dict[str, list[Sample]],
                  option: str = "--split ") -> KeyError:
    """The error for a split a folder lacks, naming what it has and how to read it all."""
    name = sorted(found)[0] if len(found) == 1 else "NAME"
    return KeyError(f"split {split!r} not under {root}; found {sorted(found)} "
                    f"({option}{name}, or {option}all for every image)")
