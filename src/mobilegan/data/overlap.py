"""Find test images that a model may have trained on: shared ids, and (optionally)
near-identical images under any id, by a small perceptual hash.

Why: 529 of the 600 ISIC 2017 test images are in the ISIC 2018 training set, so a model
trained on 2018 and scored on 2017 test has seen most of its test set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.fft
from PIL import Image
from tqdm.auto import tqdm

from mobilegan.data.io import DEFAULT_MAX_PIXELS, ImageReadError, read_image
from mobilegan.data.layouts import Sample
from mobilegan.data.validate import Problem

HASH_METHODS = ("phash", "dhash")
#: Bits per side of the hash (16: 256-bit hashes). 64-bit hashes cannot tell dermoscopy
#: images apart: hundreds of different ISIC lesions fall within 8 bits of each other.
HASH_SIZE = 16
THUMB_SIZE = 32
#: Candidate pairs: Hamming distance (of 256 bits) at most this. On ISIC 2017 test vs 2018
#: train, re-encoded copies of one image are within 16 (pHash) / 34 (dHash) bits.
DEFAULT_MAX_DISTANCE = {"phash": 24, "dhash": 40}
#: Confirmed pairs: mean absolute grey difference of 32x32 thumbnails at most this (0-255).
#: Copies differ by under 1.4; the closest different lesions by over 5.
DEFAULT_MAX_DIFFERENCE = 3.0


def shared_ids(train_samples: Sequence[Sample], test_samples: Sequence[Sample]) -> list[str]:
    """Sorted ids present in both sets."""
    return sorted({s.id for s in train_samples} & {s.id for s in test_samples})


def _grey(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-averaged grey thumbnail (width, height) as float."""
    image = Image.fromarray(rgb).convert("L").resize(size, Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float64)


def dhash(rgb: np.ndarray, hash_size: int = HASH_SIZE) -> np.ndarray:
    """Difference hash: is each pixel brighter than its right neighbour (hash_size² bools)."""
    grey = _grey(rgb, (hash_size + 1, hash_size))
    return (grey[:, 1:] > grey[:, :-1]).ravel()


def phash(rgb: np.ndarray, hash_size: int = HASH_SIZE) -> np.ndarray:
    """DCT hash: low-frequency DCT coefficients above their median (DC term excluded)."""
    grey = _grey(rgb, (hash_size * 4, hash_size * 4))
    low = scipy.fft.dctn(grey, norm="ortho")[:hash_size, :hash_size].ravel()
    return low > np.median(low[1:])


_HASHERS = {"phash": phash, "dhash": dhash}


@dataclass
class HashedSet:
    """Perceptual hashes of the readable images of a set, and why others were left out."""

    ids: list[str]
    paths: list[Path]
    bits: np.ndarray  # (N, HASH_SIZE**2) bool
    thumbs: np.ndarray  # (N, THUMB_SIZE, THUMB_SIZE) float32 grey, to confirm candidates
    problems: list[Problem] = field(default_factory=list)


def hash_samples(samples: Sequence[Sample], method: str = "phash",
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, progress: bool | None = False,
                 desc: str = "hashing") -> HashedSet:
    """Hash every image (JPEGs decode at reduced scale: only a thumbnail is needed)."""
    if method not in _HASHERS:
        raise ValueError(f"unknown hash {method!r}; choose from {', '.join(HASH_METHODS)}")
    hasher = _HASHERS[method]
    ids, paths, rows, thumbs, problems = [], [], [], [], []
    disable = None if progress is None else not progress
    for sample in tqdm(samples, desc=desc, unit="img", disable=disable, leave=False):
        try:
            rgb = read_image(sample.image, max_pixels, draft_size=(4 * HASH_SIZE,) * 2)
        except ImageReadError as error:
            problems.append(Problem(sample.id, Path(error.path), error.kind, error.reason))
            continue
        ids.append(sample.id)
        paths.append(sample.image)
        rows.append(hasher(rgb))
        thumbs.append(_grey(rgb, (THUMB_SIZE, THUMB_SIZE)).astype(np.float32))
    if not rows:
        return HashedSet([], [], np.zeros((0, HASH_SIZE**2), bool),
                         np.zeros((0, THUMB_SIZE, THUMB_SIZE), np.float32), problems)
    return HashedSet(ids, paths, np.stack(rows), np.stack(thumbs), problems)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) Hamming distances between two stacks of bit rows, by two small matmuls."""
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    return np.rint(fa @ (1.0 - fb).T + (1.0 - fa) @ fb.T).astype(np.int32)


@dataclass(frozen=True)
class Duplicate:
    """A test image and a near-identical training image: hashes ``distance`` bits apart,
    thumbnails ``difference`` grey levels apart on average."""

    test_id: str
    train_id: str
    distance: int
    difference: float
    test_path: Path
    train_path: Path

    @property
    def same_id(self) -> bool:
        return self.test_id == self.train_id


def perceptual_duplicates(train: Sequence[Sample] | HashedSet, test: Sequence[Sample] | HashedSet,
                          method: str = "phash", max_distance: int | None = None,
                          max_difference: float = DEFAULT_MAX_DIFFERENCE,
                          max_pixels: int | None = DEFAULT_MAX_PIXELS,
                          progress: bool | None = False) -> list[Duplicate]:
    """Near-identical (test, train) pairs under any ids, by test id then distance.

    Candidates are pairs whose hashes are within ``max_distance`` bits; each is confirmed by
    comparing small thumbnails. Pass ``HashedSet``s (from ``hash_samples``, same method) to
    reuse hashes or to see which files could not be read.
    """
    limit = DEFAULT_MAX_DISTANCE[method] if max_distance is None else max_distance
    train_h = train if isinstance(train, HashedSet) else hash_samples(
        train, method, max_pixels, progress, "hashing train")
    test_h = test if isinstance(test, HashedSet) else hash_samples(
        test, method, max_pixels, progress, "hashing test")
    found: list[Duplicate] = []
    for start in range(0, len(test_h.ids), 1024):  # bounded memory for big sets
        block = hamming(test_h.bits[start:start + 1024], train_h.bits)
        for i, j in zip(*np.nonzero(block <= limit)):
            t = start + int(i)
            difference = float(np.abs(test_h.thumbs[t] - train_h.thumbs[j]).mean())
            if difference <= max_difference:
                found.append(Duplicate(test_h.ids[t], train_h.ids[j], int(block[i, j]),
                                       round(difference, 3), test_h.paths[t], train_h.paths[j]))
    return sorted(found, key=lambda d: (d.test_id, d.distance, d.train_id))


@dataclass
class MaskAgreement:
    """How alike two releases annotate the images they share: the training set's mask scored
    as if it were a prediction of the test set's (JAC per shared id, at the test mask's
    resolution). Near 1 means the shared ids are a true label leak: a model that memorised
    its training masks reproduces the test answers."""

    jac: dict[str, float]
    unreadable: list[Problem] = field(default_factory=list)

    def summary(self, worst: int = 10, below: float = 0.9) -> dict[str, object]:
        values = np.array(list(self.jac.values()), dtype=np.float64)
        ranked = sorted(self.jac.items(), key=lambda item: item[1])[:worst]
        return {"n": int(values.size),
                "mean_jac": float(values.mean()) if values.size else None,
                "median_jac": float(np.median(values)) if values.size else None,
                "below": below, "n_below": int((values < below).sum()),
                "worst": [{"id": i, "jac": round(j, 4)} for i, j in ranked],
                "unreadable": [str(p) for p in self.unreadable]}


def mask_agreement(train: Sequence[Sample], test: Sequence[Sample],
                   max_pixels: int | None = DEFAULT_MAX_PIXELS,
                   progress: bool | None = False) -> MaskAgreement:
    """Compare the masks of every id both sets hold (samples without a mask are passed
    over; a training mask of another size is resized to the test mask's, nearest)."""
    from mobilegan.data.io import read_mask
    from mobilegan.metrics.isic import image_metrics, resize_to

    train_masks = {s.id: s.mask for s in train if s.mask is not None}
    pairs = [(s.id, train_masks[s.id], s.mask) for s in test
             if s.mask is not None and s.id in train_masks]
    jac: dict[str, float] = {}
    unreadable: list[Problem] = []
    disable = None if progress is None else not progress
    for sample_id, train_mask, test_mask in tqdm(pairs, desc="comparing masks", unit="mask",
                                                 disable=disable, leave=False):
        try:
            truth, _ = read_mask(test_mask, max_pixels)
            other, _ = read_mask(train_mask, max_pixels)
        except ImageReadError as error:
            unreadable.append(Problem(sample_id, Path(error.path), error.kind, error.reason))
            continue
        other = resize_to(other, truth.shape, method="nearest")
        jac[sample_id] = image_metrics(other, truth)["JAC"]
    return MaskAgreement(dict(sorted(jac.items())), unreadable)
