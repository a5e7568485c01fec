"""Discovery of the official ISIC layouts, generic folders and bare image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.data.layouts import discover, image_id, load_samples, unpaired_masks

PIXEL = np.zeros((2, 2, 3), np.uint8)


def touch_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(PIXEL).save(path)
    return path


def touch_mask(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(path)
    return path


def test_image_id() -> None:
    assert image_id(Path("ISIC_0000001.jpg")) == "ISIC_0000001"
    assert image_id(Path("ISIC_0000001_segmentation.png")) == "ISIC_0000001"
    assert image_id(Path("ISIC_0000001_Segmentation.png")) == "ISIC_0000001"  # ISIC 2016


def test_isic2017_layout_ignores_superpixels_and_metadata(tmp_path: Path) -> None:
    images = tmp_path / "ISIC-2017_Test_v2_Data"
    masks = tmp_path / "ISIC-2017_Test_v2_Part1_GroundTruth"
    for n in ("ISIC_0000001", "ISIC_0000002"):
        touch_image(images / f"{n}.jpg")
        touch_image(images / f"{n}_superpixels.png")
        touch_mask(masks / f"{n}_segmentation.png")
    (images / "ISIC-2017_Test_v2_Data_metadata.csv").write_text("image_id,age\n")
    (masks / "LICENSE.txt").write_text("CC-0")
    (images / ".DS_Store").write_bytes(b"\0")
    splits = discover(tmp_path)
    assert list(splits) == ["test"]
    assert [(s.id, s.image.name, s.mask.name if s.mask else None) for s in splits["test"]] == [
        ("ISIC_0000001", "ISIC_0000001.jpg", "ISIC_0000001_segmentation.png"),
        ("ISIC_0000002", "ISIC_0000002.jpg", "ISIC_0000002_segmentation.png"),
    ]


def test_isic2016_and_2018_layouts(tmp_path: Path) -> None:
    touch_image(tmp_path / "a" / "ISBI2016_ISIC_Part1_Training_Data" / "ISIC_0000000.jpg")
    touch_mask(tmp_path / "a" / "ISBI2016_ISIC_Part1_Training_GroundTruth"
               / "ISIC_0000000_Segmentation.png")
    touch_image(tmp_path / "a" / "ISBI2016_ISIC_Part1_Test_Data" / "ISIC_0000003.jpg")
    touch_image(tmp_path / "b" / "ISIC2018_Task1-2_Validation_Input" / "ISIC_0012576.jpg")
    touch_mask(tmp_path / "b" / "ISIC2018_Task1_Validation_GroundTruth"
               / "ISIC_0012576_segmentation.png")
    a = discover(tmp_path / "a")
    assert sorted(a) == ["test", "train"]
    assert a["train"][0].mask is not None and a["test"][0].mask is None
    assert discover(tmp_path / "b")["val"][0].mask is not None


def test_generic_layout_pairs_by_stem_or_segmentation_suffix(tmp_path: Path) -> None:
    touch_image(tmp_path / "images" / "a.png")
    touch_image(tmp_path / "images" / "b.JPG")
    touch_mask(tmp_path / "masks" / "a.png")
    touch_mask(tmp_path / "masks" / "b_segmentation.png")
    samples = load_samples(tmp_path)
    assert [(s.id, s.mask.name) for s in samples] == [("a", "a.png"), ("b", "b_segmentation.png")]


def test_generic_split_folders(tmp_path: Path) -> None:
    for split in ("train", "val", "test"):
        touch_image(tmp_path / split / "images" / f"{split}1.jpg")
        touch_mask(tmp_path / split / "masks" / f"{split}1.png")
    splits = discover(tmp_path)
    assert sorted(splits) == ["test", "train", "val"]
    assert splits["val"][0].id == "val1" and splits["val"][0].mask is not None


def test_pointing_at_an_image_folder(tmp_path: Path) -> None:
    touch_image(tmp_path / "ISIC-2017_Training_Data" / "ISIC_0000000.jpg")
    touch_mask(tmp_path / "ISIC-2017_Training_Part1_GroundTruth" / "ISIC_0000000_segmentation.png")
    samples = discover(tmp_path / "ISIC-2017_Training_Data")["all"]
    assert samples[0].mask is not None
    touch_image(tmp_path / "g" / "images" / "x.jpg")
    touch_mask(tmp_path / "g" / "masks" / "x.png")
    assert discover(tmp_path / "g" / "images")["all"][0].mask is not None


def test_bare_folder_with_masks_beside_images(tmp_path: Path) -> None:
    touch_image(tmp_path / "x.jpg")
    touch_image(tmp_path / "y.jpg")
    touch_mask(tmp_path / "x_segmentation.png")
    samples = discover(tmp_path)["all"]
    assert [(s.id, s.mask.name if s.mask else None) for s in samples] == [
        ("x", "x_segmentation.png"), ("y", None)]


def make_ph2(base: Path, cases: tuple[str, ...] = ("IMD002", "IMD003"), lesion: bool = True) -> Path:
    """PH2's layout: one folder per image, an ROI folder that is not ground truth."""
    for case in cases:
        touch_image(base / case / f"{case}_Dermoscopic_Image" / f"{case}.bmp")
        if lesion:
            touch_mask(base / case / f"{case}_lesion" / f"{case}_lesion.bmp")
        touch_mask(base / case / f"{case}_roi" / f"{case}_R1_Label1.bmp")
    return base


@pytest.mark.parametrize("inside", ["", "PH2 Dataset images", "PH2Dataset/PH2 Dataset images"])
def test_ph2_layout_from_its_root_or_its_image_folder(tmp_path: Path, inside: str) -> None:
    make_ph2(tmp_path / inside if inside else tmp_path)
    make_ph2(tmp_path / inside if inside else tmp_path, cases=("IMD004",), lesion=False)
    samples = load_samples(tmp_path)
    assert [(s.id, s.image.name, s.mask.name if s.mask else None) for s in samples] == [
        ("IMD002", "IMD002.bmp", "IMD002_lesion.bmp"), ("IMD003", "IMD003.bmp", "IMD003_lesion.bmp"),
        ("IMD004", "IMD004.bmp", None)]
    assert image_id(Path("IMD002_lesion.bmp")) == "IMD002_lesion"  # a mask only in its folder


def test_an_image_named_lesion_is_still_an_image(tmp_path: Path) -> None:
    touch_image(tmp_path / "mole_lesion.jpg")
    touch_mask(tmp_path / "mole_lesion_segmentation.png")
    [sample] = discover(tmp_path)["all"]
    assert (sample.id, sample.image.name, sample.mask.name) == (
        "mole_lesion", "mole_lesion.jpg", "mole_lesion_segmentation.png")


def test_empty_folder_and_a_folder_of_data_sets(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="empty folder"):
        discover(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        discover(tmp_path / "missing")
    touch_image(tmp_path / "isic2017" / "ISIC-2017_Test_v2_Data" / "ISIC_0000001.jpg")
    with pytest.raises(FileNotFoundError, match="isic2017"):
        discover(tmp_path)


def test_unknown_split_names_the_ones_found(isic2017: Path) -> None:
    with pytest.raises(KeyError, match="found"):
        load_samples(isic2017, "nope")


def test_real_data_counts(isic2017: Path, isic2018: Path) -> None:
    s17 = discover(isic2017)
    assert {k: len(v) for k, v in s17.items()} == {"train": 2000, "val": 150, "test": 600}
    assert all(s.mask is not None for v in s17.values() for s in v)
    assert {k: len(v) for k, v in discover(isic2018).items()} == {"train": 2594}


def test_a_generic_mask_named_lesion_pairs_by_its_full_stem(tmp_path: Path) -> None:
    """images/ + masks/ pair by stem: ``case12_lesion.png`` is ``case12_lesion.jpg``'s mask.
    PH2's ``_lesion`` suffix must not move it to another image (``mole_lesion.png`` was
    given to ``mole.jpg``, and ``mole_lesion.jpg`` lost its mask)."""
    for name in ("case12_lesion", "mole", "mole_lesion"):
        touch_image(tmp_path / "images" / f"{name}.jpg")
    for name in ("case12_lesion", "mole_lesion"):
        touch_mask(tmp_path / "masks" / f"{name}.png")
    samples = load_samples(tmp_path)
    assert [(s.id, s.mask.name if s.mask else None) for s in samples] == [
        ("case12_lesion", "case12_lesion.png"), ("mole", None),
        ("mole_lesion", "mole_lesion.png")]
    assert unpaired_masks(tmp_path / "images", tmp_path / "masks") == []


def test_a_jfif_file_is_a_jpeg_image(tmp_path: Path) -> None:
    """Browsers and phones save JPEGs as ``.jfif``; a folder of them is not empty."""
    Image.new("RGB", (8, 6), (120, 80, 60)).save(tmp_path / "mole.jfif", format="JPEG")
    touch_mask(tmp_path / "mole_segmentation.png")
    samples = discover(tmp_path)["all"]
    assert [s.id for s in samples] == ["mole"] and samples[0].mask is not None


def test_a_missing_split_says_what_the_folder_has_and_how_to_read_it_all(tmp_path: Path) -> None:
    """A folder with a train/ split only, asked for 'test', names what it has and the way
    to read every image; a plain images/ + masks/ folder has no splits and answers any."""
    from PIL import Image

    from mobilegan.data.layouts import load_samples

    for folder in ("train/images", "train/masks", "plain/images", "plain/masks"):
        (tmp_path / folder).mkdir(parents=True)
    for root in (tmp_path / "train", tmp_path / "plain"):
        Image.new("RGB", (8, 8)).save(root / "images" / "a.jpg")
        Image.new("L", (8, 8)).save(root / "masks" / "a.png")
    with pytest.raises(KeyError, match=r"found \['train'\] \(--split train, or --split all"):
        load_samples(tmp_path, "test")
    assert [s.id for s in load_samples(tmp_path, "all")] == ["a"]
    for split in ("test", "train", "all"):
        assert [s.id for s in load_samples(tmp_path / "plain", split)] == ["a"]


def test_a_split_name_means_one_thing_in_training_evaluation_and_the_data_commands(
        tmp_path: Path, data_root: Path) -> None:
    """A bare folder answers any split; "all" is every split of a layout, wherever it is
    asked (training's data.eval_split of a bare folder, and train_split "all" on ISIC 2017,
    were KeyErrors while evaluation took them)."""
    from PIL import Image

    from mobilegan.data.layouts import load_samples
    from mobilegan.data.summary import summarize_folder
    from mobilegan.evaluation.evaluate import select_samples

    bare = tmp_path / "bare"
    bare.mkdir()
    for i in range(2):
        Image.new("RGB", (8, 8)).save(bare / f"a{i}.jpg")
        Image.new("L", (8, 8)).save(bare / f"a{i}_segmentation.png")
    for split in ("test", "all", None):
        assert len(load_samples(bare, split)) == 2
        assert len(select_samples(bare, split or "all", source=None)) == 2
        assert summarize_folder(bare, split).splits.keys() == {"all"}
    isic = data_root / "isic2017"
    assert len(load_samples(isic, "all")) == len(select_samples(isic, "all", None)) == 2750


def test_a_missing_split_names_the_callers_own_way_to_choose_one(tmp_path: Path) -> None:
    from PIL import Image

    from mobilegan.config import RunConfig
    from mobilegan.training.data_setup import plan_splits

    for folder in ("train/images", "train/masks"):
        (tmp_path / folder).mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "images" / "a.jpg")
    Image.new("L", (8, 8)).save(tmp_path / "train" / "masks" / "a.png")
    cfg = RunConfig()
    cfg.data.train_dir, cfg.data.train_split, cfg.data.eval_dir = str(tmp_path), "val", None
    with pytest.raises(KeyError, match=r"--set data.train_split=train, or "
                                       r"--set data.train_split=all"):
        plan_splits(cfg)


def test_split_folders_in_any_case_and_an_empty_one_are_found(tmp_path: Path) -> None:
    """``Valid/`` and ``Test/`` were ignored, ``Images/`` + ``Masks/`` was "an empty
    folder?", and an empty ``test/`` vanished ("split 'test' not under ...")."""
    from PIL import Image

    from mobilegan.data.layouts import discover, load_samples
    from mobilegan.data.summary import summarize_folder

    for split, n in (("Train", 2), ("Valid", 1), ("test", 0)):
        for folder in ("Images", "Masks"):
            (tmp_path / "d" / split / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8)).save(tmp_path / "d" / split / "Images" / f"{split}{i}.jpg")
            Image.new("L", (8, 8)).save(tmp_path / "d" / split / "Masks" / f"{split}{i}.png")
    found = discover(tmp_path / "d")
    assert {k: len(v) for k, v in found.items()} == {"train": 2, "val": 1, "test": 0}
    assert all(s.mask is not None for s in found["train"] + found["val"])
    with pytest.raises(KeyError, match="split 'test' of .* is empty"):
        load_samples(tmp_path / "d", "test")
    problems = summarize_folder(tmp_path / "d").all_problems()
    assert [p.kind for p in problems if p.fatal] == ["empty_set"]  # (the masks are blank)
    assert [s.id for s in load_samples(tmp_path / "d" / "Train")] == ["Train0", "Train1"]


def test_a_ground_truth_folder_is_found_whatever_its_case(tmp_path: Path) -> None:
    """``images/`` beside ``Masks/``: the exact-case layout matched and found no masks."""
    from PIL import Image

    from mobilegan.data.layouts import load_samples

    (tmp_path / "images").mkdir()
    (tmp_path / "Masks").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.jpg")
    Image.new("L", (8, 8)).save(tmp_path / "Masks" / "a.png")
    [sample] = load_samples(tmp_path, "all")
    assert sample.mask == tmp_path / "Masks" / "a.png"


def test_the_formats_named_in_messages_are_the_ones_read() -> None:
    """Help texts, the web page and errors name IMAGE_FORMATS; it must list what
    IMAGE_SUFFIXES reads, no more and no less."""
    from PIL import Image

    from mobilegan.data.layouts import IMAGE_FORMATS, IMAGE_SUFFIXES

    read = {Image.registered_extensions()[suffix] for suffix in IMAGE_SUFFIXES}
    named = {word.strip().upper() for word in IMAGE_FORMATS.split(",")}
    assert named == read
    # the web page's text before its script fills it in says the same
    page = Path(__file__).resolve().parents[1] / "src/mobilegan/app/static/index.html"
    assert f">{IMAGE_FORMATS} ·" in page.read_text()
