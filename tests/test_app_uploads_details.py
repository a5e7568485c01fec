"""Edges of the upload limits, messages and kept names (app.uploads), without a server."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from mobilegan.app.uploads import (RequestRejected, Upload, UploadLimits, decode_upload,
                                   keep_upload, upload_id)
from tests.test_app_uploads import BOUNDARY, _body

def _read(body: bytes, limits: UploadLimits, chunk: int = 4096) -> list[Upload]:
    pytest.importorskip("python_multipart", reason="the web extras: pip install 'mobilegan[app]'")
    from mobilegan.app.uploads import MultipartReader

    reader = MultipartReader(f"multipart/form-data; boundary={BOUNDARY}", limits)
    for start in range(0, len(body), chunk):
        reader.feed(body[start:start + chunk])
    return reader.finish()


def _png(seed: int = 0, side: int = 12) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(filename: str, data: bytes) -> Upload:
    return Upload(filename=filename, size=len(data), _buffer=bytearray(data))


# -- the request-size rule -------------------------------------------------------------------

@pytest.mark.parametrize("max_files", [1, 3])
def test_files_each_exactly_at_the_limit_fit_in_one_request(max_files: int) -> None:
    """The request limit is ``max_files`` x (file limit + room for each part's multipart
    headers and boundary): the largest files allowed, as many as allowed, are never a 413."""
    limits = UploadLimits(max_file_bytes=1000, max_files=max_files)
    body = _body(*[("files", f"mole_{i}.jpg", bytes([i]) * 1000) for i in range(max_files)])
    assert len(body) > max_files * limits.max_file_bytes  # headers come on top of the bytes
    uploads = _read(body, limits)
    assert [(u.size, u.error) for u in uploads] == [(1000, None)] * max_files
    assert [u.data for u in uploads] == [bytes([i]) * 1000 for i in range(max_files)]


def test_a_body_past_the_request_limit_is_a_413_naming_the_limits() -> None:
    limits = UploadLimits(max_file_bytes=1000, max_files=1)
    body = _body(("files", "huge.jpg", b"x" * (limits.max_request_bytes + 1)))
    with pytest.raises(RequestRejected) as error:
        _read(body, limits, chunk=65536)
    assert error.value.status == 413 and "at most 1 images" in error.value.message


# -- the per-file limit ----------------------------------------------------------------------

def test_a_file_exactly_at_the_per_file_limit_decodes_and_one_byte_more_does_not() -> None:
    png = _png(seed=1)
    expected = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    exact = UploadLimits(max_file_bytes=len(png))
    [upload] = _read(_body(("files", "exact.png", png)), exact, chunk=5)
    assert upload.error is None and upload.size == len(png)
    np.testing.assert_array_equal(decode_upload(upload, exact), expected)

    under = UploadLimits(max_file_bytes=len(png) - 1)
    [upload] = _read(_body(("files", "over.png", png)), under, chunk=5)
    assert upload.size == len(png) and upload.data == b""
    assert "over.png is larger than this server's limit" in upload.error
    with pytest.raises(ValueError, match="over.png is larger than this server's limit"):
        decode_upload(upload, under)


# -- messages --------------------------------------------------------------------------------

def test_an_empty_upload_is_called_empty_not_unreadable() -> None:
    for upload in (_upload("blank.jpg", b""), *_read(_body(("files", "blank.jpg", b"")),
                                                     UploadLimits())):
        assert upload.size == 0 and upload.error is None
        with pytest.raises(ValueError) as error:
            decode_upload(upload, UploadLimits())
        message = str(error.value)
        assert message == "blank.jpg is empty (0 bytes)"
        assert "not an image" not in message


def test_a_text_chunk_bomb_is_refused_by_the_files_name() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "x" * 3_000_000, zip=True)  # 3 MB unpacked, a few kB sent
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", pnginfo=info)
    with pytest.raises(ValueError) as error:
        decode_upload(_upload("left arm.png", buffer.getvalue()), UploadLimits())
    message = str(error.value)
    assert message.startswith("left arm.png ")
    assert "compressed chunk" in message and "decompression bomb" in message
    assert "pixels" not in message


# -- plain form fields -----------------------------------------------------------------------

def test_a_plain_form_field_over_its_limit_is_a_413() -> None:
    field_limit = 64 * 1024  # form fields that are not files are ignored, but bounded
    limits = UploadLimits(max_file_bytes=1000, max_files=2)
    uploads = _read(_body(("note", None, b"n" * field_limit), ("files", "a.jpg", b"a")), limits)
    assert [(u.filename, u.data) for u in uploads] == [("a.jpg", b"a")]
    with pytest.raises(RequestRejected) as error:
        _read(_body(("note", None, b"n" * (field_limit + 1)), ("files", "a.jpg", b"a")), limits)
    assert error.value.status == 413 and "form field is too large" in error.value.message


# -- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("filename, suffix", [
    ("scan.jpeg", ".jpeg"),
    ("SCAN.JPEG", ".jpeg"),
    ("scan.tiff", ".tiff"),
    ("scan.png", ".png"),
    ("scan.jpg", ".jpg"),
    ("scan.heic", ".heic"),    # any short letters-and-digits suffix is kept as sent
    ("scan.webp2", ".webp2"),
    ("scan.abcdef", ".bin"),   # over five characters
    ("scan.tar_gz", ".bin"),   # not letters and digits only
    ("scan", ".bin"),          # none at all
    ("C:\\photos\\scan.Tiff", ".tiff"),
])
def test_kept_uploads_keep_their_suffix_or_become_bin(tmp_path: Path, filename: str,
                                                      suffix: str) -> None:
    path = keep_upload(tmp_path, _upload(filename, b"bytes"))
    assert path.parent == tmp_path and path.suffix == suffix
    assert path.name.endswith(f"_{upload_id(filename)}{suffix}")  # the id keeps its case
    assert path.read_bytes() == b"bytes"


@pytest.mark.parametrize("last_kept", [".", "_", "-"])
def test_a_stem_cut_to_segments_id_length_never_ends_in_punctuation(tmp_path: Path,
                                                                    last_kept: str) -> None:
    """The page cuts ids where `mobilegan segment` does (it cut at 100, segment at 150: one
    image had two ids), and never leaves punctuation last."""
    from mobilegan.inference.batch import ID_CHARS, UniqueIds

    stem = "a" * (ID_CHARS - 1) + last_kept + "b"  # the cut leaves the punctuation last
    assert upload_id(f"{stem}.jpg") == "a" * (ID_CHARS - 1) == UniqueIds()(stem)
    path = keep_upload(tmp_path, _upload(f"{stem}.jpg", b"x"))
    assert re.fullmatch(r"\d{8}-\d{6}_a{%d}\.jpg" % (ID_CHARS - 1), path.name)
    assert ".." not in path.name
