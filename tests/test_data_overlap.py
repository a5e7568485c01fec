"""Test images a training set already holds: by id, and by content under any id."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.layouts import Sample, load_samples
from mobilegan.data.overlap import (dhash, hamming, hash_samples, mask_agreement,
                                    perceptual_duplicates, phash, shared_ids)


def test_shared_ids_on_the_real_data(isic2017: Path, isic2018: Path) -> None:
    shared = shared_ids(load_samples(isic2018), load_samples(isic2017, "test"))
    assert len(shared) == 529 and shared == sorted(shared)


def test_overlap_command_reports_529(isic2017: Path, isic2018: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "overlap", str(isic2018), str(isic2017), "--test-split", "test",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_shared_ids"] == 529 and len(report["shared_ids"]) == 529
    assert report["test"]["images"] == 600 and report["train"]["images"] == 2594
    assert main(["data", "overlap", str(isic2018), str(isic2017), "--test-split", "test"]) == 0
    assert "shared ids: 529 (88.2% of the test set)" in capsys.readouterr().out


def test_overlap_command_bad_split(isic2017: Path, isic2018: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "overlap", str(isic2018), str(isic2017), "--test-split", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def blob_image(seed: int, size: tuple[int, int] = (160, 120)) -> np.ndarray:
    """A skin-coloured picture with a few dark blobs, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.ones((h, w, 3)) * (200, 150, 130)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(8, 35)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] *= rng.uniform(0.3, 0.7)
    return image.clip(0, 255).astype(np.uint8)


def test_hamming_counts_differing_bits_both_ways() -> None:
    a = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], np.uint8)
    b = np.array([[0, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], np.uint8)
    expected = [[int((x != y).sum()) for y in b] for x in a]
    assert hamming(a, b).tolist() == expected == [[3, 0, 2], [1, 2, 4]]


@pytest.mark.parametrize("hasher", [phash, dhash])
def test_hashes_survive_resizing_and_recompression(
        hasher: Callable[[np.ndarray], np.ndarray], tmp_path: Path) -> None:
    original = blob_image(0)
    small = np.asarray(Image.fromarray(original).resize((80, 60), Image.Resampling.BILINEAR))
    Image.fromarray(small).save(tmp_path / "s.jpg", quality=70)
    copy = np.asarray(Image.open(tmp_path / "s.jpg"))
    h0, h1, other = hasher(original), hasher(copy), hasher(blob_image(1))
    assert h0.shape == (256,) and h0.dtype == bool
    near = hamming(h0[None], h1[None])[0, 0]
    far = hamming(h0[None], other[None])[0, 0]
    assert near < far and near <= 24


def test_perceptual_duplicates_under_other_ids(tmp_path: Path) -> None:
    train, test = [], []
    for seed in range(6):
        path = tmp_path / f"train_{seed}.png"
        Image.fromarray(blob_image(seed)).save(path)
        train.append(Sample(f"train_{seed}", path, None))
    copy = tmp_path / "renamed_copy.jpg"
    Image.fromarray(blob_image(2)).resize((320, 240)).save(copy, quality=90)
    fresh = tmp_path / "fresh.png"
    Image.fromarray(blob_image(99)).save(fresh)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"nope")
    test = [Sample("renamed_copy", copy, None), Sample("fresh", fresh, None),
            Sample("broken", broken, None)]
    hashed_test = hash_samples(test)
    assert [p.id for p in hashed_test.problems] == ["broken"]
    pairs = perceptual_duplicates(train, hashed_test)
    assert [(p.test_id, p.train_id, p.same_id) for p in pairs] == [
        ("renamed_copy", "train_2", False)]
    assert pairs[0].difference < 3.0


def test_overlap_command_lists_copies_that_leak_free_training_keeps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A renamed copy of a test image survives the removal of shared ids; the command names it
    in the form data.exclude_train_ids takes. A copy under the test image's own id does not."""
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    train_dir.mkdir(), test_dir.mkdir()
    for seed in range(5):
        Image.fromarray(blob_image(seed)).save(train_dir / f"ISIC_100000{seed}.png")
    Image.fromarray(blob_image(2)).resize((320, 240)).save(test_dir / "ISIC_2000000.jpg", quality=90)
    Image.fromarray(blob_image(4)).save(test_dir / "ISIC_1000004.png")  # shared id
    Image.fromarray(blob_image(77)).save(test_dir / "ISIC_2000001.png")
    assert main(["data", "overlap", str(train_dir), str(test_dir), "--phash", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shared_ids"] == ["ISIC_1000004"]
    assert report["perceptual"]["copies_kept_by_leak_free"] == ["ISIC_1000002"]
    assert main(["data", "overlap", str(train_dir), str(test_dir), "--phash"]) == 0
    text = capsys.readouterr().out
    option = text.split("--set ", 1)[1].splitlines()[0].strip("'")
    from mobilegan.config import RunConfig, apply_overrides
    assert apply_overrides(RunConfig(), [option]).data.exclude_train_ids == ("ISIC_1000002",)


def test_perceptual_duplicates_on_real_copies(isic2017: Path, isic2018: Path) -> None:
    """2017 test images and their re-encoded 2018 copies are found; other lesions are not."""
    test = load_samples(isic2017, "test")[:40]
    train_by_id = {s.id: s for s in load_samples(isic2018)}
    train = [train_by_id[s.id] for s in test if s.id in train_by_id][:15]
    pairs = perceptual_duplicates(train, test)
    assert {p.test_id for p in pairs if p.same_id} == {s.id for s in train}
    assert all(p.same_id for p in pairs)


def _disc(size: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """A 0/255 disc mask (width, height) with its centre and radius as fractions of the width."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (xx - centre[0] * w) ** 2 + (yy - centre[1] * w) ** 2 < (radius * w) ** 2
    return (inside * 255).astype(np.uint8)


def test_mask_agreement_scores_each_shared_id_at_the_test_masks_resolution(tmp_path: Path) -> None:
    image = tmp_path / "image.png"
    Image.fromarray(blob_image(0)).save(image)

    def sample(name: str, mask: np.ndarray | None) -> Sample:
        if mask is None:
            return Sample(name, image, None)
        path = tmp_path / f"{name}_{mask.shape[1]}_{len(list(tmp_path.iterdir()))}.png"
        Image.fromarray(mask).save(path)
        return Sample(name, image, path)

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    train = [sample("same", _disc((400, 300), (0.5, 0.35), 0.2)),  # at 2.5x the test's size
             sample("moved", _disc((160, 120), (0.3, 0.35), 0.2)),
             sample("broken", _disc((160, 120), (0.5, 0.35), 0.2)),
             sample("no_test_mask", _disc((160, 120), (0.5, 0.35), 0.2)),
             sample("train_only", _disc((160, 120), (0.5, 0.35), 0.2))]
    test = [sample("same", _disc((160, 120), (0.5, 0.35), 0.2)),
            sample("moved", _disc((160, 120), (0.7, 0.35), 0.2)),
            Sample("broken", image, broken), sample("no_test_mask", None),
            sample("test_only", _disc((160, 120), (0.5, 0.35), 0.2))]
    agreement = mask_agreement(train, test)
    assert sorted(agreement.jac) == ["moved", "same"]
    assert agreement.jac["same"] > 0.97 and agreement.jac["moved"] < 0.3
    assert [p.id for p in agreement.unreadable] == ["broken"]
    summary = agreement.summary(below=0.9)
    assert summary["n"] == 2 and summary["n_below"] == 1
    assert summary["worst"][0]["id"] == "moved"
    assert summary["mean_jac"] == pytest.approx((agreement.jac["same"] + agreement.jac["moved"]) / 2)


def test_overlap_command_compares_the_shared_masks_of_the_real_sets(
        isic2017: Path, isic2018: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ISIC 2018 annotates the 529 ISIC 2017 test images it holds as 2017 does: the shared
    ids leak the test answers, not only the pictures."""
    assert main(["data", "overlap", str(isic2018), str(isic2017), "--test-split", "test",
                 "--masks", "--json"]) == 0
    masks = json.loads(capsys.readouterr().out)["masks"]
    assert masks["n"] == 529 and masks["unreadable"] == []
    assert masks["median_jac"] > 0.95 and masks["n_below"] < 10
    assert main(["data", "overlap", str(isic2018), str(isic2017), "--test-split", "test",
                 "--masks"]) == 0
    assert "masks of the shared ids: 529 compared" in capsys.readouterr().out


def test_matching_hashes_are_confirmed_only_within_three_grey_levels() -> None:
    """Equal perceptual hashes are a candidate; the thumbnails must then agree within 3 grey
    levels on average, or two different images of one lesion type would count as a leak."""
    from mobilegan.data.overlap import HashedSet, perceptual_duplicates

    bits = np.zeros((1, 256), bool)
    thumb = np.full((1, 32, 32), 100, np.float32)
    train = HashedSet(["a"], [Path("a")], bits, thumb)
    near = HashedSet(["b"], [Path("b")], bits, thumb + 3.0)
    far = HashedSet(["c"], [Path("c")], bits, thumb + 4.0)
    assert len(perceptual_duplicates(train, near)) == 1
    assert perceptual_duplicates(train, far) == []
