"""``mobilegan segment`` end to end: every format, bad files in the CSV, ISIC naming,
original resolution, safe output names."""

from __future__ import annotations

import csv
import json
import os
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.cli.main import main
from mobilegan.data.synthetic import draw_lesion
from mobilegan.inference.batch import (UniqueIds, collect_inputs, find_inputs, output_path,
                                       safe_id, write_outputs)
from mobilegan.inference.result import SegmentationResult
from tests.conftest import untrained_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=2)


@pytest.fixture(scope="module")
def real_jpeg(isic2018: Path) -> Path:
    return sorted((isic2018 / "ISIC2018_Task1-2_Training_Input").glob("*.jpg"))[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, real_jpeg: Path) -> Path:
    """A folder of every kind of file a user may have (made from one real image)."""
    folder = tmp_path_factory.mktemp("inputs")
    real = Image.open(real_jpeg).convert("RGB")
    real.save(folder / "as_png.png")
    real.save(folder / "as_bmp.bmp")
    real.save(folder / "as_tiff.tif")
    real.convert("RGBA").save(folder / "rgba.png")
    grey16 = (np.asarray(real.convert("L")).astype(np.uint16) * 257)
    Image.fromarray(grey16).save(folder / "grey16.png")
    Image.fromarray(draw_lesion((217, 301), seed=4)[0]).save(folder / "odd_size.jpg")
    (folder / "corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(3000))
    data = real_jpeg.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "not_an_image.png").write_text("hello, I am text")
    (folder / "notes.txt").write_text("not an image suffix: ignored in folders")
    return folder


def _segment(*args: str | Path) -> int:
    return main(["segment", *map(str, args), "--image-size", "64", "--quiet"])


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "results.csv").open(newline="") as handle:
        return {row["source"]: row for row in csv.DictReader(handle)}


def test_folder_and_file_inputs_with_bad_files(inputs: Path, real_jpeg: Path, weights: Path,
                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _segment(inputs, real_jpeg, "--out", out, "--weights", weights) == 0
    rows = _rows(out)
    assert len(rows) == 10  # 9 image-suffixed files in the folder + the real JPEG
    bad = {name: rows[str(inputs / name)] for name in
           ("corrupt.jpg", "truncated.jpg", "not_an_image.png")}
    for row in bad.values():
        assert row["status"] == "error" and row["error"].startswith("ImageReadError")
    assert "truncated" in bad["truncated.jpg"]["error"]
    good = [row for row in rows.values() if row["status"] == "ok"]
    assert len(good) == 7
    for row in good:
        mask = Image.open(out / f"{row['id']}_segmentation.png")
        assert mask.mode == "L" and set(np.unique(np.asarray(mask))) <= {0, 255}
        assert mask.size == (int(row["width"]), int(row["height"]))
        assert Image.open(out / "overlays" / f"{row['id']}_overlay.png").size == mask.size
        assert 0 <= float(row["confidence"]) <= 1 and row["low_confidence"] in ("True", "False")
        assert (row["review_reason"] != "") == (row["low_confidence"] == "True")
    odd = rows[str(inputs / "odd_size.jpg")]
    assert (odd["width"], odd["height"]) == ("301", "217")
    isic = rows[str(real_jpeg)]
    assert isic["id"] == real_jpeg.stem  # ISIC submission naming: ISIC_XXXXXXX_segmentation.png
    assert (out / f"{real_jpeg.stem}_segmentation.png").is_file()
    assert not list(out.rglob("*_uncertainty.png"))


def test_samples_write_uncertainty_maps(real_jpeg: Path, weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _segment(real_jpeg, "--out", out, "--weights", weights, "--samples", "3",
                    "--tta", "--no-postprocess", "--batch-size", "1") == 0
    heat = Image.open(out / "uncertainty" / f"{real_jpeg.stem}_uncertainty.png")
    assert heat.mode == "RGB" and heat.size == Image.open(real_jpeg).size
    # the file says what its colours mean
    assert "standard deviation" in heat.text["Description"] and "0.5" in heat.text["Description"]


def test_all_failing_is_a_nonzero_exit(inputs: Path, weights: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = _segment(inputs / "corrupt.jpg", tmp_path / "missing.png", "--out", tmp_path / "o",
                    "--weights", weights)
    assert code != 0
    rows = _rows(tmp_path / "o")
    assert "no such file" in rows[str(tmp_path / "missing.png")]["error"]
    err = capsys.readouterr().err  # a typo'd path is named on the terminal, not only in the CSV
    assert f"{tmp_path / 'missing.png'}: ImageReadError" in err and "2 failed:" in err


def test_terminal_shows_the_first_failures_and_counts_the_rest(inputs: Path, weights: Path,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from mobilegan.inference.batch import SHOWN_ERRORS

    missing = [tmp_path / f"missing_{i}.png" for i in range(SHOWN_ERRORS + 1)]
    assert _segment(inputs / "corrupt.jpg", *missing, "--out", tmp_path / "o",
                    "--weights", weights) != 0
    err = capsys.readouterr().err
    assert sum(line.startswith("  ") for line in err.splitlines()) == SHOWN_ERRORS
    assert f"{SHOWN_ERRORS + 2} failed (2 more not shown):" in err


def test_only_missing_paths_is_a_usage_error_that_writes_nothing(
        weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo'd folder is not a run: one line, exit 2, no results.csv (a missing path among
    real ones is an error row instead, above)."""
    assert _segment(tmp_path / "scnas", "--out", tmp_path / "o", "--weights", weights) == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "scnas" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_missing_weights_is_a_clear_error(real_jpeg: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _segment(real_jpeg, "--out", tmp_path, "--weights", tmp_path / "none.safetensors") == 2
    assert "no weights" in capsys.readouterr().err


def test_output_names_cannot_escape(weights: Path, tmp_path: Path) -> None:
    assert safe_id("../../evil") == "evil"
    for raw in ("../../evil", "..\\..\\evil", "/etc/passwd", "..", "", ".hidden", "a b/c:d"):
        name = safe_id(raw)
        assert name and "/" not in name and "\\" not in name and ".." not in name
        assert not name.startswith(".")
    ids = UniqueIds()
    assert [ids("x"), ids("X"), ids("x"), ids("../x")] == ["x", "X_2", "x_3", "x_4"]
    # any script's letters tell names apart; no leading '-', which a spreadsheet sums
    assert [safe_id(n) for n in ("患者", "病人", "läsion ü", "-2-3", "--")] == [
        "患者", "病人", "läsion_ü", "2-3", "image"]
    # ... with their vowel signs (combining marks, which \w does not hold): Devanagari and
    # Thai names were cut to consonants and two patients shared an id; macOS's NFD 'café'
    # is the NFC one
    for name in ("रोगी", "किला", "कुला", "ผู้ป่วย"):
        assert safe_id(name) == name and safe_id(safe_id(name)) == name
    ids = UniqueIds()
    assert [ids("किला"), ids("कुला")] == ["किला", "कुला"]
    assert safe_id(unicodedata.normalize("NFD", "café x")) == "café_x"
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(draw_lesion((64, 64), seed=0)[0]).save(folder / "..\\..\\evil.png")
    out = tmp_path / "deep" / "out"
    assert _segment(folder / "..\\..\\evil.png", "--out", out, "--weights", weights) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "evil_segmentation.png", "overlays", "overlays/evil_overlay.png", "results.csv",
        "segment_run.json"]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]


def test_write_outputs_sanitises_result_ids(tmp_path: Path) -> None:
    mask = np.zeros((8, 8), dtype=bool)
    result = SegmentationResult("../../evil", mask, mask.astype(np.float32), None, 1.0, False,
                                0, 0.0, None)
    written = write_outputs(result, np.zeros((8, 8, 3), np.uint8), tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "evil_segmentation.png", "overlays/evil_overlay.png"]


def test_written_pictures_are_the_results_own(tmp_path: Path) -> None:
    """The files hold what the result draws: the 0/255 mask and the overlay with its
    contour in the contour colour."""
    from mobilegan.inference.result import CONTOUR_COLOUR

    mask = np.zeros((12, 16), dtype=bool)
    mask[3:9, 4:12] = True
    result = SegmentationResult("x", mask, mask.astype(np.float32), None, 1.0, False,
                                int(mask.sum()), float(mask.mean()), (4, 3, 12, 9))
    image = np.full((12, 16, 3), 90, np.uint8)
    write_outputs(result, image, tmp_path)
    overlay = np.asarray(Image.open(tmp_path / "overlays" / "x_overlay.png").convert("RGB"))
    assert np.array_equal(overlay, np.asarray(result.overlay(image).convert("RGB")))
    assert (overlay == CONTOUR_COLOUR).all(axis=-1).sum() > 10
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x_segmentation.png")), mask * 255)


def _zlib_level_flag(path: Path) -> int:
    """FLEVEL of a PNG's first IDAT zlib stream: 0 for zlib level 1, 2 for the default 6."""
    data = path.read_bytes()
    at = data.index(b"IDAT") + 4
    return data[at + 1] >> 6


def test_pictures_are_stored_fast_and_the_mask_compact(tmp_path: Path) -> None:
    """Overlay and uncertainty PNGs are written at zlib level 1 (on a 27-megapixel
    original the default level took three quarters of the run's time); the mask, the
    result itself, keeps the default compression."""
    mask = np.zeros((40, 60), dtype=bool)
    mask[10:30, 15:45] = True
    result = SegmentationResult("x", mask, mask.astype(np.float32),
                                np.full(mask.shape, 0.01, np.float32), 1.0, False,
                                int(mask.sum()), float(mask.mean()), (15, 10, 45, 30))
    write_outputs(result, np.full((40, 60, 3), 90, np.uint8), tmp_path)
    assert _zlib_level_flag(tmp_path / "x_segmentation.png") == 2
    assert _zlib_level_flag(tmp_path / "overlays" / "x_overlay.png") == 0
    assert _zlib_level_flag(tmp_path / "uncertainty" / "x_uncertainty.png") == 0


def test_a_folder_of_large_images_is_segmented_a_few_pixels_at_a_time(
        weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within one --batch-size chunk, the network gets at most BATCH_PIXELS of images at a
    time, a corrupt file between them still a row of its own, rows in input order."""
    from mobilegan.inference import segmenter as module
    from mobilegan.inference.batch import segment_files
    from mobilegan.inference.segmenter import Segmenter

    folder = tmp_path / "in"
    folder.mkdir()
    paths = [folder / f"im{i}.png" for i in range(5)]
    for path, size in zip(paths, [(40, 50), (40, 50), None, (40, 50), (90, 100)]):
        if size is None:
            path.write_bytes(b"not a png")
        else:
            Image.fromarray(draw_lesion(size, seed=1, label=False)[0]).save(path)
    seg = Segmenter(weights, image_size=64)
    calls: list[list[str]] = []
    batch = seg.predict_batch
    monkeypatch.setattr(seg, "predict_batch",
                        lambda images, ids=None: calls.append(list(ids)) or batch(images, ids))
    monkeypatch.setattr(module, "BATCH_PIXELS", 5_000)
    summary = segment_files(seg, paths, tmp_path / "out", batch_size=8, progress=False)
    assert calls == [["im0", "im1"], ["im3"], ["im4"]]
    assert (summary.succeeded, summary.failed) == (4, 1)
    rows = list(_rows(tmp_path / "out").values())
    assert [r["id"] for r in rows] == [f"im{i}" for i in range(5)]
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "ok", "ok"]
    assert rows[4]["width"] == "100" and rows[4]["height"] == "90"
    # The progress bar hears of each file as it is finished, not once per chunk.
    from mobilegan.inference.batch import _segment_chunk

    told: list[int] = []
    (tmp_path / "again").mkdir()
    again = _segment_chunk(seg, paths, UniqueIds(), tmp_path / "again", overlays=False,
                           done=told.append)
    assert told == [1, 2, 1, 1]  # the corrupt file, then each network call's images
    assert [r["status"] for r in again] == ["ok", "ok", "error", "ok", "ok"]


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_segment_files_refuses_a_batch_size_that_would_skip_images(weights: Path, tmp_path: Path,
                                                                   size) -> None:
    """batch_size=0 once gave empty chunks: every image skipped, an empty table, no error."""
    from mobilegan.inference.batch import segment_files
    from mobilegan.inference.segmenter import Segmenter

    image = tmp_path / "a.png"
    Image.fromarray(draw_lesion((40, 50), seed=1, label=False)[0]).save(image)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        segment_files(Segmenter(weights, image_size=64), [image], tmp_path / "out",
                      batch_size=size, progress=False)
    assert not (tmp_path / "out").exists()
    # numpy's ints count, as predict_many's batch_size takes them
    summary = segment_files(Segmenter(weights, image_size=64), [image], tmp_path / "ok",
                            batch_size=np.int64(1), progress=False)
    assert summary.succeeded == 1


def test_a_data_sets_folder_gives_its_images_and_never_its_masks(tmp_path: Path) -> None:
    def draw(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 3)).save(path)

    isic = tmp_path / "isic2017"  # the official layout, with superpixels beside the images
    for split, images, masks in (("test", "ISIC-2017_Test_v2_Data", "ISIC-2017_Test_v2_Part1_GroundTruth"),
                                 ("val", "ISIC-2017_Validation_Data", "ISIC-2017_Validation_Part1_GroundTruth")):
        draw(isic / images / f"ISIC_{split}.jpg")
        draw(isic / images / f"ISIC_{split}_superpixels.png")
        draw(isic / masks / f"ISIC_{split}_segmentation.png")
    ph2 = tmp_path / "PH2 Dataset images"  # one folder per image, masks in folders beside
    draw(ph2 / "IMD002" / "IMD002_Dermoscopic_Image" / "IMD002.bmp")
    draw(ph2 / "IMD002" / "IMD002_lesion" / "IMD002_lesion.bmp")
    mixed = tmp_path / "mine"  # a user's folder that also holds earlier outputs
    draw(mixed / "a.jpg")
    draw(mixed / "a_segmentation.png")

    names = sorted(p.name for p in collect_inputs([isic, ph2, mixed]))
    assert names == ["IMD002.bmp", "ISIC_test.jpg", "ISIC_val.jpg", "a.jpg"]


def test_exposure_normalisation_is_on_unless_switched_off(real_jpeg: Path, tmp_path: Path) -> None:
    """With the shipped weights: an under-exposed image is lifted before the network."""
    from mobilegan.inference.preprocess import normalize_exposure

    image = np.asarray(Image.open(real_jpeg).convert("RGB"))
    dark = tmp_path / "dark.png"  # lossless: the normalised copy below is the same pixels
    Image.fromarray((image * 0.5).astype(np.uint8)).save(dark)
    lifted = tmp_path / "lifted" / "dark.png"
    lifted.parent.mkdir()
    Image.fromarray(normalize_exposure(np.asarray(Image.open(dark)))).save(lifted)
    for out, path, extra in (("on", dark, ()), ("off", dark, ("--no-normalize-exposure",)),
                             ("by_hand", lifted, ("--no-normalize-exposure",))):
        assert main(["segment", str(path), "--out", str(tmp_path / out), "--quiet", *extra]) == 0
    on, off, by_hand = (next(iter(_rows(tmp_path / o).values())) for o in ("on", "off", "by_hand"))
    masks = {o: np.asarray(Image.open(tmp_path / o / "dark_segmentation.png")) for o in ("on", "off", "by_hand")}
    np.testing.assert_array_equal(masks["on"], masks["by_hand"])
    assert on["area_pixels"] == by_hand["area_pixels"]
    assert not np.array_equal(masks["on"], masks["off"])


def test_segmenting_into_an_input_folder_twice_skips_its_own_outputs(weights: Path,
                                                                      tmp_path: Path) -> None:
    """``--out`` = the input folder, run again: overlays and uncertainty maps of the first
    run are outputs, not new images (a user's own ``*_overlay`` photo still is one)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(draw_lesion((48, 64), seed=1)[0]).save(folder / "x.jpg")
    Image.fromarray(draw_lesion((48, 64), seed=2)[0]).save(folder / "mole_overlay.png")
    for again in ([], ["--overwrite"]):
        assert _segment(folder, "--out", folder, "--weights", weights, "--samples", "2",
                        *again) == 0
        assert sorted(row["id"] for row in _rows(folder).values()) == ["mole_overlay", "x"]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == sorted(
        ["x.jpg", "mole_overlay.png", "results.csv", "segment_run.json", "overlays",
         "uncertainty"]
        + [f"{folder_}{i}_{kind}.png" for i in ("x", "mole_overlay")
           for folder_, kind in (("", "segmentation"), ("overlays/", "overlay"),
                                 ("uncertainty/", "uncertainty"))])
    assert [p.name for p in collect_inputs([folder])] == ["mole_overlay.png", "x.jpg"]
    # outputs in a subfolder: nothing there for --recursive to add, so it is not named
    assert _segment(folder, "--out", folder / "out", "--weights", weights) == 0
    assert (folder / "out" / "overlays" / "x_overlay.png").is_file()
    assert find_inputs([folder]).unsearched == []


def test_a_file_name_that_is_not_utf8_is_a_row_not_a_crash(weights: Path, tmp_path: Path) -> None:
    """Linux file names are bytes: one that is not valid UTF-8 must not end the run (it
    did, when the CSV row was written) nor lose the other images' rows."""

    folder = tmp_path / "in"
    folder.mkdir()
    odd = folder / os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes from an old camera or zip
    try:
        Image.fromarray(draw_lesion((40, 40), seed=3)[0]).save(odd)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    Image.fromarray(draw_lesion((40, 40), seed=4)[0]).save(folder / "z.png")
    out = tmp_path / "out"
    assert _segment(folder, "--out", out, "--weights", weights, "--batch-size", "1") == 0
    with (out / "results.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert rows[0]["source"].endswith("caf\\udce9.png") and rows[1]["id"] == "z"
    assert (out / "caf_segmentation.png").is_file() and (out / "z_segmentation.png").is_file()


def test_a_file_name_like_a_formula_stays_text_in_the_csv(weights: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """results.csv is opened in spreadsheets: a relative path starting with '=' or '@' must
    not become a formula there (CSV injection), while an ordinary path is written as given."""
    monkeypatch.chdir(tmp_path)
    for name in ("=2+3.png", "@SUM(1).png", "plain.png"):
        Image.fromarray(draw_lesion((40, 40), seed=5)[0]).save(tmp_path / name)
    out = tmp_path / "out"
    assert _segment("=2+3.png", "@SUM(1).png", "plain.png", "--out", out,
                    "--weights", weights) == 0
    rows = _rows(out)
    assert set(rows) == {"'=2+3.png", "'@SUM(1).png", "plain.png"}
    assert all(row["status"] == "ok" for row in rows.values())
    assert rows["'=2+3.png"]["id"] == "2_3"  # the id (and file name) never needed the guard
    assert (out / "2_3_segmentation.png").is_file()


def test_images_beside_a_layout_like_subfolder_are_not_dropped(tmp_path: Path) -> None:
    """A user's folder that happens to hold an ``images/`` (or ``test/images``) subfolder:
    its own photos were silently skipped, only the subfolder's were segmented."""
    def draw(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 3)).save(path)

    draw(tmp_path / "photos" / "a.jpg")
    draw(tmp_path / "photos" / "images" / "b.jpg")
    draw(tmp_path / "photos" / "masks" / "b_segmentation.png")
    draw(tmp_path / "visits" / "c.png")
    draw(tmp_path / "visits" / "test" / "images" / "d.png")
    names = [p.name for p in collect_inputs([tmp_path / "photos", tmp_path / "visits"])]
    assert names == ["a.jpg", "b.jpg", "c.png", "d.png"]


def test_a_ground_truth_mask_in_the_out_folder_is_never_replaced(weights: Path,
                                                                 tmp_path: Path) -> None:
    """``--out`` = a folder of images with their expert masks beside them: the masks are
    not this tool's to replace. That image's row says so; the other image is segmented."""
    folder = tmp_path / "labelled"
    folder.mkdir()
    for name, seed in (("a", 1), ("b", 2)):
        Image.fromarray(draw_lesion((40, 48), seed=seed)[0]).save(folder / f"{name}.jpg")
    truth = np.zeros((40, 48), np.uint8)
    truth[10:30, 12:36] = 255
    Image.fromarray(truth).save(folder / "a_segmentation.png")
    before = (folder / "a_segmentation.png").read_bytes()
    assert _segment(folder, "--out", folder, "--weights", weights) == 0
    assert (folder / "a_segmentation.png").read_bytes() == before
    rows = {row["id"]: row for row in _rows(folder).values()}
    assert rows["a"]["status"] == "error" and "not written by mobilegan" in rows["a"]["error"]
    assert not (folder / "overlays" / "a_overlay.png").exists()  # nothing of a refused image
    assert rows["b"]["status"] == "ok"
    # a rerun replaces its own outputs (marked in their PNG text) and still spares the truth
    assert _segment(folder, "--out", folder, "--weights", weights, "--overwrite") == 0
    rows = {row["id"]: row for row in _rows(folder).values()}
    assert (rows["a"]["status"], rows["b"]["status"]) == ("error", "ok")
    assert (folder / "a_segmentation.png").read_bytes() == before


def test_a_foreign_results_csv_stops_the_run_before_anything_is_written(
        weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("patient,diagnosis\n1,naevus\n")
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(image)
    assert _segment(image, "--out", out, "--weights", weights) == 2
    assert "not written by mobilegan segment" in capsys.readouterr().err
    assert (out / "results.csv").read_text() == "patient,diagnosis\n1,naevus\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def test_outputs_of_an_earlier_version_are_known_by_its_results_csv(weights: Path,
                                                                    tmp_path: Path) -> None:
    """Masks written before the PNG mark existed are listed as ok in their results.csv."""
    out = tmp_path / "out"
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=6)[0]).save(image)
    assert _segment(image, "--out", out, "--weights", weights) == 0
    unmarked = Image.open(out / "x_segmentation.png")
    unmarked.load()
    unmarked.save(out / "x_segmentation.png")  # no text chunk: as an older version wrote it
    assert _segment(image, "--out", out, "--weights", weights, "--overwrite") == 0
    assert [row["status"] for row in _rows(out).values()] == ["ok"]
    assert Image.open(out / "x_segmentation.png").text  # replaced, with the mark now


def test_max_pixels_refuses_large_images_as_rows_and_can_be_raised(weights: Path,
                                                                   tmp_path: Path) -> None:
    image = tmp_path / "big.png"
    Image.fromarray(draw_lesion((40, 40), seed=7)[0]).save(image)  # 1,600 pixels
    out = tmp_path / "small_limit"
    assert _segment(image, "--out", out, "--weights", weights, "--max-pixels", "1000") == 1
    (row,) = _rows(out).values()
    assert row["status"] == "error" and "--max-pixels" in row["error"]
    out = tmp_path / "raised"
    assert _segment(image, "--out", out, "--weights", weights, "--max-pixels", "2000") == 0
    assert [r["status"] for r in _rows(out).values()] == ["ok"]


def test_an_earlier_run_is_never_replaced_unless_asked(weights: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Two photos of one name from two folders, segmented one after the other into one
    --out: the second run replaced the first's table and mask without a word."""
    for folder, seed in (("monday", 1), ("tuesday", 2)):
        (tmp_path / folder).mkdir()
        Image.fromarray(draw_lesion((40, 48), seed=seed)[0]).save(tmp_path / folder / "mole.jpg")
    Image.fromarray(draw_lesion((40, 48), seed=3)[0]).save(tmp_path / "monday" / "scar.jpg")
    out = tmp_path / "out"
    assert _segment(tmp_path / "monday", "--out", out, "--weights", weights) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    assert _segment(tmp_path / "tuesday", "--out", out, "--weights", weights) == 2
    assert "earlier run" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched

    assert _segment(tmp_path / "tuesday", "--out", out, "--weights", weights, "--overwrite") == 0
    assert [row["id"] for row in _rows(out).values()] == ["mole"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [  # scar gone
        "mole_segmentation.png", "overlays/mole_overlay.png", "results.csv", "segment_run.json"]


def test_a_table_from_before_the_review_reason_column_is_still_ours(
        weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """results.csv gained review_reason; an earlier version's table is refused as an earlier
    run (and replaced with --overwrite), not as someone else's file."""
    import csv

    from mobilegan.inference.batch import CSV_FIELDS, CSV_NAME

    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=8)[0]).save(image)
    out = tmp_path / "out"
    assert _segment(image, "--out", out, "--weights", weights) == 0
    table = out / CSV_NAME
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    old_fields = [f for f in CSV_FIELDS if f != "review_reason"]
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=old_fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    capsys.readouterr()
    assert _segment(image, "--out", out, "--weights", weights) == 2
    assert "holds an earlier run's results" in capsys.readouterr().err
    assert _segment(image, "--out", out, "--weights", weights, "--overwrite") == 0
    with table.open(newline="", encoding="utf-8") as handle:
        assert csv.DictReader(handle).fieldnames == CSV_FIELDS


def test_a_thread_count_below_one_is_refused_in_a_line(weights: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "out", "--weights", weights, "--threads", "-1") == 2
    err = capsys.readouterr().err
    assert "threads must be a whole number >= 1" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_an_output_that_is_a_file_is_named_as_such(weights: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`--out notes.txt` (a file): said in words, the file untouched ("file exists" read as
    if the folder were the problem)."""
    image, notes = tmp_path / "x.png", tmp_path / "notes.txt"
    Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(image)
    notes.write_text("mine")
    assert _segment(image, "--out", notes, "--weights", weights) == 2
    err = capsys.readouterr().err
    assert f"the output {notes} is a file, not a folder" in err and "Traceback" not in err
    assert notes.read_text() == "mine"


def test_the_refusal_names_the_folder_and_the_way_out(weights: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "out", "--weights", weights) == 0
    capsys.readouterr()
    assert _segment(image, "--out", tmp_path / "out", "--weights", weights) == 2
    err = capsys.readouterr().err
    assert "holds an earlier run's results" in err and "--overwrite" in err and "1 rows" in err


def test_a_second_run_into_a_folder_being_written_stops(weights: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The lock of a live run stops a second one; a dead run's lock is taken over."""
    import subprocess
    import sys

    from mobilegan.inference.batch import LOCK_NAME

    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=6)[0]).save(image)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(str(os.getpid()))  # this test's process: alive
    assert _segment(image, "--out", out, "--weights", weights) == 2
    assert f"process {os.getpid()}" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    (out / LOCK_NAME).write_text(finished.stdout.strip())  # a run that died
    assert _segment(image, "--out", out, "--weights", weights) == 0
    assert not (out / LOCK_NAME).exists()  # released at the end
    assert _rows(out)[str(image)]["status"] == "ok"
    # A live run in a folder that holds a table already: the lock is the reason given, not
    # "an earlier run's results ... pass --overwrite" (which then gave the lock's reason).
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(str(other.pid))
        capsys.readouterr()
        assert _segment(image, "--out", out, "--weights", weights) == 2
        err = capsys.readouterr().err
        assert f"process {other.pid}" in err and "--overwrite" not in err
    finally:
        other.kill()
        other.wait()


def test_the_run_record_repeats_a_sampled_run(weights: Path, tmp_path: Path) -> None:
    """--samples without --seed draws a seed and records it: the same seed gives the same
    masks; the record names the weights by their hash and the settings."""
    import hashlib

    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((40, 48), seed=7)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "a", "--weights", weights, "--samples", "3") == 0
    record = json.loads((tmp_path / "a" / "segment_run.json").read_text())
    assert isinstance(record["seed"], int) and record["samples"] == 3
    assert record["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (record["backend"], record["image_size"], record["images"], record["succeeded"]) == (
        "torch", 64, 1, 1)
    assert _segment(image, "--out", tmp_path / "b", "--weights", weights, "--samples", "3",
                    "--seed", str(record["seed"])) == 0
    for name in ("x_segmentation.png", "uncertainty/x_uncertainty.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_every_option_reaches_the_segmenter(weights: Path, tmp_path: Path) -> None:
    """The record is read off the segmenter that ran: each option given must be there (a
    dropped --tta or --threshold ran the defaults without a word)."""
    from mobilegan.inference.segmenter import low_confidence_threshold

    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((40, 48), seed=7)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "o", "--weights", weights, "--samples", "3",
                    "--seed", "1", "--tta", "--no-postprocess", "--threshold", "0.3",
                    "--no-normalize-exposure") == 0
    record = json.loads((tmp_path / "o" / "segment_run.json").read_text())
    assert {k: record[k] for k in ("samples", "seed", "tta", "postprocess", "threshold",
                                   "normalize_exposure", "low_confidence_below")} == {
        "samples": 3, "seed": 1, "tta": True, "postprocess": False, "threshold": 0.3,
        "normalize_exposure": False, "low_confidence_below": low_confidence_threshold(3, True)}
    assert _segment(image, "--out", tmp_path / "d", "--weights", weights) == 0
    default = json.loads((tmp_path / "d" / "segment_run.json").read_text())
    assert (default["samples"], default["tta"], default["postprocess"], default["threshold"],
            default["normalize_exposure"]) == (1, False, True, 0.5, True)


def test_a_seed_without_sampling_is_named_as_having_no_effect(
        weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((40, 48), seed=7)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "a", "--weights", weights, "--seed", "3") == 0
    assert "--seed has no effect with --samples 1" in capsys.readouterr().err
    assert _segment(image, "--out", tmp_path / "b", "--weights", weights, "--seed", "3",
                    "--samples", "2") == 0
    assert "no effect" not in capsys.readouterr().err


def test_an_int8_file_given_to_the_onnx_backend_is_named_as_int8(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:

    from mobilegan.inference.segmenter import shipped_int8

    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((40, 48), seed=7)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "a", "--backend", "onnx",
                    "--weights", shipped_int8()) == 0
    assert "is an int8 export" in capsys.readouterr().err
    assert json.loads((tmp_path / "a" / "segment_run.json").read_text())["backend"] == "int8"


def test_an_output_name_that_is_a_link_is_never_written_through(weights: Path,
                                                                 tmp_path: Path) -> None:
    """A link in --out where a mask or overlay would go is refused for that image: neither
    the file it points to (even one this tool wrote) nor a missing target is written."""
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(image)
    assert _segment(image, "--out", tmp_path / "first", "--weights", weights) == 0
    ours = tmp_path / "first" / "x_segmentation.png"
    before = ours.read_bytes()
    for kind, target in (("segmentation", ours), ("overlay", tmp_path / "nowhere.png")):
        out = tmp_path / f"linked_{kind}"
        link = output_path(out, "x", kind)
        link.parent.mkdir(parents=True)
        link.symlink_to(target)
        assert _segment(image, "--out", out, "--weights", weights) == 1  # its row failed
        assert "not replaced" in _rows(out)[str(image)]["error"]
        record = json.loads((out / "segment_run.json").read_text())
        assert (record["succeeded"], record["failed"]) == (0, 1)
    assert ours.read_bytes() == before and not (tmp_path / "nowhere.png").exists()


@pytest.mark.parametrize("name", ["results.csv", "segment_run.json"])
def test_the_table_and_record_never_follow_a_link_or_replace_a_users_file(
        name: str, weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "x.png"
    Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(image)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / name).symlink_to(victim)
    assert _segment(image, "--out", linked, "--weights", weights, "--overwrite") == 2
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious" and sorted(os.listdir(linked)) == [name]
    if name == "segment_run.json":  # a user's notes of that name
        notes = tmp_path / "notes"
        notes.mkdir()
        (notes / name).write_text('{"my": "notes"}')
        assert _segment(image, "--out", notes, "--weights", weights, "--overwrite") == 2
        assert "not written by mobilegan segment" in capsys.readouterr().err
        assert (notes / name).read_text() == '{"my": "notes"}'
        # ... while a run's own record is replaced with the run (--overwrite)
        assert _segment(image, "--out", tmp_path / "own", "--weights", weights) == 0
        assert _segment(image, "--out", tmp_path / "own", "--weights", weights,
                        "--overwrite", "--seed", "4", "--samples", "2") == 0
        assert json.loads((tmp_path / "own" / name).read_text())["seed"] == 4


def test_a_long_name_in_any_script_still_makes_file_names_that_fit(weights: Path,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    for stem in ("患" * 83, "患" * 83 + "x"):  # 249 and 250 bytes: legal names
        Image.fromarray(draw_lesion((32, 32), seed=5)[0]).save(folder / f"{stem}.png")
    out = tmp_path / "out"
    assert _segment(folder, "--out", out, "--weights", weights, "--samples", "2") == 0
    assert [row["status"] for row in _rows(out).values()] == ["ok", "ok"]
    names = [p.name for p in out.rglob("*.*")]
    assert len(names) == 2 * 3 + 2 and all(len(n.encode()) <= 255 for n in names)
    assert all(safe_id(n).startswith("患" * 66) for n in names if n.endswith(".png"))


def test_folders_name_what_they_leave_out_and_recursive_searches_subfolders(
        weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def draw(path: Path, seed: int = 5) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(draw_lesion((32, 32), seed=seed)[0]).save(path)

    photos = tmp_path / "photos"
    draw(photos / "a.jpg")
    draw(photos / "b.gif")                       # read now (first frame)
    (photos / "scan.heic").write_bytes(b"\0")    # a format Pillow does not read
    (photos / "notes.txt").write_text("visit 1")  # notes: not worth a word
    (photos / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    draw(photos / "visit2" / "a.png", seed=6)     # same name, another folder
    draw(photos / "visit2" / "deeper" / "c.png")
    (photos / "visit2" / "loop").symlink_to(photos, target_is_directory=True)
    draw(photos / "visit2" / "masks" / "x_segmentation.png")  # an images/masks pair...
    draw(photos / "visit2" / "images" / "x.png")              # ... gives its image only
    empty = tmp_path / "empty"
    empty.mkdir()

    out = tmp_path / "flat"
    assert _segment(photos, empty, "--out", out, "--weights", weights) == 0
    err = capsys.readouterr().err
    assert f"no images in {empty}" in err
    assert "left out 2 files" in err and "scan.heic" in err and "gone.jpg" in err
    assert "notes.txt" not in err
    assert "1 subfolder not searched (--recursive searches them)" in err
    assert sorted(_rows(out)) == [str(photos / "a.jpg"), str(photos / "b.gif")]

    out = tmp_path / "deep"
    assert _segment(photos, "--out", out, "--weights", weights, "--recursive") == 0
    err = capsys.readouterr().err
    assert "not searched" not in err
    rows = _rows(out)
    assert sorted(Path(source).relative_to(photos).as_posix() for source in rows) == [
        "a.jpg", "b.gif", "visit2/a.png", "visit2/deeper/c.png", "visit2/images/x.png"]
    assert sorted(row["id"] for row in rows.values()) == ["a", "a_2", "b", "c", "x"]
    assert json.loads((out / "segment_run.json").read_text())["recursive"] is True


def test_longest_ids_keep_their_suffix_and_write_files_of_their_own(tmp_path: Path) -> None:
    ids = UniqueIds()
    first, second, third = ids("x" * 300), ids("x" * 300), ids("患" * 120)
    assert second.endswith("_2") and second != first and safe_id(second) == second
    assert safe_id(first) == first and safe_id(third) == third
    mask = np.zeros((8, 8), dtype=bool)
    written = set()
    for id in (first, second):
        result = SegmentationResult(id, mask, mask.astype(np.float32), None, 1.0, False,
                                    0, 0.0, None)
        written.update(write_outputs(result, np.zeros((8, 8, 3), np.uint8), tmp_path))
    assert len(written) == 4 and len([p for p in tmp_path.rglob("*") if p.is_file()]) == 4


def test_recursive_takes_a_layouts_images_once_and_never_its_masks(tmp_path: Path) -> None:
    """PH2's per-image folders and train/ + val/ layouts under a folder searched with
    --recursive: their masks were segmented as images, and every image twice; a link
    leading out of the folder was followed; a folder given twice was called empty."""
    from mobilegan.inference.batch import find_inputs

    def draw(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 3)).save(path)

    root = tmp_path / "clinic"
    for case in ("IMD002", "IMD003"):
        draw(root / "ph2" / case / f"{case}_Dermoscopic_Image" / f"{case}.bmp")
        draw(root / "ph2" / case / f"{case}_lesion" / f"{case}_lesion.bmp")
        draw(root / "ph2" / case / f"{case}_roi" / f"{case}_R1_Label4.bmp")
    for split in ("train", "val"):
        draw(root / "split" / split / "images" / f"{split}.png")
        draw(root / "split" / split / "Masks" / f"{split}.png")
    draw(tmp_path / "elsewhere" / "outside.jpg")
    (root / "up").symlink_to(tmp_path, target_is_directory=True)
    found = find_inputs([root, root / "split", f"{root}/"], recursive=True)
    assert sorted(p.name for p in found.images) == ["IMD002.bmp", "IMD003.bmp", "train.png",
                                                    "val.png"]
    assert found.empty == [] and found.unsearched == []
    flat = find_inputs([root / "ph2", root / "split"])
    assert sorted(p.name for p in flat.images) == ["IMD002.bmp", "IMD003.bmp", "train.png",
                                                   "val.png"]
    assert flat.unsearched == []  # the layouts' own folders are not "left unsearched"


def test_a_link_under_another_name_is_an_image_of_its_own(weights: Path, tmp_path: Path) -> None:
    """``b.png -> a.png`` in one folder: the search kept one of the two names (the link,
    which sorts first) and a.png got no mask, no row and no word. One file spelt twice
    (given, and in a folder given; through a linked folder) is still segmented once."""
    from mobilegan.inference.batch import find_inputs

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(draw_lesion((32, 32), seed=9)[0]).save(photos / "b.png")
    (photos / "a.png").symlink_to(photos / "b.png")
    (tmp_path / "same").symlink_to(photos, target_is_directory=True)
    found = find_inputs([photos, photos / "b.png", tmp_path / "same" / "a.png",
                         tmp_path / "photos" / "." / "a.png"])
    assert sorted(p.name for p in found.images) == ["a.png", "b.png"]
    (tmp_path / "loop").symlink_to(tmp_path / "loop")  # resolving it raises RuntimeError
    assert find_inputs([tmp_path / "loop" / "x.jpg"]).images == [tmp_path / "loop" / "x.jpg"]
    out = tmp_path / "out"
    assert _segment(photos, "--out", out, "--weights", weights) == 0
    assert sorted(_rows(out)) == [str(photos / "a.png"), str(photos / "b.png")]
    assert (out / "a_segmentation.png").is_file() and (out / "b_segmentation.png").is_file()


def test_a_split_folder_is_searched_as_any_other_and_odd_folders_are_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second review: files beside a train/ folder's images/ + masks/ were dropped; a link
    into a mask folder gave masks as images; links out of the tree and unreadable folders
    went unmentioned (a root-owned lost+found stopped the whole run)."""
    from mobilegan.inference.batch import find_inputs

    def draw(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 3)).save(path)

    proj = tmp_path / "proj"
    draw(proj / "train" / "images" / "a.jpg")
    draw(proj / "train" / "masks" / "a.png")
    draw(proj / "train" / "d.jpg")
    draw(proj / "train" / "notes" / "c.jpg")
    draw(proj / "ISIC2018_Task2_Training_GroundTruth_v3" / "ISIC_1_attribute_globules.png")
    (proj / "other").mkdir()
    (proj / "other" / "m").symlink_to(proj / "train" / "masks", target_is_directory=True)
    draw(tmp_path / "elsewhere" / "e.jpg")
    (proj / "ext").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (proj / "lost+found").mkdir()
    (proj / "phone").mkdir()
    (proj / "phone" / "IMG_1.heic").write_bytes(b"not read")  # named when searched
    real_iterdir = Path.iterdir

    def iterdir(self: Path):
        if self.name == "lost+found":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    deep = find_inputs([proj, proj / "train" / "d.jpg"], recursive=True)
    assert sorted(p.relative_to(proj).as_posix() for p in deep.images) == [
        "train/d.jpg", "train/images/a.jpg", "train/notes/c.jpg"]  # d.jpg once
    assert deep.outside == [proj / "ext"] and deep.unreadable == [proj / "lost+found"]
    flat = find_inputs([proj])
    assert [p.name for p in flat.images] == ["a.jpg"]  # the train/ layout's image
    # train/ holds more than its layout; other/ holds only a link to a mask folder and
    # Task 2's folder only attribute masks: neither would add an image
    assert sorted(p.name for p in flat.unsearched) == ["lost+found", "phone", "train"]


def test_a_deep_tree_is_searched_without_reaching_the_recursion_limit(tmp_path: Path) -> None:
    import sys

    from mobilegan.inference.batch import find_inputs

    depth = sys.getrecursionlimit() // 2 + 50  # recursion took two frames a level
    deepest = tmp_path.joinpath(*["d"] * depth)
    deepest.mkdir(parents=True)
    try:
        Image.new("RGB", (4, 3)).save(deepest / "x.png")
        assert find_inputs([tmp_path], recursive=True).images == [deepest / "x.png"]
    finally:
        # Taken down here, level by level: pytest's own clean-up of old temporary folders
        # is recursive, and a later session on the same machine ended in a RecursionError.
        (deepest / "x.png").unlink(missing_ok=True)
        for level in [deepest, *deepest.parents][:depth]:
            level.rmdir()
    assert list(tmp_path.iterdir()) == []


def test_the_output_folder_is_a_submission_the_official_scorer_takes(
        weights: Path, isic2017: Path, tmp_path: Path) -> None:
    """Overlays and uncertainty maps beside the masks made isic-challenge-scoring refuse
    every default run ("Multiple matching submissions"): they live in subfolders now."""
    from isic_challenge_scoring.segmentation import SegmentationScore

    images = isic2017 / "ISIC-2017_Test_v2_Data"
    ids = sorted(p.stem for p in images.glob("ISIC_*.jpg") if "superpixels" not in p.stem)[:2]
    truth = tmp_path / "truth"
    truth.mkdir()
    for image_id in ids:
        name = f"{image_id}_segmentation.png"
        (truth / name).symlink_to(isic2017 / "ISIC-2017_Test_v2_Part1_GroundTruth" / name)
    out = tmp_path / "out"
    assert _segment(*(images / f"{i}.jpg" for i in ids), "--out", out, "--weights", weights,
                    "--samples", "2") == 0
    assert sorted(p.name for p in (out / "uncertainty").iterdir()) == [
        f"{i}_uncertainty.png" for i in ids]
    score = SegmentationScore.from_dir(truth, out)
    assert 0.0 <= score.macro_average["jaccard"] <= 1.0
