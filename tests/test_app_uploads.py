"""The in-memory multipart reader and the upload limits, without a server."""

from __future__ import annotations

import pytest

pytest.importorskip("python_multipart", reason="the web extras: pip install 'mobilegan[app]'")

from mobilegan.app.uploads import (MultipartReader, RequestRejected, UploadLimits,  # noqa: E402
                                   upload_id)

BOUNDARY = "----mobilegan-test"


def _body(*parts: tuple[str, str | None, bytes]) -> bytes:
    """multipart/form-data with (field name, filename or None, content) parts."""
    chunks = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head = (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n")
        chunks.append(head.encode() + content + b"\r\n")
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


def _read(body: bytes, limits: UploadLimits, chunk: int = 7):
    reader = MultipartReader(f"multipart/form-data; boundary={BOUNDARY}", limits)
    for start in range(0, len(body), chunk):  # tiny chunks: parts span many of them
        reader.feed(body[start:start + chunk])
    return reader.finish()


def test_files_are_collected_in_memory_and_fields_ignored():
    body = _body(("files", "a.jpg", b"A" * 100), ("note", None, b"hello"),
                 ("files", "b.png", b"\x00\r\n--x" * 10))
    uploads = _read(body, UploadLimits())
    assert [(u.filename, u.size, u.error) for u in uploads] == [("a.jpg", 100, None),
                                                               ("b.png", 60, None)]
    assert uploads[1].data == b"\x00\r\n--x" * 10


def test_a_file_sent_without_a_plain_filename_is_still_an_image():
    """`curl -F "files=<x.jpg"` sends the bytes with no file name, and some clients name a
    file by RFC 5987's filename* alone: both were "no image in the upload", the first while
    its part was named 'files' as the message asked."""
    unnamed = _read(_body(("files", None, b"J" * 50)), UploadLimits())
    assert [(u.filename, u.size) for u in unnamed] == [("unnamed", 50)]
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename*=UTF-8''%E6%82%A3.jpg\r\n\r\n").encode()
    [extended] = _read(head + b"K" * 20 + f"\r\n--{BOUNDARY}--\r\n".encode(), UploadLimits())
    assert extended.filename == "患.jpg" and extended.size == 20
    with pytest.raises(RequestRejected, match="curl -F files=@image.jpg"):
        _read(_body(("note", None, b"x" * 300_000)), UploadLimits(), chunk=65536)


@pytest.mark.parametrize("sent", ["a%22b%0D%0Ac.png", "a%22b%0d%0ac.png"])
def test_the_three_codes_browsers_use_in_file_names_are_decoded(sent):
    """WHATWG browsers, curl and httpx send '"', CR and LF as %22, %0D, %0A (either case)."""
    [upload] = _read(_body(("files", sent, b"x")), UploadLimits())
    assert upload.filename == 'a"b\r\nc.png'


def test_a_file_over_the_size_limit_gets_an_error_and_its_bytes_are_dropped():
    limits = UploadLimits(max_file_bytes=1000)
    uploads = _read(_body(("files", "big.jpg", b"x" * 5000), ("files", "ok.jpg", b"y" * 10)),
                    limits)
    big, ok = uploads
    assert big.size == 5000 and big.data == b"" and "--max-upload-mb" in big.error
    assert ok.error is None and ok.data == b"y" * 10


def test_too_many_files_or_bytes_reject_the_request_with_413():
    limits = UploadLimits(max_file_bytes=1000, max_files=2)
    with pytest.raises(RequestRejected) as too_many:
        _read(_body(*[("files", f"{i}.jpg", b"x") for i in range(3)]), limits)
    assert too_many.value.status == 413 and "at most 2" in too_many.value.message
    with pytest.raises(RequestRejected) as too_big:
        _read(_body(("files", "huge.jpg", b"x" * limits.max_request_bytes)), limits, chunk=65536)
    assert too_big.value.status == 413


def test_not_multipart_is_a_400():
    with pytest.raises(RequestRejected) as error:
        MultipartReader("application/json", UploadLimits())
    assert error.value.status == 400
    reader = MultipartReader(f"multipart/form-data; boundary={BOUNDARY}", UploadLimits())
    with pytest.raises(RequestRejected) as garbage:
        reader.feed(b"this is not multipart at all")
    assert garbage.value.status == 400


@pytest.mark.parametrize("filename, expected", [
    ("ISIC_0012152.jpg", "ISIC_0012152"),
    ("C:\\Users\\dr\\scan 1.JPG", "scan_1"),
    ("../../etc/passwd", "passwd"),
    (".hidden", "hidden"),
    ("", "image"),
    ("été.png", "été"),  # letters of any script are kept: names stay told apart
    ("日本.jpg", "日本"),
    ("-1-1.jpg", "1-1"),  # never a leading '-', a minus sign in a spreadsheet
    ("lesion.v2.final.jpg", "lesion.v2.final"),  # only the last suffix goes
])
def test_upload_ids_are_safe_file_stems(filename, expected):
    assert upload_id(filename) == expected


def test_limits_from_megabytes():
    limits = UploadLimits.from_megabytes(0.5, 1000, 3)
    assert limits.max_file_bytes == 512 * 1024 and limits.max_pixels == 1000
    with pytest.raises(ValueError, match="--max-upload-mb must be a positive number"):
        UploadLimits.from_megabytes(0, 1000)
    with pytest.raises(ValueError, match="--max-requests must be a positive number"):
        UploadLimits.from_megabytes(1, 1000, 3, 0)
    with pytest.raises(ValueError, match="max_requests must be positive"):
        UploadLimits(max_requests=0)  # every upload would wait for ever
    # inf crashed in int(); 1e-9 MB is no byte at all
    with pytest.raises(ValueError, match="--max-upload-mb must be a positive number, got inf"):
        UploadLimits.from_megabytes(float("inf"), 1000)
    with pytest.raises(ValueError, match="--max-upload-mb must allow at least one byte"):
        UploadLimits.from_megabytes(1e-9, 1000)
    # messages show the limit as typed, not 0.0499992
    assert UploadLimits.from_megabytes(0.05, 1000).max_upload_mb == 0.05
    assert UploadLimits.from_megabytes(20, 1000).max_upload_mb == 20
    # ... and the limit is the one shown: 1.23456 MB shown as 1.235 let the page pass a file
    # the server then refused "over 1.235 MB"
    odd = UploadLimits.from_megabytes(1.23456, 1000)
    assert odd.max_upload_mb == 1.235 and odd.max_file_bytes == round(1.235 * 1024 * 1024)


def test_a_body_cut_off_before_its_closing_boundary_is_not_passed_on_as_whole():
    """python-multipart's finalize() does not check the closing boundary: the first bytes of
    a file cut off mid-way were handed on as the whole image. Parts that ended keep their
    bytes; the cut one gets an error; a body with no whole part at all is a 400."""
    whole = _body(("files", "a.jpg", b"A" * 100), ("files", "b.jpg", b"B" * 100))
    cut = whole[:whole.rindex(b"B" * 100) + 40]  # stops 60 bytes into b.jpg
    first, second = _read(cut, UploadLimits())
    assert (first.filename, first.data, first.error) == ("a.jpg", b"A" * 100, None)
    assert second.filename == "b.jpg" and "cut off" in second.error and second.data == b""
    assert all(u.error is None for u in _read(whole, UploadLimits()))  # the same body, whole
    no_end = whole[:-len(f"--{BOUNDARY}--\r\n")]  # both files whole, the closing line missing
    assert [u.error is None for u in _read(no_end, UploadLimits())] == [True, False]
    with pytest.raises(RequestRejected) as nothing_whole:
        _read(whole[:whole.index(b"A" * 100) + 10], UploadLimits())
    assert nothing_whole.value.status == 400 and "incomplete" in nothing_whole.value.message
