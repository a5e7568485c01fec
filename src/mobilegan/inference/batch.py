"""Segment a stream of files into a folder: masks in ISIC submission naming, one
``results.csv``, overlays in ``overlays/`` and uncertainty maps in ``uncertainty/`` (so that
the folder itself is a submission the official scorer takes: it refuses a folder where two
files name one image).

Files are read ``batch_size`` at a time (fewer when they are large: see
``segmenter.BATCH_PIXELS``), so memory stays bounded however large the folder and its
images; a file that cannot be read or segmented becomes a CSV row with its error and
the run goes on. Output names come from sanitised, de-duplicated ids, so no input name
can write outside the output folder.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from tqdm.auto import tqdm

from mobilegan.data.layouts import IMAGE_SUFFIXES, folder_pairs, image_files, image_id
from mobilegan.inference.preprocess import read_input_file
from mobilegan.inference.result import UNCERTAINTY_DESCRIPTION, SegmentationResult
from mobilegan.inference.segmenter import ends_batch, is_int

CSV_NAME = "results.csv"
CSV_FIELDS = ["id", "source", "width", "height", "area_pixels", "area_percent",
              "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "confidence", "low_confidence",
              "review_reason", "status", "error"]
#: Tables written by earlier versions, still recognised as this tool's (to be replaced with
#: --overwrite, or skipped as outputs when a folder is read again).
EARLIER_CSV_FIELDS = ([f for f in CSV_FIELDS if f != "review_reason"],)


def is_our_table(fields: Sequence[str] | None) -> bool:
    """Whether a CSV header is that of a ``results.csv`` this tool writes, or wrote."""
    return fields is not None and (list(fields) == CSV_FIELDS
                                   or list(fields) in EARLIER_CSV_FIELDS)


#: Letters and digits of any script (``\\w``), '.', '_' and '-': ``患者.jpg`` and
#: ``läsion.jpg`` keep names that tell them apart.
_UNSAFE = re.compile(r"[^\w.-]+")


def _kept_characters(name: str) -> str:
    """``name`` in NFC with every run of unsafe characters made one '_'. Combining marks
    are kept with the letters they sit on: ``\\w`` holds none, and Devanagari or Thai
    vowels are marks (``रोगी`` became ``र_ग``, and ``किला`` and ``कुला`` one id); macOS
    spells ``café`` with a mark (NFD), which NFC folds into the letter."""
    text = unicodedata.normalize("NFC", name)
    kept = "".join(c if _UNSAFE.fullmatch(c) is None or unicodedata.category(c).startswith("M")
                   else "\0" for c in text)
    return re.sub("\0+", "_", kept)


#: Longest id in characters, and in UTF-8 bytes (83 CJK characters, 249 bytes, made a
#: 266-byte mask name).
ID_CHARS, ID_BYTES = 150, 200


def safe_id(raw: str) -> str:
    """An id usable as a file name: no separators, no '..', no leading dot, not empty, and
    no leading '-' (a spreadsheet reads ``-2-3`` as a sum; the id is a CSV cell too)."""
    text = _kept_characters(raw.replace("\\", "/").split("/")[-1])
    text = re.sub(r"\.{2,}", "_", text).strip("._-") or "image"
    # Stripped again after the cut, so that safe_id(safe_id(x)) == safe_id(x): the files
    # are written under the id sanitised once more, and two ids that differed only by a
    # cut-off '-' shared one mask file.
    return _shortened(text).rstrip("._-")


def _shortened(text: str, room: int = 0) -> str:
    """``text`` cut to fit a file name with ``room`` characters still to add: file names
    are limited in bytes (255 on most file systems) and '<id>_uncertainty.png' must fit,
    so ids keep at most ID_CHARS characters and ID_BYTES bytes of UTF-8."""
    return text[:ID_CHARS - room].encode("utf-8")[:ID_BYTES - room].decode("utf-8", "ignore")


class UniqueIds:
    """Hands out safe ids, suffixing ``_2``, ``_3``... when two inputs share a name."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def __call__(self, raw: str) -> str:
        base = safe_id(raw)
        name, n = base, 1
        while name.lower() in self._taken:  # case-insensitive file systems collide too
            n += 1
            suffix = f"_{n}"  # room is made for it: a longest id keeps its suffix
            name = _shortened(base, len(suffix)).rstrip("._-") + suffix
        self._taken.add(name.lower())
        return name


@dataclass
class FoundInputs:
    """What the paths given to ``mobilegan segment`` hold."""

    images: list[Path] = field(default_factory=list)
    #: Files in the folders searched that are not images this tool reads (notes, HEIC
    #: photos, broken links): named on the terminal, not segmented.
    left_out: list[Path] = field(default_factory=list)
    #: Subfolders not searched (without ``recursive``).
    unsearched: list[Path] = field(default_factory=list)
    #: Links to folders outside the folders given (never followed).
    outside: list[Path] = field(default_factory=list)
    #: Folders that could not be read (permission denied).
    unreadable: list[Path] = field(default_factory=list)
    #: Folders given that held no image.
    empty: list[Path] = field(default_factory=list)


def find_inputs(paths: Iterable[str | Path], recursive: bool = False) -> FoundInputs:
    """Files as given; a folder as its images. A data set's folder (ISIC's official layouts,
    PH2's per-image folders, ``images/`` + ``masks/``) gives its images and never its
    masks; every folder also gives the image files directly in it, less ground-truth masks
    (``<id>_segmentation``), ISIC superpixel and attribute files and the overlays and
    uncertainty maps of an earlier run. With ``recursive`` the other subfolders are searched
    the same way: never hidden ones, a layout's image and mask folders (its images are taken
    once, its masks never) or a link leading outside the folders given. A file met twice
    (given, and in a folder given) is segmented once. Missing paths are kept, so that the
    run reports them rather than forgetting them."""
    found = FoundInputs()
    given = [Path(raw) for raw in paths]
    search = _Search(found, recursive, [p.resolve() for p in given if p.is_dir()])
    for path in given:
        if not path.is_dir():
            found.images.append(path)
        elif _identity(path) not in search.seen:  # a folder given twice is searched once
            before = len(found.images)
            search.folder(path)
            if len(found.images) == before and path not in found.unreadable:
                found.empty.append(path)
    once: dict[Path, Path] = {}
    for image in found.images:
        once.setdefault(_file_key(image), image)
    found.images = list(once.values())
    return found


def _file_key(image: Path) -> Path:
    """One key for every spelling of one file name (``a.jpg``, ``./a.jpg``, a linked
    folder's ``a.jpg``), but not for a link with a name of its own: ``b.jpg -> a.jpg`` is
    another name, so it gets its own mask (its target was once dropped for it, silently)."""
    try:
        return image.parent.resolve() / image.name
    except (OSError, RuntimeError):  # unresolvable (3.11 raises RuntimeError for a link
        return image                    # loop): kept, and reported when read


def collect_inputs(paths: Iterable[str | Path], recursive: bool = False) -> list[Path]:
    """The images of :func:`find_inputs`."""
    return find_inputs(paths, recursive).images


def _identity(folder: Path) -> tuple[int, int]:
    """A folder as the file system knows it: one key for every spelling of its path (a
    link, ``Masks`` or ``masks`` on a case-insensitive disk)."""
    info = folder.stat()
    return info.st_dev, info.st_ino


@dataclass
class _Search:
    """One walk over the folders given: ``seen`` holds every folder searched or owned by a
    layout (never entered again), ``taken`` the image folders whose files were taken."""

    found: FoundInputs
    recursive: bool
    roots: list[Path]
    seen: set[tuple[int, int]] = field(default_factory=set)
    taken: set[tuple[int, int]] = field(default_factory=set)

    def folder(self, start: Path) -> None:
        """Search ``start`` and, with ``recursive``, its subfolders depth first (a stack,
        not recursion: a deep tree must not reach Python's recursion limit)."""
        pending = [start]
        while pending:
            folder = pending.pop()
            if folder != start and _identity(folder) in self.seen:  # met by another way
                continue
            pending.extend(reversed(self._visit(folder)))

    def _visit(self, folder: Path) -> list[Path]:
        """Take ``folder``'s images; returns the subfolders still to search."""
        self.seen.add(_identity(folder))
        try:
            pairs = folder_pairs(folder)
        except PermissionError:
            self.found.unreadable.append(folder)
            return []
        image_folders = [images for _split, images, _masks in pairs if images.is_dir()]
        # A layout's own folders: its image and mask folders, and PH2's per-image folders
        # (they hold nothing else); a train/ or test/ folder is searched as any other.
        owned = {part for _split, images, masks in pairs
                 for part in (images, masks,
                              *(_between(images, folder) if _is_ph2(images) else ()))
                 if part is not None and part != folder and part.is_dir()}
        self.seen.update(_identity(part) for part in owned)
        if folder not in image_folders:  # a layout's subfolder (``images/``, ``test/``...)
            image_folders.insert(0, folder)  # was found: the images beside it still count
        subfolders: list[Path] = []
        for images_folder in image_folders:
            if _identity(images_folder) not in self.taken:
                self.taken.add(_identity(images_folder))
                subfolders += self._take(images_folder)
        return subfolders

    def _take(self, folder: Path) -> list[Path]:
        try:
            entries = sorted(folder.iterdir())
            taken = set(image_files(folder))
        except PermissionError:
            self.found.unreadable.append(folder)
            return []
        self.found.images.extend(image for image in sorted(taken) if not _is_own_output(image))
        subfolders = []
        for entry in entries:
            if entry.name.startswith(".") or entry in taken or entry.name in _RUN_FILES:
                continue
            if entry.is_dir():
                if _identity(entry) in self.seen:
                    continue
                if not any(entry.resolve().is_relative_to(root) for root in self.roots):
                    self.found.outside.append(entry)
                elif self.recursive:
                    subfolders.append(entry)
                elif self._holds_more(entry):
                    self.found.unsearched.append(entry)
            elif not entry.exists() or entry.suffix.lower() not in _KNOWN_SUFFIXES:
                self.found.left_out.append(entry)  # another format, or a link to nothing
        return subfolders

    def _holds_more(self, folder: Path) -> bool:
        """Whether a recursive search of ``folder`` would add or name anything: an image, a
        file it leaves out (HEIC...), a subfolder not yet met. A split folder holding only
        its layout's images/ and masks/ would not, nor one of ground-truth files alone
        (ISIC 2018 Task 2's attribute masks) or an earlier run's outputs."""
        try:
            return any(not _is_own_output(image) for image in image_files(folder)) or any(
                not entry.name.startswith(".") and (
                    _identity(entry) not in self.seen and not _only_own_outputs(entry)
                    if entry.is_dir() else entry.suffix.lower() not in _KNOWN_SUFFIXES)
                for entry in folder.iterdir())
        except PermissionError:
            return True


def _only_own_outputs(folder: Path) -> bool:
    """An ``overlays/`` or ``uncertainty/`` folder of a run, holding that run's pictures
    and nothing else."""
    if folder.name not in OUTPUT_FOLDERS.values():
        return False
    entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
    return all(entry.is_file() and _is_own_output(entry) for entry in entries)


def _is_ph2(images: Path) -> bool:
    return images.name.endswith("_Dermoscopic_Image")


def _between(inner: Path, outer: Path) -> list[Path]:
    """The folders from ``inner``'s parent up to, not including, ``outer``."""
    parents = []
    for parent in inner.parents:
        if parent == outer:
            return parents
        parents.append(parent)
    return []


#: Files that are inputs, or sit beside them in data sets and runs (masks, superpixels,
#: metadata, notes) and are not worth a word when left out.
_KNOWN_SUFFIXES = IMAGE_SUFFIXES | {".csv", ".json", ".txt", ".md"}


#: The kinds of file :func:`write_outputs` writes, as the suffix of ``<id>_<kind>.png``.
_OUTPUT_NAME = re.compile(r"_(segmentation|overlay|uncertainty)$", re.IGNORECASE)
#: The subfolder of ``--out`` each picture kind is written to (the masks stay at the top).
#: isic-challenge-scoring matches every file of the folder whose name holds an image's
#: number and refuses two: overlays beside the masks made every default run unscoreable.
OUTPUT_FOLDERS = {"overlay": "overlays", "uncertainty": "uncertainty"}


def output_path(out: Path, image_id: str, kind: str) -> Path:
    """Where :func:`write_outputs` puts ``<id>_<kind>.png``: the mask in ``out``, the
    pictures in their subfolder of it."""
    folder = out / OUTPUT_FOLDERS[kind] if kind in OUTPUT_FOLDERS else out
    return folder / f"{image_id}_{kind}.png"


def _is_own_output(path: Path) -> bool:
    """An overlay or uncertainty map of an earlier run (``--out`` pointed at an input
    folder): ``<id>_overlay.png`` with its ``<id>_segmentation.png`` beside it, marked as
    this tool's in its PNG text. A user's own ``mole_overlay.jpg``, or an unmarked
    ``x_overlay.png`` beside a ground-truth mask, is still an image (it was dropped without
    a word when the name alone decided)."""
    match = _OUTPUT_NAME.search(path.stem)
    if match is None or match.group(1).lower() == "segmentation" or path.suffix.lower() != ".png":
        return False
    stem = path.stem[:match.start()]
    # In its subfolder of the run's folder, or beside the mask (versions before 2026-11-30).
    in_subfolder = path.parent.name == OUTPUT_FOLDERS[match.group(1).lower()]
    run_folder = path.parent.parent if in_subfolder else path.parent
    if not (run_folder / f"{stem}_segmentation.png").is_file():
        return False
    # Outputs of versions before the mark: an ok row of the folder's own results.csv, as
    # OutputGuard knows them.
    return _written_by_us(path) or stem in _ok_ids(run_folder)


def _ok_ids(folder: Path) -> frozenset[str]:
    """Ids of the ``ok`` rows of ``folder``'s ``results.csv`` if this tool wrote it, read
    once per version of the file (a folder search asks for each unmarked output: 4,000
    reads of a 2,000-row table took half a minute)."""
    path = folder / CSV_NAME
    try:
        stat = path.stat()
    except OSError:
        return frozenset()
    return _ok_ids_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _ok_ids_of(path: Path, _mtime_ns: int, _size: int) -> frozenset[str]:
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.DictReader(handle)
            if not is_our_table(reader.fieldnames):
                return frozenset()
            return frozenset(safe_id(row["id"]) for row in reader if row.get("status") == "ok")
    except (OSError, csv.Error):
        return frozenset()


#: Failures whose messages a summary keeps for the terminal (all of them are in the CSV).
SHOWN_ERRORS = 5


@dataclass
class BatchSummary:
    succeeded: int
    failed: int
    csv_path: Path
    first_errors: list[str] = field(default_factory=list)  # "source: error", at most SHOWN_ERRORS


def segment_files(segmenter: Any, paths: list[Path], out_dir: str | Path, batch_size: int = 8,
                  progress: bool = True, overlays: bool = True,
                  max_pixels: int | None = None, overwrite: bool = False,
                  record: dict[str, Any] | None = None) -> BatchSummary:
    """Segment ``paths`` into ``out_dir``; rows reach the CSV as each batch finishes.
    Images over ``max_pixels`` (None: the segmenter's own ``max_pixels``, else 50 M) are
    error rows, as possible decompression bombs.
    A folder holding an earlier run's results is refused unless ``overwrite``, which first
    removes that run's own outputs (so the folder then holds this run's only). ``record``
    (settings, weights...) is written to :data:`RECORD_NAME` with the counts."""
    if not is_int(batch_size) or batch_size < 1:
        # 0 would give empty chunks: every image silently skipped, an empty table
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if max_pixels is None:
        max_pixels = getattr(segmenter, "max_pixels", None)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the output {out} is a file, not a folder: name a folder "
                                 f"for the masks, overlays and results.csv (made if missing)")
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        # Before anything is written: a foreign results.csv, or an earlier run's without
        # ``overwrite``, stops here.
        guard = OutputGuard(out, overwrite)
        summary = _segment_into(segmenter, paths, out, guard, batch_size, progress, overlays,
                                max_pixels)
        if record is not None:
            write_record(out, {**record, "images": len(paths), "succeeded": summary.succeeded,
                               "failed": summary.failed})
    return summary


def _segment_into(segmenter: Any, paths: list[Path], out: Path, guard: "OutputGuard",
                  batch_size: int, progress: bool, overlays: bool,
                  max_pixels: int | None) -> BatchSummary:
    csv_path = out / CSV_NAME
    ids = UniqueIds()
    ok = failed = 0
    first_errors: list[str] = []
    # UTF-8 whatever the locale (Windows' cp1252 cannot hold most names); a file name that
    # is not valid UTF-8 (undecodable bytes on Linux) is written with backslash escapes
    # instead of ending the run.
    with csv_path.open("w", newline="", encoding="utf-8", errors="backslashreplace") as handle, \
            tqdm(total=len(paths), unit="img", desc="segmenting", disable=not progress) as bar:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for chunk in _chunks(paths, batch_size):
            for row in _segment_chunk(segmenter, chunk, ids, out, overlays, guard, max_pixels,
                                      bar.update):
                # Ids need no guard: safe_id keeps letters, digits, '.', '_' and an inner '-'.
                writer.writerow(with_text_cells(row, ("source", "error")))
                ok += row["status"] == "ok"
                failed += row["status"] != "ok"
                if row["status"] != "ok" and len(first_errors) < SHOWN_ERRORS:
                    first_errors.append(f"{row['source']}: {row['error']}")
            handle.flush()
    return BatchSummary(ok, failed, csv_path, first_errors)


def _chunks(paths: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(paths), size):
        yield paths[start:start + size]


def _segment_chunk(segmenter: Any, chunk: list[Path], ids: UniqueIds, out: Path,
                   overlays: bool, guard: "OutputGuard | None" = None,
                   max_pixels: int | None = None,
                   done: Callable[[int], object] = lambda count: None) -> list[dict[str, Any]]:
    """Rows for one chunk, in input order; only readable images reach the network, in
    batches of at most :data:`~mobilegan.inference.segmenter.BATCH_PIXELS` pixels.
    ``done(n)`` is told as each file is finished with (a progress bar that moved once
    per chunk stood still for half a minute over eight camera-size originals)."""
    rows: list[dict[str, Any]] = []
    images: dict[int, np.ndarray] = {}
    for i, path in enumerate(chunk):
        rows.append({"id": ids(image_id(path)), "source": str(path), "status": "ok", "error": ""})
        try:
            image = read_input_file(path, max_pixels)
        except Exception as error:  # noqa: BLE001 - every bad file is reported, not fatal
            _fail(rows[i], error)
            done(1)
            continue
        if ends_batch(images.values(), image):
            _segment_read(segmenter, images, rows, out, overlays, guard)
            done(len(images))
            images = {}
        images[i] = image
    _segment_read(segmenter, images, rows, out, overlays, guard)
    done(len(images))
    return rows


def _segment_read(segmenter: Any, images: dict[int, np.ndarray], rows: list[dict[str, Any]],
                  out: Path, overlays: bool, guard: "OutputGuard | None") -> None:
    """Segment the read ``images`` (keyed by row) in one call and fill in their rows."""
    if not images:
        return
    try:
        results = segmenter.predict_batch(list(images.values()),
                                          [rows[i]["id"] for i in images])
    except Exception as error:  # noqa: BLE001
        for i in images:
            _fail(rows[i], error)
        return
    for i, result in zip(images, results):
        try:
            write_outputs(result, images[i], out, overlays, guard)
        except Exception as error:  # noqa: BLE001 - a full disk etc.: say so per file
            _fail(rows[i], error)
            continue
        rows[i].update(result.to_row())


#: First characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text: a file named
    ``=HYPERLINK(...).jpg`` would otherwise run as a formula when the CSV is opened
    (CSV injection), so a cell starting like a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def from_spreadsheet_text(text: str) -> str:
    """The text :func:`spreadsheet_text` guarded, as it was."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def with_text_cells(row: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``row`` with the free-text cells named by ``keys`` (a file's name, an error
    message) guarded by :func:`spreadsheet_text`; other cells as they are."""
    keys = set(keys)
    return {key: spreadsheet_text(value) if key in keys and isinstance(value, str) else value
            for key, value in row.items()}


def _fail(row: dict[str, Any], error: Exception) -> None:
    row["status"] = "error"
    row["error"] = f"{type(error).__name__}: {error}"


def write_outputs(result: SegmentationResult, image: np.ndarray, out: Path,
                  overlay: bool = True, guard: "OutputGuard | None" = None) -> list[Path]:
    """``<id>_segmentation.png`` (0/255, original size) in ``out``, ``overlays/<id>_overlay
    .png`` and, when sampled, ``uncertainty/<id>_uncertainty.png`` (:func:`output_path`);
    the id is sanitised again here. With a ``guard``, nothing is written if any of them
    would replace a file this tool did not write."""
    name = safe_id(result.id or "image")
    # (path, drawing, what the picture is for its PNG text if it needs saying, zlib level)
    pictures = [(output_path(out, name, "segmentation"), result.mask_image, None,
                 MASK_COMPRESS_LEVEL)]
    if overlay:
        pictures.append((output_path(out, name, "overlay"), lambda: result.overlay(image), None,
                         PICTURE_COMPRESS_LEVEL))
    if result.uncertainty is not None:
        pictures.append((output_path(out, name, "uncertainty"), result.uncertainty_image,
                         UNCERTAINTY_DESCRIPTION, PICTURE_COMPRESS_LEVEL))
    for path, *_ in pictures:
        if path.parent != out and path.parent.is_symlink():  # it could lead anywhere
            raise FileExistsError(f"{path.parent} is a symbolic link: not followed (choose "
                                  f"another --out)")
        if guard is not None:
            guard.check(path)
    for path, draw, about, level in pictures:
        path.parent.mkdir(exist_ok=True)
        draw().save(path, pnginfo=_signature(about), compress_level=level)
    return [path for path, *_ in pictures]


#: zlib levels of the PNGs :func:`write_outputs` writes. The mask, the result itself, is
#: compressed as usual; pictures to look at are stored fast: zlib's default level spent
#: most of a 27-megapixel original's time on its overlay (8.7 s per image against 3.4 s
#: at level 1, for a file 18% larger; results/cpu/large_images.md).
MASK_COMPRESS_LEVEL = 6
PICTURE_COMPRESS_LEVEL = 1


#: PNG text chunk that marks a file as this tool's output (a later run may replace it).
WRITER_KEY, WRITER = "Software", "mobilegan segment"


def _signature(description: str | None = None) -> PngInfo:
    info = PngInfo()
    info.add_text(WRITER_KEY, WRITER)
    if description:
        info.add_text("Description", description)
    return info


class OutputGuard:
    """Lets a run replace only what ``mobilegan segment`` wrote. A folder holding an earlier
    run's ``results.csv`` is refused unless ``overwrite``, which removes that run's outputs
    first (its table would otherwise lose the earlier rows and keep masks no row names);
    a ground-truth ``<id>_segmentation.png`` or a user's own picture in that folder
    (``--out`` pointed at the images) is never replaced: that image's row says so and the
    run goes on. Files are known as ours by :data:`WRITER` in their PNG text, or (outputs
    of versions before the mark) by an ``ok`` row of the folder's own ``results.csv``; a
    ``results.csv`` that is not ours stops the run first."""

    def __init__(self, out: Path, overwrite: bool = False) -> None:
        # An earlier run (refused unless ``overwrite``) leaves nothing of its own behind, so
        # what :meth:`check` later meets is this run's or not ours.
        for row in earlier_run(out, overwrite) or []:  # its own files only: a truth stays
            image_id = safe_id(row["id"])
            for kind in ("segmentation", "overlay", "uncertainty"):
                # where this version writes it, and beside the mask as versions before did
                for path in {output_path(out, image_id, kind), out / f"{image_id}_{kind}.png"}:
                    if path.is_file() and not path.is_symlink() and (
                            _written_by_us(path) or row.get("status") == "ok"):
                        path.unlink()

    def check(self, path: Path) -> None:
        if not path.exists() and not path.is_symlink():
            return
        if path.is_file() and not path.is_symlink() and _written_by_us(path):
            return
        raise FileExistsError(f"{path} exists and was not written by mobilegan segment: "
                              f"not replaced (choose another --out)")


def earlier_run(out: str | Path, overwrite: bool = False) -> list[dict[str, str]] | None:
    """The rows of an earlier run's ``results.csv`` in ``out`` (None: there is none);
    FileExistsError if there is one and not ``overwrite``, or a ``results.csv`` that is not
    this tool's. Cheap: ``mobilegan segment`` asks before loading the network."""
    csv_path = Path(out) / CSV_NAME
    refuse_if_being_written(Path(out))
    _check_run_files(Path(out))
    if not csv_path.exists():
        return None
    try:
        with csv_path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames, list(reader)
    except (OSError, csv.Error) as error:
        raise FileExistsError(f"{csv_path} exists and cannot be read ({error}); "
                              f"choose another --out") from error
    if not is_our_table(fields):
        raise FileExistsError(f"{csv_path} exists and was not written by mobilegan "
                              f"segment: not replaced; choose another --out")
    if not overwrite:
        raise FileExistsError(f"{out} holds an earlier run's results ({csv_path}, {len(rows)} "
                              f"rows): not replaced; pass --overwrite to replace that run's "
                              f"outputs, or choose another --out")
    return rows


def _check_run_files(out: Path) -> None:
    """The table and the run record are written whole, so they must be this tool's to
    replace: a symbolic link (it could point outside ``out``) or a ``segment_run.json`` of
    someone else's stops the run before anything is written."""
    for name in (CSV_NAME, RECORD_NAME):
        if (out / name).is_symlink():
            raise FileExistsError(f"{out / name} is a symbolic link: not followed or "
                                  f"replaced; choose another --out")
    record = out / RECORD_NAME
    if record.exists() and not _is_our_record(record):
        raise FileExistsError(f"{record} exists and was not written by mobilegan segment: "
                              f"not replaced; choose another --out")


def _is_our_record(path: Path) -> bool:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and RECORD_KEYS <= record.keys()


#: Held in ``--out`` while a run writes there: a second run into it stops instead of
#: mixing its rows and masks with the first's.
LOCK_NAME = ".mobilegan-segment.lock"


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """``out`` for this process alone. A lock left by a run that died (its process is
    gone) is taken over, on POSIX; elsewhere the message says to delete it."""
    lock = out / LOCK_NAME
    for attempt in (1, 2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            pid = _lock_owner(lock)
            if attempt == 1 and _left_by_a_dead_run(pid):
                lock.unlink(missing_ok=True)
                continue
            raise _busy(out, pid) from None
    try:
        os.write(handle, str(os.getpid()).encode())
        os.close(handle)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _busy(out: Path, pid: int | None) -> FileExistsError:
    return FileExistsError(
        f"another mobilegan segment ({f'process {pid}' if pid else 'unknown process'}) is "
        f"writing into {out}: wait for it or choose another --out (if no run is going, "
        f"delete {out / LOCK_NAME})")


def refuse_if_being_written(out: Path) -> None:
    """The lock's own refusal, said first: a run still writing was once reported as "an
    earlier run's results ... pass --overwrite", and only that option then gave the reason."""
    lock = out / LOCK_NAME
    if lock.exists():
        pid = _lock_owner(lock)
        if pid != os.getpid() and not _left_by_a_dead_run(pid):  # (this run's own lock)
            raise _busy(out, pid)


def _left_by_a_dead_run(pid: int | None) -> bool:
    """A lock whose owner is known and gone: taken over, not obeyed (an unreadable owner
    counts as alive)."""
    return pid is not None and not _alive(pid)


def _lock_owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if os.name != "posix":  # Windows' os.kill ends the process: never probe it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


#: The run's settings and provenance, beside results.csv.
RECORD_NAME = "segment_run.json"
#: Keys every run record holds (how an existing ``segment_run.json`` is known as ours).
RECORD_KEYS = frozenset({"images", "succeeded", "failed"})


#: Files a run itself keeps in a folder (``--out`` pointed at the images): not left out.
_RUN_FILES = {CSV_NAME, RECORD_NAME, LOCK_NAME}


def write_record(out: Path, record: dict[str, Any]) -> Path:
    path = out / RECORD_NAME
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _written_by_us(path: Path) -> bool:
    """Whether ``path`` carries :data:`WRITER` in its PNG text. Read from the chunks before
    the pixels (where Pillow writes them): ``.text`` would decode the whole image, 0.2 s
    for a camera-size overlay, for each file a folder search meets."""
    try:
        with Image.open(path) as existing:
            return existing.format == "PNG" and existing.info.get(WRITER_KEY) == WRITER
    except Exception:  # noqa: BLE001 - unreadable: not known to be ours
        return False
