"""``mobilegan data summary | validate | split`` on folders built here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.splits import load_split


def make_folder(root: Path, areas: list[float], size: tuple[int, int] = (50, 40)) -> Path:
    """A generic images/ + masks/ folder whose masks cover the given fractions of rows."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    w, h = size
    for i, area in enumerate(areas):
        Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(root / "images" / f"im{i}.png")
        mask = np.zeros((h, w), np.uint8)
        mask[: round(h * area)] = 255
        Image.fromarray(mask).save(root / "masks" / f"im{i}_segmentation.png")
    return root


def test_summary_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_folder(tmp_path / "d", [0.1, 0.25, 0.5, 0.75])
    (root / "images" / "bad.jpg").write_bytes(b"broken")
    assert main(["data", "summary", str(root)]) == 0
    out = capsys.readouterr().out
    assert "[all] 5 images, 4 with masks, 4 usable" in out
    assert "50x40 (4)" in out
    assert "min 10.0, median 37.5, max 75.0" in out
    assert "bad.jpg" in out and "missing_mask" in out and "unreadable" in out
    assert main(["data", "summary", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    split = report["splits"]["all"]
    assert split["images"] == 5 and split["usable"] == 4
    assert split["lesion_area_percent"]["median"] == pytest.approx(37.5)
    assert sum(split["lesion_area_histogram"]["counts"]) == 4
    assert {p["kind"] for p in report["problems"]} == {"unreadable", "missing_mask"}


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_folder(tmp_path / "d", [0.5, 0.5])
    assert main(["data", "validate", str(root)]) == 0
    assert "2 images checked: 0 problems" in capsys.readouterr().out
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "masks" / "im1_segmentation.png")
    assert main(["data", "validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert "[size_mismatch]" in out and "im1_segmentation.png" in out


def test_bomb_limit_from_the_command_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = make_folder(tmp_path / "d", [0.5])
    assert main(["data", "validate", str(root), "--max-pixels", "1000"]) == 1
    assert "too_large" in capsys.readouterr().out


def test_bad_folders_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["data", "summary", str(tmp_path / "empty")]) == 2
    assert "empty folder" in capsys.readouterr().err
    assert main(["data", "summary", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_split_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_folder(tmp_path / "d", [0.2] * 10)
    out = tmp_path / "split.json"
    assert main(["data", "split", str(root), "--out", str(out), "--seed", "4",
                 "--train-fraction", "0.7"]) == 0
    assert "7 train, 3 val" in capsys.readouterr().out
    split = load_split(out)
    assert len(split.train) == 7 and split.seed == 4
    # the seed chose the ids, not only the record: the library's split with that seed
    from mobilegan.data.splits import seeded_split

    assert list(split.train) == seeded_split([*split.train, *split.val], 0.7, seed=4)[0]
    assert list(split.train) != seeded_split([*split.train, *split.val], 0.7, seed=0)[0]
    assert "warning" not in capsys.readouterr().err
    (root / "masks" / "im3_segmentation.png").unlink()  # an image with no mask is warned of
    assert main(["data", "split", str(root), "--out", str(tmp_path / "s2.json")]) == 0
    assert "1 image(s) have no mask" in capsys.readouterr().err


def test_real_summary_of_one_split(isic2017: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "summary", str(isic2017), "--split", "val", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["splits"]) == ["val"]
    val = report["splits"]["val"]
    assert val["images"] == 150 and val["usable"] == 150
    assert val["resolutions"] == {"256x192": 150}
    assert report["problems"] == []


def test_split_all_means_every_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--split all`` (offered by the help, and what ``evaluate --split all`` reads) on a
    folder with train/ and test/: every split, not "split 'all' not under ..."."""
    make_folder(tmp_path / "d" / "train", [0.2] * 3)
    test = make_folder(tmp_path / "d" / "test", [0.4] * 2)
    for path in [*test.glob("*/im*")]:
        path.rename(path.with_name("t" + path.name))  # ids of its own
    root = tmp_path / "d"
    assert main(["data", "validate", str(root), "--split", "all"]) == 0
    assert "5 images checked: 0 problems" in capsys.readouterr().out
    assert main(["data", "summary", str(root), "--split", "all", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)["splits"]) == ["test", "train"]
    out = tmp_path / "split.json"
    assert main(["data", "split", str(root), "--split", "all", "--out", str(out)]) == 0
    split = load_split(out)
    assert len(split.train) + len(split.val) == 5


def test_split_writes_the_ids_training_uses(data_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """ISIC 2018 with the ISIC 2017 test set named: the 529 shared ids leave first, as in
    leak-free training, and the two sides are the run's own (1652 / 413)."""
    from mobilegan.config import RunConfig
    from mobilegan.training.data_setup import plan_splits

    out = tmp_path / "split.json"
    assert main(["data", "split", str(data_root / "isic2018"), "--out", str(out),
                 "--eval-dir", str(data_root / "isic2017")]) == 0
    said = capsys.readouterr().out
    assert "1652 train, 413 val" in said and "529 ids of" in said and "left out first" in said
    cfg = RunConfig()
    cfg.data.train_dir = str(data_root / "isic2018")
    cfg.data.eval_dir = str(data_root / "isic2017")
    train, val, info = plan_splits(cfg)
    saved = json.loads(out.read_text())
    assert saved["train"] == sorted(s.id for s in train) and saved["val"] == sorted(s.id for s in val)
    assert saved["train_ids_sha256"] == info["train_ids_sha256"]
    assert saved["protocol"] == "leak-free" and saved["eval_ids_excluded"] == 529
    assert main(["data", "split", str(data_root / "isic2017"), "--out", str(out)]) == 0
    assert "1600 train, 400 val" in capsys.readouterr().out  # its train split, not test


def test_a_folder_whose_masks_are_not_found_does_not_pass_validation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing GroundTruth folder, or masks named in a way not read, left every pair
    without a mask: summary said "0 with masks", validate "0 problems" and exit 0, and
    training then refused the folder."""
    root = make_folder(tmp_path / "d", [0.2] * 3)
    for mask in (root / "masks").iterdir():
        mask.rename(mask.with_name(mask.name.replace("_segmentation", "_gt")))
    assert main(["data", "validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert "[no_masks]" in out and "none of the 3 images of split 'all' has a mask" in out
    assert str(root / "masks") in out and "0 unusable pairs; none of the 3 images" in out
    for mask in (root / "masks").iterdir():  # <id>_mask is a masks folder's naming too
        mask.rename(mask.with_name(mask.name.replace("_gt", "_mask")))
    assert main(["data", "validate", str(root)]) == 0
    assert "3 images checked: 0 problems" in capsys.readouterr().out
