"""Every bad pair is reported per file; lenient loading keeps the rest, strict stops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.data.cache import load_cached
from mobilegan.data.layouts import Sample, discover, load_samples
from mobilegan.data.validate import Problem, check_pair, orphan_masks, validate_samples

RNG = np.random.default_rng(1)


def write_pair(root: Path, name: str, size: tuple[int, int] = (40, 30),
               mask_size: tuple[int, int] | None = None, mask_value: int = 255,
               image_format: str = "jpg") -> tuple[Path, Path]:
    """An image and a mask with a rectangle of ``mask_value`` in a generic layout."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    width, height = size
    image = root / "images" / f"{name}.{image_format}"
    Image.fromarray(RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(image)
    mw, mh = mask_size or size
    levels = np.zeros((mh, mw), np.uint8)
    levels[mh // 4: 3 * mh // 4, mw // 4: 3 * mw // 4] = mask_value
    mask = root / "masks" / f"{name}_segmentation.png"
    Image.fromarray(levels).save(mask)
    return image, mask


@pytest.fixture()
def messy(tmp_path: Path) -> Path:
    """A folder with one of each problem beside good pairs."""
    root = tmp_path / "messy"
    for i in range(3):
        write_pair(root, f"good_{i}")
    write_pair(root, "mismatch", mask_size=(20, 15))
    _, grey = write_pair(root, "grey")
    levels = np.asarray(Image.open(grey)).copy()
    levels[0, :5] = 100  # 5 grey pixels
    Image.fromarray(levels).save(grey)
    image, _ = write_pair(root, "corrupt")
    image.write_bytes(b"not a jpeg at all")
    _, cut = write_pair(root, "cutmask")
    cut.write_bytes(cut.read_bytes()[:60])
    missing, mask = write_pair(root, "nomask")
    mask.unlink()
    write_pair(root, "emptymask", mask_value=0)
    write_pair(root, "huge", size=(400, 300))
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / "masks" / "orphan_segmentation.png")
    return root


def by_id(problems: list[Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(p.id, []).append(p.kind)
    return out


def test_each_problem_is_reported_per_file(messy: Path) -> None:
    samples = load_samples(messy)
    problems = validate_samples(samples, max_pixels=50_000)
    kinds = by_id(problems)
    assert kinds == {
        "mismatch": ["size_mismatch"],
        "grey": ["grey_mask"],
        "corrupt": ["unreadable"],
        "cutmask": ["mask_unreadable"],
        "nomask": ["missing_mask"],
        "emptymask": ["empty_mask"],
        "huge": ["too_large", "mask_unreadable"],  # both files are over the limit
    }
    text = {p.id: str(p) for p in problems if p.kind != "mask_unreadable" or p.id == "cutmask"}
    assert "corrupt.jpg" in text["corrupt"]
    assert "cutmask_segmentation.png" in text["cutmask"] and "truncated" in text["cutmask"]
    assert "5 of" in text["grey"] and "> 128" in text["grey"]
    assert "40x30" in text["mismatch"] and "20x15" in text["mismatch"]
    assert "huge.jpg" in text["huge"] and "50,000" in text["huge"]
    assert not next(p for p in problems if p.kind == "grey_mask").fatal
    assert next(p for p in problems if p.kind == "size_mismatch").fatal
    orphans = orphan_masks(messy)
    assert [p.path.name for p in orphans] == ["orphan_segmentation.png"]
    # the folder's summary (data validate, data summary) names it too, beside the pairs'
    from mobilegan.data.summary import summarize_folder

    summary = summarize_folder(messy, max_pixels=50_000)
    assert [p.path.name for p in summary.problems] == ["orphan_segmentation.png"]
    assert "orphan_segmentation.png" in {p.path.name for p in summary.all_problems()}


def test_lenient_loading_keeps_the_good_pairs(messy: Path) -> None:
    cached = load_cached(load_samples(messy), 16, progress=False, max_pixels=50_000)
    assert sorted(cached.ids) == ["emptymask", "good_0", "good_1", "good_2", "grey"]
    assert cached.images.shape == (5, 3, 16, 16) and cached.images.dtype.is_floating_point is False
    assert cached.masks.shape == (5, 1, 16, 16) and set(cached.masks.unique().tolist()) <= {0, 1}
    skipped = dict(cached.skipped)  # (id, reason) pairs, as the trainer reads them
    assert sorted(skipped) == ["corrupt", "cutmask", "huge", "mismatch", "nomask"]
    assert "corrupt.jpg" in skipped["corrupt"]
    assert {p.kind for p in cached.problems} >= {"grey_mask", "empty_mask", "size_mismatch"}


def test_strict_loading_stops_at_the_first_bad_file(messy: Path) -> None:
    with pytest.raises(ValueError, match=r"corrupt\.jpg"):
        load_cached(load_samples(messy), 16, progress=False, strict=True)


def test_a_set_with_no_good_pair_is_an_error(tmp_path: Path) -> None:
    image, _ = write_pair(tmp_path, "only")
    image.write_bytes(b"junk")
    with pytest.raises(ValueError, match="no readable image/mask pairs.*only.jpg"):
        load_cached(load_samples(tmp_path), 8, progress=False)


def test_masks_keep_their_lesion_when_resized(tmp_path: Path) -> None:
    write_pair(tmp_path, "a", size=(80, 60))
    cached = load_cached(load_samples(tmp_path), (30, 40), progress=False)
    assert cached.images.shape == (1, 3, 30, 40)
    fraction = cached.masks.float().mean().item()
    assert abs(fraction - 0.25) < 0.03


def test_duplicate_ids_are_flagged(tmp_path: Path) -> None:
    write_pair(tmp_path, "twin", image_format="jpg")
    write_pair(tmp_path, "twin", image_format="png")
    problems = validate_samples(load_samples(tmp_path))
    assert [(p.id, p.kind) for p in problems] == [("twin", "duplicate_id")]


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        discover(tmp_path / "empty")
    assert [p.kind for p in validate_samples([])] == ["empty_set"]
    with pytest.raises(ValueError, match="no readable"):
        load_cached([], 8, progress=False)


def test_images_without_masks_are_fine_when_masks_are_not_required(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "x.png")
    sample = Sample("x", tmp_path / "x.png", None)
    assert check_pair(sample, require_mask=False).ok
    assert not check_pair(sample).ok


def test_real_pairs_validate_cleanly(isic2017: Path) -> None:
    samples = load_samples(isic2017, "val")[:25]
    assert validate_samples(samples) == []


def _pair(root: Path, image_wh: tuple[int, int], levels: np.ndarray) -> Sample:
    root.mkdir(parents=True, exist_ok=True)
    width, height = image_wh
    image = root / "x.png"
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(image)
    mask = root / "x_segmentation.png"
    Image.fromarray(levels).save(mask)
    return Sample("x", image, mask)


def test_a_single_grey_mask_pixel_is_reported(tmp_path: Path) -> None:
    """Every pixel the ISIC scorer binarises is worth a word: one grey pixel is a
    grey_mask warning that counts it, and the pair still loads."""
    levels = np.zeros((30, 40), np.uint8)
    levels[10:20, 10:20] = 255
    levels[0, 0] = 100
    checked = check_pair(_pair(tmp_path, (40, 30), levels))
    assert [p.kind for p in checked.problems] == ["grey_mask"]
    assert "1 of 1,200 pixels" in checked.problems[0].message
    assert checked.ok


def test_a_mask_of_the_transposed_size_is_a_size_mismatch(tmp_path: Path) -> None:
    """A mask saved rotated (30x40 for a 40x30 image) holds as many pixels as its image but
    does not fit it: fatal, named with both sizes."""
    levels = np.zeros((40, 30), np.uint8)
    levels[10:20, 10:20] = 255
    checked = check_pair(_pair(tmp_path, (40, 30), levels))
    assert [p.kind for p in checked.problems] == ["size_mismatch"]
    assert "mask is 30x40" in checked.problems[0].message and "is 40x30" in checked.problems[0].message
    assert not checked.ok


def test_summary_does_not_count_a_readable_pair_with_a_fatal_problem_as_usable(
        tmp_path: Path) -> None:
    """``usable`` is the pairs training can load: an image that reads fine beside a mask
    of another size is counted in the resolutions, not as usable, and its lesion area
    stays out of the statistics."""
    from mobilegan.data.summary import summarize_folder

    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name, mask_shape in (("a", (30, 40)), ("b", (30, 40)), ("c", (15, 20))):
        Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(root / "images" / f"{name}.png")
        levels = np.zeros(mask_shape, np.uint8)
        levels[: mask_shape[0] // 2] = 255  # half the mask: 50% area
        Image.fromarray(levels).save(root / "masks" / f"{name}_segmentation.png")
    (split,) = summarize_folder(root).splits.values()
    assert (split.images, split.with_mask, split.usable) == (3, 3, 2)
    assert split.resolutions == {"40x30": 3}
    assert split.lesion_area == [50.0, 50.0]
    assert [p.kind for p in split.problems] == ["size_mismatch"]
