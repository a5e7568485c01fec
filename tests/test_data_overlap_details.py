"""Boundaries and bookkeeping of the overlap search: hashes fed in directly (no images
needed), the limits inclusive, the test set beyond one block, the order of the pairs,
the mask-agreement count below its threshold, and how many bits a perceptual hash sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mobilegan.data.io import read_image
from mobilegan.data.layouts import load_samples
from mobilegan.data.overlap import (HASH_SIZE, THUMB_SIZE, HashedSet, MaskAgreement, dhash,
                                    perceptual_duplicates, phash)
from mobilegan.data.synthetic import draw_lesion

BITS = HASH_SIZE**2


def hashed(ids: list[str], bits: np.ndarray, thumbs: np.ndarray) -> HashedSet:
    return HashedSet(list(ids), [Path(f"{i}.png") for i in ids], bits.astype(bool),
                     thumbs.astype(np.float32))


def flipped(row: np.ndarray, count: int) -> np.ndarray:
    """``row`` with its first ``count`` bits flipped: ``count`` bits away."""
    out = row.copy()
    out[:count] = ~out[:count]
    return out


def flat(value: float) -> np.ndarray:
    return np.full((THUMB_SIZE, THUMB_SIZE), value, np.float32)


def test_every_test_row_past_the_first_block_is_compared_with_its_own_hash() -> None:
    """The test set is compared 1024 rows at a time: rows of the second block are matched
    with their own hashes and thumbnails, not the first block's."""
    rng = np.random.default_rng(0)
    n = 1100
    test_bits = rng.integers(0, 2, (n, BITS)).astype(bool)
    test_thumbs = rng.uniform(0, 255, (n, THUMB_SIZE, THUMB_SIZE))
    test = hashed([f"test_{i:04d}" for i in range(n)], test_bits, test_thumbs)
    copies = [5, 1030, 1099]  # one in the first block, two in the second
    train = hashed([f"train_{i:04d}" for i in copies], test_bits[copies], test_thumbs[copies])
    pairs = perceptual_duplicates(train, test, "phash", max_distance=10, max_difference=1.0)
    assert [(p.test_id, p.train_id, p.distance, p.difference) for p in pairs] == [
        (f"test_{i:04d}", f"train_{i:04d}", 0, 0.0) for i in copies]
    assert [p.test_path for p in pairs] == [Path(f"test_{i:04d}.png") for i in copies]


def test_a_pair_exactly_at_the_largest_distance_is_a_candidate() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, BITS).astype(bool)
    train = hashed(["near", "far"], np.stack([flipped(base, 7), flipped(base, 8)]),
                   np.stack([flat(100)] * 2))
    test = hashed(["t"], base[None], flat(100)[None])
    pairs = perceptual_duplicates(train, test, "phash", max_distance=7)
    assert [(p.train_id, p.distance) for p in pairs] == [("near", 7)]
    assert [p.train_id for p in perceptual_duplicates(train, test, "phash", max_distance=6)] == []
    # the default limit (phash 24 bits) is inclusive too
    at_default = hashed(["d"], flipped(base, 24)[None], flat(100)[None])
    assert [p.distance for p in perceptual_duplicates(at_default, test, "phash")] == [24]


def test_a_pair_exactly_at_the_largest_difference_is_confirmed() -> None:
    base = np.zeros(BITS, bool)
    train = hashed(["equal", "over"], np.stack([base, base]), np.stack([flat(12), flat(12.5)]))
    test = hashed(["t"], base[None], flat(10)[None])
    pairs = perceptual_duplicates(train, test, "phash", max_distance=0, max_difference=2.0)
    assert [(p.train_id, p.difference) for p in pairs] == [("equal", 2.0)]
    default = hashed(["d"], base[None], flat(13)[None])  # DEFAULT_MAX_DIFFERENCE is 3.0
    assert [p.difference for p in perceptual_duplicates(default, test, "phash")] == [3.0]


def test_pairs_come_sorted_by_test_id_then_distance() -> None:
    """Test id first (its closest copy first), whatever the distances of other test ids."""
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 2, (2, BITS)).astype(bool)
    test = hashed(["b_test", "a_test"], np.stack([b, a]), np.stack([flat(50)] * 2))
    train = hashed(["z_a3", "y_b0", "x_a1", "w_a1"],
                   np.stack([flipped(a, 3), b, flipped(a, 1), flipped(a, 1)]),
                   np.stack([flat(50)] * 4))
    pairs = perceptual_duplicates(train, test, "dhash", max_distance=5)
    assert [(p.test_id, p.distance, p.train_id) for p in pairs] == [
        ("a_test", 1, "w_a1"), ("a_test", 1, "x_a1"), ("a_test", 3, "z_a3"),
        ("b_test", 0, "y_b0")]


def test_mask_agreement_counts_only_values_strictly_below_the_threshold() -> None:
    agreement = MaskAgreement({"a": 0.9, "b": 0.5, "c": 0.95, "d": 0.89999})
    summary = agreement.summary(below=0.9)
    assert summary["below"] == 0.9 and summary["n_below"] == 2  # b and d; a (= 0.9) is not
    assert agreement.summary(below=0.5)["n_below"] == 0
    assert agreement.summary()["n_below"] == 2  # the default threshold is 0.9


def test_phash_sets_half_its_bits_on_real_and_drawn_images(isic2018: Path) -> None:
    """Bits are DCT coefficients above their median: half of the 256 are set (the DC term
    above it), whatever the image's brightness. A mean would leave most unset."""
    images = [read_image(s.image, draft_size=(64, 64)) for s in load_samples(isic2018)[:6]]
    images += [draw_lesion((96, 128), seed=seed)[0] for seed in range(3)]
    counts = [int(phash(image).sum()) for image in images]
    assert all(abs(c - BITS // 2) <= 2 for c in counts), counts
    # dhash sets what the picture says: a left-to-right ramp darkening sets none
    ramp = np.repeat(np.linspace(255, 0, 64)[None, :, None], 48, axis=0).repeat(3, axis=2)
    assert dhash(ramp.astype(np.uint8)).sum() == 0


@pytest.mark.parametrize("brightness", [40, 200])
def test_phash_half_of_bits_holds_for_dark_and_bright_pictures(brightness: int) -> None:
    picture, _ = draw_lesion((64, 64), seed=7)
    scaled = np.clip(picture.astype(np.float64) * brightness / picture.mean(), 0, 255)
    assert abs(int(phash(scaled.astype(np.uint8)).sum()) - BITS // 2) <= 2
