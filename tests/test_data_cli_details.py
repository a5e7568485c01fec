"""``mobilegan data overlap | split | summary`` details, on small folders drawn here:
the hash and distance asked for, the leak-free exclusion hint, the shared-id listing,
warnings about skipped files, and errors that name the option to fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.synthetic import draw_lesion


def picture(seed: int) -> np.ndarray:
    return draw_lesion((64, 80), seed=seed, label=False)[0]


def save(array: np.ndarray, path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def generic_folder(root: Path, names: list[str], size: int = 16) -> Path:
    """images/ + masks/ with a plain picture and a half-covered mask per name."""
    mask = np.zeros((size, size), np.uint8)
    mask[: size // 2] = 255
    for name in names:
        save(np.full((size, size, 3), 90, np.uint8), root / "images" / f"{name}.png")
        save(mask, root / "masks" / f"{name}_segmentation.png")
    return root


# --- overlap ---------------------------------------------------------------------------

@pytest.fixture()
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """train: A, B, C. test: an exact copy of A as X, a resized JPEG copy of B as Y, and
    a different picture Z."""
    train, test = tmp_path / "train", tmp_path / "test"
    for name, seed in (("ISIC_A", 0), ("ISIC_B", 1), ("ISIC_C", 2)):
        save(picture(seed), train / f"{name}.png")
    save(picture(0), test / "ISIC_X.png")
    near = np.asarray(Image.fromarray(picture(1)).resize((120, 96), Image.Resampling.BILINEAR))
    save(near, test / "ISIC_Y.jpg", quality=75)
    save(picture(9), test / "ISIC_Z.png")
    return train, test


def test_overlap_hashes_both_sets_with_the_chosen_hash_at_the_given_distance(
        copies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    train, test = copies
    assert main(["data", "overlap", str(train), str(test), "--phash", "--hash", "dhash",
                 "--max-distance", "0", "--json"]) == 0
    perceptual = json.loads(capsys.readouterr().out)["perceptual"]
    assert perceptual["method"] == "dhash" and perceptual["max_distance"] == 0
    # the exact copy is 0 bits away only if both sets were hashed with dhash
    assert [(p["test_id"], p["train_id"], p["distance"]) for p in perceptual["pairs"]] == [
        ("ISIC_X", "ISIC_A", 0)]
    assert perceptual["test_images_with_duplicate"] == 1
    # dhash's own default distance (40) also finds the re-encoded copy
    assert main(["data", "overlap", str(train), str(test), "--phash", "--hash", "dhash",
                 "--json"]) == 0
    perceptual = json.loads(capsys.readouterr().out)["perceptual"]
    assert perceptual["method"] == "dhash" and perceptual["max_distance"] == 40
    found = {(p["test_id"], p["train_id"]): p["distance"] for p in perceptual["pairs"]}
    assert set(found) == {("ISIC_X", "ISIC_A"), ("ISIC_Y", "ISIC_B")}
    assert found["ISIC_X", "ISIC_A"] == 0 and 0 < found["ISIC_Y", "ISIC_B"] <= 40


def test_the_leak_free_hint_never_lists_a_test_id(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A training copy whose own id is a test id is dropped by leak-free training anyway:
    only copies under ids the test set does not hold are offered for exclusion."""
    train, test = tmp_path / "train", tmp_path / "test"
    save(picture(0), train / "ISIC_A.png")  # a copy of the test's ISIC_B, under a test id
    save(picture(2), train / "ISIC_C.png")  # a copy of the test's ISIC_D, not a test id
    save(picture(4), train / "ISIC_E.png")
    save(picture(0), test / "ISIC_B.png")
    save(picture(5), test / "ISIC_A.png")  # shared id, another picture
    save(picture(2), test / "ISIC_D.png")
    assert main(["data", "overlap", str(train), str(test), "--phash", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shared_ids"] == ["ISIC_A"]
    pairs = {(p["test_id"], p["train_id"]) for p in report["perceptual"]["pairs"]}
    assert pairs == {("ISIC_B", "ISIC_A"), ("ISIC_D", "ISIC_C")}
    assert report["perceptual"]["copies_kept_by_leak_free"] == ["ISIC_C"]
    assert main(["data", "overlap", str(train), str(test), "--phash"]) == 0
    text = capsys.readouterr().out
    assert "1 of these training images are not test ids" in text
    assert "--set 'data.exclude_train_ids=[\"ISIC_C\"]'" in text


@pytest.mark.parametrize("count", [10, 11])
def test_up_to_ten_shared_ids_are_listed_whole(tmp_path: Path, count: int,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    names = [f"ISIC_{i:07d}" for i in range(count)]
    train = generic_folder(tmp_path / "train", names + ["ISIC_9999999"])
    test = generic_folder(tmp_path / "test", names)
    assert main(["data", "overlap", str(train), str(test)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"shared ids: {count} (100.0% of the test set)" in lines
    listing = lines[lines.index(f"shared ids: {count} (100.0% of the test set)") + 1].strip()
    if count == 10:
        assert listing == ", ".join(names)  # all ten, nothing left to hint at
    else:
        assert listing == ", ".join(names[:10]) + ", ..."


@pytest.mark.parametrize("command", [["summary"], ["validate"]])
def test_a_pixel_limit_of_zero_is_refused_naming_the_option(
        tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    root = generic_folder(tmp_path / "d", ["im0"])
    assert main(["data", *command, str(root), "--max-pixels", "0"]) == 2
    err = capsys.readouterr().err
    assert "--max-pixels must be positive, not 0" in err


def test_overlap_refuses_a_pixel_limit_of_zero(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = generic_folder(tmp_path / "d", ["im0"])
    assert main(["data", "overlap", str(root), str(root), "--phash", "--max-pixels", "0",
                 "--json"]) == 2
    captured = capsys.readouterr()
    assert "--max-pixels must be positive" in captured.err and captured.out == ""


# --- split -----------------------------------------------------------------------------

def test_split_warns_naming_each_skipped_duplicate(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = generic_folder(tmp_path / "d", [f"im{i}" for i in range(5)])
    save(np.full((16, 16, 3), 30, np.uint8), root / "images" / "im3.jpg")  # a second im3
    out = tmp_path / "split.json"
    assert main(["data", "split", str(root), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: skipped ")
    assert "id im3 is also used by" in warnings[0] and "(duplicate_id)" in warnings[0]
    assert "im3.jpg" in warnings[0] and "im3.png" in warnings[0]
    split = json.loads(out.read_text())
    assert sorted(split["train"] + split["val"]) == [f"im{i}" for i in range(5)]


def test_split_without_duplicates_warns_nothing(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = generic_folder(tmp_path / "d", [f"im{i}" for i in range(5)])
    assert main(["data", "split", str(root), "--out", str(tmp_path / "s.json")]) == 0
    assert "skipped" not in capsys.readouterr().err


@pytest.mark.parametrize("fraction", ["0", "1", "1.5", "-0.2"])
def test_split_refuses_a_train_fraction_outside_zero_one_naming_the_flag(
        tmp_path: Path, fraction: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = generic_folder(tmp_path / "d", [f"im{i}" for i in range(5)])
    out = tmp_path / "split.json"
    assert main(["data", "split", str(root), "--out", str(out), "--train-fraction",
                 fraction]) == 2
    err = capsys.readouterr().err
    assert "--train-fraction must be in (0, 1)" in err
    assert not out.exists()


def test_split_with_a_missing_eval_dir_says_that_folder_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command's own words: no such folder, naming the path given to --eval-dir, not
    the run setting (data.eval_dir) that this command never asked for."""
    root = generic_folder(tmp_path / "d", [f"im{i}" for i in range(5)])
    out = tmp_path / "split.json"
    missing = tmp_path / "no_test_set"
    assert main(["data", "split", str(root), "--out", str(out), "--eval-dir",
                 str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"no such folder: {missing} (--eval-dir)" in err
    assert "data.eval_dir" not in err
    assert not out.exists()
