"""Edges of inference.batch: which files in an input folder are an earlier run's outputs,
and how long ids stay within a file name's bytes when made unique."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilegan.inference.batch import (ID_BYTES, ID_CHARS, UniqueIds, collect_inputs,
                                       find_inputs, safe_id)


def _picture(path: Path, seed: int = 0, grey: bool = False) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 10, 3), dtype=np.uint8)
    Image.fromarray(pixels[..., 0] if grey else pixels).save(path)
    return path


# -- an earlier run's outputs, and what only looks like them ---------------------------------

def test_a_users_own_overlay_photo_beside_a_mask_is_still_an_input(tmp_path: Path) -> None:
    """Only ``<id>_overlay.png`` / ``<id>_uncertainty.png`` with ``<id>_segmentation.png``
    beside them are taken for this tool's outputs: the same names in another format
    (a JPEG, a TIFF) are the user's own photos, mask or no mask."""
    folder = tmp_path / "photos"
    folder.mkdir()
    _picture(folder / "mole.jpg", 1)
    _picture(folder / "mole_segmentation.png", 2, grey=True)
    _picture(folder / "mole_overlay.jpg", 3)
    _picture(folder / "MOLE_UNCERTAINTY.JPEG", 4)
    _picture(folder / "mole_overlay.tif", 5)
    assert [p.name for p in collect_inputs([folder])] == [
        "MOLE_UNCERTAINTY.JPEG", "mole.jpg", "mole_overlay.jpg", "mole_overlay.tif"]
    found = find_inputs([folder])
    assert found.left_out == [] and found.empty == []


def test_only_this_tools_marked_overlay_beside_its_mask_is_skipped(tmp_path: Path) -> None:
    """``<id>_overlay.png`` / ``<id>_uncertainty.png`` beside ``<id>_segmentation.png`` is
    skipped only when its PNG text marks it as this tool's (an earlier run with --out at
    the input folder); a user's unmarked one there is an input, as is a marked one without
    the mask beside it."""
    from PIL.PngImagePlugin import PngInfo

    from mobilegan.inference.batch import WRITER, WRITER_KEY

    folder = tmp_path / "photos"
    folder.mkdir()
    _picture(folder / "x.jpg", 1)
    _picture(folder / "x_segmentation.png", 2, grey=True)
    _picture(folder / "x_overlay.png", 3)  # no 'Software: mobilegan segment' text chunk
    _picture(folder / "lone_overlay.png", 5)  # no lone_segmentation.png beside it
    _picture(folder / "y_segmentation.png", 6, grey=True)
    mark = PngInfo()
    mark.add_text(WRITER_KEY, WRITER)
    for name in ("y_overlay.png", "y_Uncertainty.PNG"):
        Image.new("RGB", (8, 8), (10, 20, 30)).save(folder / name, "PNG", pnginfo=mark)
    assert [p.name for p in collect_inputs([folder])] == ["lone_overlay.png", "x.jpg",
                                                          "x_overlay.png"]


def test_a_subfolder_holding_only_a_photo_and_a_mask_is_named_unsearched(tmp_path: Path) -> None:
    """Without --recursive, a subfolder is named when searching it would add an image: a
    ``mole_overlay.jpg`` beside ``mole_segmentation.png`` is one."""
    top = tmp_path / "visits"
    (top / "march").mkdir(parents=True)
    _picture(top / "a.jpg", 1)
    _picture(top / "march" / "mole_segmentation.png", 2, grey=True)
    _picture(top / "march" / "mole_overlay.jpg", 3)
    found = find_inputs([top])
    assert [p.name for p in found.images] == ["a.jpg"]
    assert found.unsearched == [top / "march"]
    deep = find_inputs([top], recursive=True)
    assert [p.relative_to(top).as_posix() for p in deep.images] == ["a.jpg",
                                                                     "march/mole_overlay.jpg"]


# -- ids made unique stay within a file name's bytes -----------------------------------------

@pytest.mark.parametrize("prefix", ["", "a", "ab", "é", "aé"])
def test_unique_ids_of_a_long_cjk_name_stay_within_the_byte_limit(prefix: str) -> None:
    """A long name met again gets ``_2``, ``_3``...: with the suffix the id still fits in
    ID_BYTES of UTF-8 (and ID_CHARS characters), whatever the characters before the cut,
    and the ids stay apart."""
    raw = prefix + "病变皮肤镜图像" * 30
    ids = UniqueIds()
    made = [ids(raw) for _ in range(12)]
    assert len({name.lower() for name in made}) == len(made)
    for n, name in enumerate(made, start=1):
        assert len(name.encode("utf-8")) <= ID_BYTES, (n, len(name.encode("utf-8")))
        assert len(name) <= ID_CHARS
        assert safe_id(name) == name  # already a file name: nothing more to cut or replace
        if n > 1:
            assert name.endswith(f"_{n}")
            assert name[:-len(f"_{n}")] == made[0][:len(name) - len(f"_{n}")]


# -- an earlier run's outputs are known cheaply, marked or listed ------------------------------

def _marked(path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    from mobilegan.inference.batch import WRITER, WRITER_KEY

    mark = PngInfo()
    mark.add_text(WRITER_KEY, WRITER)
    Image.new("RGB", (64, 48), (10, 20, 30)).save(path, "PNG", pnginfo=mark)


def test_a_folder_search_reads_the_mark_without_decoding_the_pictures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading ``.text`` decoded every marked overlay (0.2 s each at camera size); the mark
    sits before the pixels, so no picture is decoded to find it."""
    from PIL import ImageFile

    folder = tmp_path / "run"
    folder.mkdir()
    _picture(folder / "x.jpg", 1)
    _picture(folder / "x_segmentation.png", 2, grey=True)
    _marked(folder / "x_overlay.png")
    decoded = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: decoded.append(self.filename) or load(self))
    assert [p.name for p in collect_inputs([folder])] == ["x.jpg"]
    assert decoded == []


def test_unmarked_outputs_listed_ok_in_the_folders_own_table_are_an_earlier_runs(
        tmp_path: Path) -> None:
    """Versions before the mark are known, as OutputGuard knows them, by an ok row of the
    folder's results.csv; a failed row or a table that is not this tool's proves nothing."""
    import csv

    from mobilegan.inference.batch import CSV_FIELDS, CSV_NAME

    folder = tmp_path / "old_run"
    folder.mkdir()
    for stem in ("x", "y"):
        _picture(folder / f"{stem}.jpg", 1)
        _picture(folder / f"{stem}_segmentation.png", 2, grey=True)
        _picture(folder / f"{stem}_overlay.png", 3)  # unmarked, as before the mark
    with (folder / CSV_NAME).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerow({"id": "x", "status": "ok"})
        writer.writerow({"id": "y", "status": "error"})
    assert [p.name for p in collect_inputs([folder])] == ["x.jpg", "y.jpg", "y_overlay.png"]
    (folder / CSV_NAME).write_text("id,status\nx,ok\ny,ok\n", encoding="utf-8")  # not ours
    assert [p.name for p in collect_inputs([folder])] == ["x.jpg", "x_overlay.png", "y.jpg",
                                                          "y_overlay.png"]


def test_the_folders_table_is_read_once_for_all_its_unmarked_outputs(tmp_path: Path) -> None:
    """An earlier run of many images: the table is parsed once per search, not once per
    unmarked output (4,000 reads of a 2,000-row table took half a minute)."""
    import csv

    from mobilegan.inference import batch
    from mobilegan.inference.batch import CSV_FIELDS, CSV_NAME

    folder = tmp_path / "old_run"
    folder.mkdir()
    stems = [f"im{i}" for i in range(6)]
    for stem in stems:
        _picture(folder / f"{stem}_segmentation.png", 2, grey=True)
        _picture(folder / f"{stem}_overlay.png", 3)
        _picture(folder / f"{stem}_uncertainty.png", 4)
    with (folder / CSV_NAME).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({"id": stem, "status": "ok"} for stem in stems)
    batch._ok_ids_of.cache_clear()
    assert collect_inputs([folder], recursive=True) == []
    assert batch._ok_ids_of.cache_info().misses == 1


def test_an_id_cut_at_its_length_is_already_safe(tmp_path: Path) -> None:
    """safe_id(safe_id(x)) == safe_id(x): the writer sanitises the id again, so an id cut
    just after a '-' once named one file for two images."""
    from mobilegan.inference.batch import safe_id

    ids = UniqueIds()
    first, second = ids("a" * 149 + "-x"), ids("a" * 149)
    assert first != second
    for made in (first, second, safe_id("b" * 149 + "._x")):
        assert safe_id(made) == made and len(made) <= ID_CHARS
