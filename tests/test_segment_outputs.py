"""What `mobilegan segment` writes, pinned where mutants of inference/batch.py and
cli/segment_cmd.py went unseen: links under the output folder, the run record's counts,
the CSV's column order, hidden entries, ids holding folders, the seed of a deterministic
run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.data.synthetic import draw_lesion
from mobilegan.inference.batch import find_inputs, write_outputs
from mobilegan.inference.result import SegmentationResult
from tests.conftest import untrained_weights
from tests.test_segment_cli import _segment


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return untrained_weights(tmp_path_factory.mktemp("weights"), seed=2)


def _draw(path: Path, seed: int = 5, size: tuple[int, int] = (32, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_lesion(size, seed=seed)[0]).save(path)
    return path


def test_an_overlays_folder_that_is_a_link_is_never_written_through(weights: Path,
                                                                     tmp_path: Path) -> None:
    """--out/overlays (or uncertainty/) as a link to a folder elsewhere: writing through it
    would put files outside --out. The image's row fails; nothing lands in the target."""
    image = _draw(tmp_path / "x.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "overlays").symlink_to(elsewhere, target_is_directory=True)
    assert _segment(image, "--out", out, "--weights", weights) == 1
    assert list(elsewhere.iterdir()) == []
    with (out / "results.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["status"] == "error" and "symbolic link" in row["error"]


def test_the_run_record_counts_every_input_failures_included(weights: Path,
                                                             tmp_path: Path) -> None:
    """segment_run.json's ``images`` is the number of inputs, not of successes: with a
    corrupt file among them the three counts tell what happened."""
    good = _draw(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "bad.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    assert _segment(good.parent, "--out", out, "--weights", weights) == 0
    record = json.loads((out / "segment_run.json").read_text())
    assert (record["images"], record["succeeded"], record["failed"]) == (2, 1, 1)


def test_results_csv_columns_are_in_their_documented_order(weights: Path,
                                                          tmp_path: Path) -> None:
    """Scripts read results.csv by position, and a table of this version must stay
    recognisable to later ones: the header is pinned literally (tests that compare it with
    CSV_FIELDS itself cannot see a reordering)."""
    image = _draw(tmp_path / "x.png")
    assert _segment(image, "--out", tmp_path / "out", "--weights", weights) == 0
    with (tmp_path / "out" / "results.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["id", "source", "width", "height", "area_pixels", "area_percent",
                      "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "confidence",
                      "low_confidence", "review_reason", "status", "error"]


def test_hidden_folders_and_files_are_never_searched_or_named(tmp_path: Path) -> None:
    """A photo folder's .thumbnails/ or .git/ is not the user's images, and .DS_Store is
    not worth a note: hidden entries are skipped, with or without --recursive."""
    photos = tmp_path / "photos"
    _draw(photos / "a.png")
    _draw(photos / ".thumbnails" / "a_small.png")
    (photos / ".DS_Store").write_bytes(b"\0\1")
    for recursive in (False, True):
        found = find_inputs([photos], recursive=recursive)
        assert found.images == [photos / "a.png"]
        assert found.left_out == [] and found.unsearched == []


def test_a_result_id_holding_a_folder_keeps_only_its_last_part(tmp_path: Path) -> None:
    """Through the Python API an id may be a path ("visit1/ISIC_0000001", a Windows one
    too): the files are named by the image's own name, as the mask of that image must be
    for the ISIC scorer."""
    mask = np.zeros((8, 8), dtype=bool)
    for raw in ("visit1/ISIC_0000001", "C:\\scans\\ISIC_0000001"):
        result = SegmentationResult(raw, mask, mask.astype(np.float32), None, 1.0, False,
                                    0, 0.0, None)
        out = tmp_path / str(len(raw))
        out.mkdir()
        written = write_outputs(result, np.zeros((8, 8, 3), np.uint8), out, overlay=False)
        assert [p.name for p in written] == ["ISIC_0000001_segmentation.png"]


def test_a_deterministic_run_records_no_seed(weights: Path, tmp_path: Path) -> None:
    """A seed is drawn only for sampling (--samples > 1); a --samples 1 run without --seed
    records none, so the record never claims a seed that played no part."""
    image = _draw(tmp_path / "x.png")
    assert _segment(image, "--out", tmp_path / "out", "--weights", weights) == 0
    record = json.loads((tmp_path / "out" / "segment_run.json").read_text())
    assert record["samples"] == 1 and record["seed"] is None


def test_an_id_holds_no_run_of_dots() -> None:
    """'..' inside a name is not a path step here (separators are gone first), but a file
    called 'scan..1_segmentation.png' reads like one to people and tools: runs of dots
    become one '_', as the docstring promises."""
    from mobilegan.inference.batch import safe_id

    assert safe_id("scan..1") == "scan_1" and safe_id("a...b.c") == "a_b.c"
    assert ".." not in safe_id("..hidden..name..")
